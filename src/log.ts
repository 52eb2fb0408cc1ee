/**
 * Structured logging: one JSON object per line on stdout. Keys that look like
 * credentials are redacted wherever they appear, so a careless field never
 * leaks a token, password or secret.
 */
import type { LogLevel } from "./config.ts";

const ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 100,
};
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[_-]?key|private[_-]?key|hash/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** Whether lines of `level` are written (to skip building costly fields on hot paths). */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
}

/** Replaces the values of credential-looking keys, recursively. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

/** True when `fields` needs `redact` (a credential-looking key or a nested value). */
function needsRedact(fields: LogFields): boolean {
  for (const k in fields) {
    const v = fields[k];
    if (SECRET_KEY.test(k) || (v !== null && typeof v === "object")) return true;
  }
  return false;
}

/** `{"a":1,"b":2}` → `,"a":1,"b":2` (or "" for no fields): a fragment to splice into a line. */
function fragment(fields: LogFields | undefined): string {
  if (!fields) return "";
  const json = JSON.stringify(needsRedact(fields) ? redact(fields) : fields);
  return json.length > 2 ? "," + json.slice(1, -1) : "";
}

/**
 * Stdout, batched: lines are queued and written together at most a
 * millisecond later (one write per burst instead of one per request);
 * errors and process exit flush at once.
 */
function stdoutWriter(): (line: string, urgent: boolean) => void {
  const enc = new TextEncoder();
  let queue: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (queue.length === 0) return;
    const data = enc.encode(queue.join(""));
    queue = [];
    let off = 0;
    while (off < data.length) off += Deno.stdout.writeSync(data.subarray(off));
  };
  globalThis.addEventListener("unload", flush);
  flushStdout = flush;
  return (line, urgent) => {
    queue.push(line + "\n");
    if (urgent) flush();
    else timer ??= setTimeout(flush, 1);
  };
}

function overlaps(base: LogFields, fields: LogFields): boolean {
  for (const k in fields) if (k in base) return true;
  return false;
}

let flushStdout: () => void = () => {};

/** A line for the person at the terminal (stderr), after the log lines queued before it. */
export function printErr(text: string): void {
  flushStdout();
  console.error(text);
}

let sharedStdout: ((line: string, urgent: boolean) => void) | undefined;

/** Creates a JSON-lines logger writing through `write` (batched stdout by default). */
export function createLogger(
  level: LogLevel = "info",
  base: LogFields = {},
  write?: (line: string) => void,
): Logger {
  return makeLogger(ORDER[level], level, fragment(base), base, write);
}

function makeLogger(
  min: number,
  level: LogLevel,
  baseFrag: string,
  base: LogFields,
  write: ((line: string) => void) | undefined,
): Logger {
  const out = write
    ? (line: string) => write(line)
    : (line: string, urgent: boolean) => (sharedStdout ??= stdoutWriter())(line, urgent);
  const emit = (lvl: Exclude<LogLevel, "silent">, event: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return;
    // A field already in the base (a child's execution_id, say) replaces it instead of repeating the key.
    const tail = fields && overlaps(base, fields)
      ? fragment({ ...base, ...fields })
      : baseFrag + fragment(fields);
    const line = `{"ts":"${new Date().toISOString()}","level":"${lvl}","event":${
      JSON.stringify(event)
    }${tail}}`;
    out(line, lvl === "error");
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
    child: (fields) => makeLogger(min, level, baseFrag + fragment(fields), { ...base, ...fields }, write),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}

/** A logger that drops everything (tests that do not inspect logs). */
export const silentLogger: Logger = createLogger("silent");

/** A logger that collects records in memory, for tests that assert on events. */
export function memoryLogger(): Logger & { records: LogFields[] } {
  const records: LogFields[] = [];
  const logger = createLogger(
    "debug",
    {},
    (line) => records.push(JSON.parse(line)),
  );
  return Object.assign(logger, { records });
}
