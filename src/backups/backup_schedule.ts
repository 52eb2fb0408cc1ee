/**
 * Scheduled backups (BACKUP_SCHEDULE, a cron expression parsed by croner).
 * Every replica arms a timer for the next slot; when it fires, each tries to
 * claim the slot by inserting `(job, scheduled_at)` into `scheduled_runs`
 * (unique): the one whose insert succeeds takes the backup (retention runs
 * after it, as after every backup), the others count the slot as `skipped`.
 * The run is recorded in the row (succeeded / failed, the backup's catalog
 * id), in the backup catalog (kind `scheduled`) and in the metrics.
 *
 * A slot that passed while no replica was running is **missed**: the first
 * replica to notice (at start, and before each slot) records it — one row
 * for the latest, its message counting the others — logs
 * `backup_schedule_missed` and counts it. No catch-up backup is taken: the
 * next slot runs as planned (alert on missed slots, docs/operations.md).
 *
 * Must never break: each slot is run at most once across replicas (the
 * unique row, on both dialects); a failing backup never stops the schedule.
 * The clock is injected, so tests drive two replicas with a fake one.
 * Story: docs/operations.md ("Scheduled backups").
 */
import type { Cron } from "croner";
import { parseSchedule } from "./cron.ts";
import { desc, eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { BackupRecord } from "./catalog.ts";

export const SCHEDULE_JOB = "backup";
/** setTimeout's limit: longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A timer firing this late (ms) after its slot still runs it (event-loop or suspend delays). */
const LATE_GRACE_MS = 60_000;

/** Time, injectable: the real clock, or a test's fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

export interface SchedulerDeps {
  db: Database;
  backups: { create(input: { kind: "scheduled"; createdBy: string }): Promise<BackupRecord> };
  logger: Logger;
  metrics?: Metrics;
  expression: string;
  timezone?: string;
  clock?: Clock;
  /** This replica's name in the rows (default: a random id). */
  replica?: string;
}

export type SlotOutcome = "succeeded" | "failed" | "skipped";

export class BackupScheduler {
  readonly replica: string;
  readonly #cron: Cron;
  readonly #clock: Clock;
  #timer: unknown;
  #stopped = true;
  #running: Promise<unknown> = Promise.resolve();
  /** The slot the armed timer is for. */
  #next: Date | null = null;
  /** Before any row exists, slots from this moment on count (nothing before the first start is "missed"). */
  readonly #since: number;

  constructor(private readonly deps: SchedulerDeps) {
    this.#cron = parseSchedule(deps.expression, deps.timezone);
    this.#clock = deps.clock ?? systemClock;
    this.replica = deps.replica ?? crypto.randomUUID();
    this.#since = this.#clock.now();
  }

  /** The next slots from now (for `deno task backup schedule` and logs). */
  upcoming(count: number): Date[] {
    return this.#cron.nextRuns(count, new Date(this.#clock.now()));
  }

