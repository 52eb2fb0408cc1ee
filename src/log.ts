/**
 * Structured logging: one JSON object per line on stdout. Keys that look like
 * credentials are redacted wherever they appear, so a careless field never
 * leaks a token, password or secret. Story: docs/reliability.md ("Logs").
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

/**
 * Personal data never reaches a log line unless this debug switch
 * (LOG_PERSONAL_DATA=true) is on: e-mail addresses become `[email]`, and the
 * parameters of a failed query (Drizzle's "Failed query: … params: …", which
 * holds row values) become `params: [redacted]` — whatever field they are in.
 */
let personalData = false;

/** The LOG_PERSONAL_DATA switch (set once by an entry point). */
export function logPersonalData(on: boolean): void {
  personalData = on;
}

const EMAIL = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** In a JSON string: from `params: ` to the end of that line (an escaped newline) or of the string. */
const PARAMS = /params: (?:[^"\\]|\\(?!n)[^])*/g;

/** A JSON log line without personal data (see `logPersonalData`). */
export function scrubLine(line: string): string {
  if (personalData) return line;
  if (line.includes("params: ")) line = line.replace(PARAMS, "params: [redacted]");
  if (line.includes("@")) line = line.replace(EMAIL, "[email]");
  return line;
}

/**
 * The message and stack worth logging for a failure: the first error in its
 * `cause` chain that is not Drizzle's "Failed query" wrapper (whose text
 * carries the query's parameters).
 */
export function errorMessage(err: unknown): { message: string; stack?: string } {
  let cur: unknown = err;
  for (let i = 0; i < 6 && cur instanceof Error; i++) {
    if (!cur.message.startsWith("Failed query:")) return { message: cur.message, stack: cur.stack };
    cur = cur.cause;
  }
  if (err instanceof Error) return { message: "a database statement failed" };
  return { message: String(err) };
}

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
    out(scrubLine(line), lvl === "error");
  };
  const self: Logger = {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
    // A logger that writes nothing (LOG_LEVEL=silent) is its own child: nothing to bind per request.
    child: (fields) =>
      min > ORDER.error
        ? self
        : makeLogger(min, level, baseFrag + fragment(fields), { ...base, ...fields }, write),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
  return self;
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
