/**
 * Gives memory back after a busy spell. Once the server has served requests and then had none in flight and
 * none new for `idleMs`, it runs two full garbage collections (the first frees, the second compacts, which
 * lets V8 hand the emptied pages back), once per busy spell. V8's memory reducer does this in a browser, whose
 * embedder tells it when the page goes idle; Deno never does, so a heap grown under load stayed grown (the soak
 * bench measured RSS 12–19 % over the start 30 s after its load; docs/reliability.md). Needs V8's `gc` function
 * (`deno task start` passes `--expose-gc`); without it this does nothing. Must never run while a request is in
 * flight, and never on a timer that keeps the process alive. Story: docs/reliability.md ("Soak").
 */
export interface IdleCollector {
  /** Checks once (the interval calls this; tests call it with a fake clock). True when it collected. */
  tick(): boolean;
  stop(): void;
}

export interface IdleCollectorOptions {
  /** Requests started so far (the drainer's count). */
  started: () => number;
  /** Requests in flight now. */
  inFlight: () => number;
  /** Quiet time before collecting (default 10 s). */
  idleMs?: number;
  /** V8's gc(); default `globalThis.gc` when the process runs with `--expose-gc`. */
  gc?: (() => void) | undefined;
  now?: () => number;
  /** Check every this many ms (default idleMs / 2, at least 1 s); 0: no timer (tests tick by hand). */
  intervalMs?: number;
  onCollect?: (ms: number) => void;
}

export function startIdleCollector(options: IdleCollectorOptions): IdleCollector {
  const gc = options.gc ?? (globalThis as { gc?: () => void }).gc;
  const idleMs = options.idleMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  let seen = options.started();
  let lastActivity = now();
  let dirty = false;
  const tick = () => {
    const started = options.started();
    if (started !== seen || options.inFlight() > 0) {
      // Activity since the last look (or a request still running): the quiet time starts again.
      seen = started;
      dirty = true;
      lastActivity = now();
      return false;
    }
    if (!dirty || !gc || now() - lastActivity < idleMs) return false;
    dirty = false;
    const t0 = performance.now();
    gc();
    gc();
    options.onCollect?.(performance.now() - t0);
    return true;
  };
  const every = options.intervalMs ?? Math.max(1000, idleMs / 2);
  const timer = every > 0 && gc ? setInterval(tick, every) : undefined;
  if (timer !== undefined) Deno.unrefTimer(timer);
  return { tick, stop: () => timer !== undefined && clearInterval(timer) };
}