  /** Reports missed slots, then arms the timer for the next one. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.reportMissed().catch((err) =>
      this.deps.logger.error("backup_schedule_check_failed", { error: (err as Error).message })
    );
    this.#arm();
    this.deps.logger.info("backup_schedule_started", {
      schedule: this.deps.expression,
      timezone: this.deps.timezone ?? "UTC",
      next_run: this.#next?.toISOString() ?? null,
      replica: this.replica,
    });
  }

  /** Stops the timer; waits for a backup in progress (at most `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#running.catch(() => {}),
      new Promise((r) => (t = setTimeout(r, graceMs))),
    ]);
    clearTimeout(t);
  }

  /** Settles when the slot in progress (if any) is done: for tests. */
  idle(): Promise<void> {
    return this.#running.then(() => {}, () => {});
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const next = this.#cron.nextRun(new Date(now));
    this.#next = next;
    if (!next) return;
    const wait = Math.min(Math.max(0, next.getTime() - now), MAX_TIMER_MS);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      if (this.#clock.now() < next.getTime()) return this.#arm(); // a long wait, in steps
      this.#running = this.#fire(next);
    }, wait);
  }

  async #fire(slot: Date): Promise<void> {
    try {
      const late = this.#clock.now() - slot.getTime();
      if (late > LATE_GRACE_MS) await this.reportMissed();
      else {
        await this.reportMissed(slot);
        await this.runSlot(slot);
      }
    } catch (err) {
      this.deps.logger.error("backup_schedule_failed", { error: (err as Error).message });
    } finally {
      this.#arm();
    }
  }

  /**
   * Runs one slot if this replica claims it: the backup, the row, the metrics.
   * Returns what happened here (`skipped`: another replica had claimed it).
   */
  async runSlot(slot: Date): Promise<SlotOutcome> {
    const { db, t } = this.deps.db;
    const [claimed] = await db.insert(t.scheduledRuns).values({
      job: SCHEDULE_JOB,
      scheduledAt: slot,
      status: "running",
      replica: this.replica,
      startedAt: new Date(this.#clock.now()),
    }).onConflictDoNothing().returning({ id: t.scheduledRuns.id });
    if (!claimed) {
      this.deps.metrics?.scheduledBackups.inc({ outcome: "skipped" });
      return "skipped";
    }
    const log = { scheduled_at: slot.toISOString(), replica: this.replica, run_id: claimed.id };
    this.deps.logger.info("backup_schedule_run_started", log);
    try {
      const backup = await this.deps.backups.create({ kind: "scheduled", createdBy: "schedule" });
      await db.update(t.scheduledRuns).set({
        status: "succeeded",
        backupId: backup.id,
        finishedAt: new Date(this.#clock.now()),
      }).where(eq(t.scheduledRuns.id, claimed.id));
      this.deps.metrics?.scheduledBackups.inc({ outcome: "succeeded" });
      this.deps.logger.info("backup_schedule_run_completed", {
        ...log,
        backup_id: backup.id,
        s3_key: backup.s3Key,
      });
      return "succeeded";
    } catch (err) {
      const message = (err as Error).message;
      await db.update(t.scheduledRuns).set({
        status: "failed",
        errorMessage: message.slice(0, 2000),
        finishedAt: new Date(this.#clock.now()),
      }).where(eq(t.scheduledRuns.id, claimed.id)).catch(() => {});
      this.deps.metrics?.scheduledBackups.inc({ outcome: "failed" });
      this.deps.logger.error("backup_schedule_run_failed", { ...log, error: message });
      return "failed";
    }
  }

  /**
   * Records the slots that passed without a run, up to (not including) `until` (default: now). One row
   * for the latest; the others are counted in its message and the metrics. Returns how many were missed.
   */
  async reportMissed(until?: Date): Promise<number> {
    const { db, t } = this.deps.db;
    const [last] = await db.select({ at: t.scheduledRuns.scheduledAt }).from(t.scheduledRuns)
      .where(eq(t.scheduledRuns.job, SCHEDULE_JOB)).orderBy(desc(t.scheduledRuns.scheduledAt)).limit(1);
    const from = last ? last.at.getTime() : this.#since;
    const end = until ? until.getTime() : this.#clock.now();
    const missed: Date[] = [];
    let cursor = new Date(from);
    for (let i = 0; i < 100_000; i++) {
      const n = this.#cron.nextRun(cursor);
      if (!n || n.getTime() >= end) break;
      missed.push(n);
      cursor = n;
    }
    if (missed.length === 0) return 0;
    const latest = missed[missed.length - 1];
    const now = new Date(this.#clock.now());
    const [row] = await db.insert(t.scheduledRuns).values({
      job: SCHEDULE_JOB,
      scheduledAt: latest,
      status: "missed",
      replica: this.replica,
      startedAt: now,
      finishedAt: now,
      errorMessage: missed.length > 1
        ? `${missed.length} slots missed, from ${missed[0].toISOString()} to ${latest.toISOString()}`
        : `slot ${latest.toISOString()} missed (no replica was running)`,
    }).onConflictDoNothing().returning({ id: t.scheduledRuns.id });
    if (!row) return 0; // another replica reported them
    this.deps.metrics?.scheduledBackups.inc({ outcome: "missed" }, missed.length);
    this.deps.logger.warn("backup_schedule_missed", {
      missed: missed.length,
      first: missed[0].toISOString(),
      last: latest.toISOString(),
      replica: this.replica,
    });
    return missed.length;
  }
}

/** The recorded runs, newest first (for the CLI and tests). */
export async function scheduledRuns(db: Database, limit = 20) {
  const s = db.t.scheduledRuns;
  return await db.db.select().from(s).where(eq(s.job, SCHEDULE_JOB)).orderBy(desc(s.scheduledAt)).limit(
    limit,
  );
}
