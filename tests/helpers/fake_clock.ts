/**
 * A clock tests move by hand (the `Clock` of src/backups/backup_schedule.ts, which the backup scheduler and
 * the backup sweeper take): due timers fire in time order, and each firing is awaited.
 */
import type { Clock } from "../../src/backups/backup_schedule.ts";

export class FakeClock implements Clock {
  #timers = new Map<number, { at: number; fn: () => void }>();
  #id = 0;
  constructor(public current: number) {}
  now() {
    return this.current;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.#id;
    this.#timers.set(id, { at: this.current + ms, fn });
    return id;
  }
  clearTimeout(h: unknown) {
    this.#timers.delete(h as number);
  }
  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }
  /** Moves to `to`, firing what falls due on the way; `settle` waits for what the firings started. */
  async advanceTo(to: number, settle: () => Promise<void>) {
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= to).sort((a, b) => a[1].at - b[1].at);
      if (!due.length) break;
      const at = due[0][1].at;
      this.current = Math.max(this.current, at);
      for (const [id, t] of due.filter(([, t]) => t.at === at)) {
        this.#timers.delete(id);
        t.fn();
      }
      await settle();
    }
    this.current = to;
  }
}
