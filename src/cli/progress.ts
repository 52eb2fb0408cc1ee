/**
 * Progress for long CLI work (`seed --scale`, and backup, restore, verify:
 * their services report rows per batch, src/backups/row_progress.ts): on a terminal a bar redrawn
 * in place with rows,
 * rate and time left; otherwise (CI logs, pipes) a plain line every few
 * seconds. Always on stderr, so stdout stays parseable. Story: docs/cli.md ("Output").
 *
 * Must never break: the line never claims more than 100 % or a negative time
 * left, whatever the counts; nothing is drawn after `done()`.
 */

export interface ProgressState {
  label: string;
  done: number;
  /** Unknown (0 or undefined): no bar, no time left. */
  total?: number;
  unit: string;
  /** Milliseconds since the work started. */
  elapsedMs: number;
  /** How an amount is written (default: a whole number with thousands separators). */
  amount?: (n: number) => string;
  /** Secondary information appended to the line (`4.2 MiB read`). */
  detail?: string;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** `1:05`, `12 s`, `2:03:04`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** The numbers of a progress line: clamped percentage, rate per second, time left (null when unknown). */
export function progressNumbers(
  p: ProgressState,
): { percent: number | null; rate: number; leftMs: number | null } {
  const done = Math.max(0, p.done);
  const total = p.total && p.total > 0 ? p.total : null;
  const rate = p.elapsedMs > 0 ? (done * 1000) / p.elapsedMs : 0;
  const percent = total === null ? null : Math.min(100, Math.max(0, (done / total) * 100));
  const leftMs = total === null || rate <= 0
    ? null
    : Math.max(0, ((total - Math.min(done, total)) / rate) * 1000);
  return { percent, rate, leftMs };
}

/** The text after the label: `12,345/27,000 rows (45 %), 3,210 rows/s, about 5 s left`. */
export function progressText(p: ProgressState): string {
  const { percent, rate, leftMs } = progressNumbers(p);
  const f = p.amount ?? fmt;
  const count = p.total ? `${f(p.done)}/${f(p.total)} ${p.unit}` : `${f(p.done)} ${p.unit}`;
  return [
    percent === null ? count : `${count} (${Math.floor(percent)} %)`,
    `${f(rate)} ${p.unit}/s`,
    leftMs === null ? `${formatDuration(p.elapsedMs)} so far` : `about ${formatDuration(leftMs)} left`,
    ...(p.detail ? [p.detail] : []),
  ].join(", ");
}

/** A terminal line: `label [██████░░░░] 12,345/27,000 rows (45 %), …`. */
export function progressBar(p: ProgressState, width = 24): string {
  const { percent } = progressNumbers(p);
  const bar = percent === null
    ? ""
    : ` [${"█".repeat(Math.round((percent / 100) * width)).padEnd(width, "░")}]`;
  return `${p.label}${bar} ${progressText(p)}`;
}

export interface ProgressOptions {
  label: string;
  total?: number;
  unit?: string;
  /** Redraw in place (a terminal) or print a line now and then. */
  terminal: boolean;
  /** Raw output (stderr), no newline added. */
  write: (text: string) => void;
  now?: () => number;
  /** Plain mode: at most one line per this many ms (default 5 s). */
  everyMs?: number;
  amount?: (n: number) => string;
  /** Print the closing summary only when the work took at least this long or a line was drawn (default 0). */
  summaryAfterMs?: number;
  /** Secondary information, asked for at every line (`4.2 MiB read`). */
  detail?: () => string;
}

export interface Progress {
  /** Adds `n` to what is done. */
  add(n: number): void;
  /** Sets what is done (and, when it becomes known, the total). */
  update(done: number, total?: number): void;
  /** Finishes: one last line with the totals. */
  done(summary?: string): void;
}

/** Starts reporting progress. */
export function createProgress(o: ProgressOptions): Progress {
  const now = o.now ?? (() => performance.now());
  const start = now();
  const state: ProgressState = {
    label: o.label,
    done: 0,
    total: o.total,
    unit: o.unit ?? "rows",
    elapsedMs: 0,
    amount: o.amount,
  };
  const f = o.amount ?? fmt;
  const every = o.terminal ? 100 : o.everyMs ?? 5000;
  let last = start;
  let finished = false;
  let drawn = false;
  const draw = (force: boolean) => {
    if (finished) return;
    const t = now();
    if (!force && t - last < every) return;
    last = t;
    drawn = true;
    state.elapsedMs = t - start;
    state.detail = o.detail?.();
    if (o.terminal) o.write(`\r\x1b[2K${progressBar(state)}`);
    else o.write(`${state.label}: ${progressText(state)}\n`);
  };
  return {
    add(n) {
      state.done += n;
      draw(false);
    },
    update(done, total) {
      state.done = done;
      if (total !== undefined) state.total = total;
      draw(false);
    },
    done(summary) {
      if (finished) return;
      state.elapsedMs = now() - start;
      finished = true;
      if (!drawn && state.elapsedMs < (o.summaryAfterMs ?? 0)) return;
      const text = summary ??
        `${state.label}: ${f(state.done)} ${state.unit} in ${formatDuration(state.elapsedMs)}` +
          (state.elapsedMs > 0 ? ` (${f((state.done * 1000) / state.elapsedMs)} ${state.unit}/s)` : "") +
          (o.detail ? `, ${o.detail()}` : "");
      o.write(o.terminal ? `\r\x1b[2K${text}\n` : `${text}\n`);
    },
  };
}

/** Where progress lines go: stderr, raw. */
export function stderrWriter(): (text: string) => void {
  const enc = new TextEncoder();
  return (text) => {
    const data = enc.encode(text);
    let off = 0;
    while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
  };
}
