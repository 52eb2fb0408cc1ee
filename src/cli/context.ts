/**
 * Shared setup for CLI commands: config, logger, database, and how the CLI
 * talks to the person at the terminal (docs/cli.md).
 *
 * Must never break:
 * - a command that touches a database names it first (dialect and URL,
 *   never the password), on stderr so stdout stays parseable (`--json`);
 * - no command runs on a throw-away database (`:memory:`, `pglite://memory`)
 *   by surprise: it refuses and says how to set DATABASE_URL;
 * - log lines are not JSON unless `--log-json` or LOG_LEVEL=debug, and
 *   colours appear only on a terminal and never with NO_COLOR.
 *
 * Story: docs/cli.md.
 */
import { userInfo } from "node:os";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { type Database, describeDatabase, openDatabase } from "../db/client.ts";
import { createLogger, type Logger, logPersonalData } from "../log.ts";
import { buildDeps } from "../deps.ts";
import { stderrWriter } from "./progress.ts";
import { countTransfers, rowProgressLines } from "./transfer_progress.ts";
import { deno } from "../deno_command.ts";

export interface CliContext {
  config: Config;
  db: Database;
  logger: Logger;
  /** Lines for the user (stdout). */
  out: (line: string) => void;
  /** Notes, warnings and progress for the user (stderr). */
  note: (line: string) => void;
  /** True when a person can answer questions (stdin and stderr are terminals). */
  interactive: boolean;
  /** Asks a question on the terminal; null when nobody can answer. */
  ask: (question: string) => Promise<string | null>;
  /** Whether stderr is a terminal (progress bars redraw in place there). */
  stderrIsTerminal: boolean;
  /** Without a terminal: at most one progress line per this many ms (default 5 s). */
  progressEveryMs?: number;
  /** Wraps text in an ANSI style when colours are on. */
  style: (text: string, style: "bold" | "red" | "yellow" | "green" | "dim") => string;
}

/** Raised for a usage mistake; the CLI prints it and exits 2. */
export class UsageError extends Error {}

/** Options the CLI entry point takes before the command (`--log-json`). */
export interface CliOptions {
  logJson?: boolean;
  /** Overrides for tests: whether a terminal is attached, and what it answers. */
  terminal?: { interactive: boolean; answers?: string[] };
  /** For tests: progress lines without a terminal at most this often (default 5 s). */
  progressEveryMs?: number;
}

const THROWAWAY = new Set([":memory:", "pglite://memory", "pglite://"]);

/** The refusal for a throw-away database, saying how to set a real one. */
export function throwawayDatabaseMessage(url: string, urlWasSet: boolean): string {
  return `${
    urlWasSet ? `DATABASE_URL is ${url}` : "DATABASE_URL is not set, so this would use :memory:"
  }: a throw-away database that is gone when the command ends (the next command would see an empty one). ` +
    "Set DATABASE_URL in the environment or in .env in this directory, for example\n" +
    "  DATABASE_URL=file:./.data/seedbed.db                              (libSQL file)\n" +
    "  DATABASE_URL=postgres://user:password@localhost:5432/seedbed      (Postgres)\n" +
    `(\`${deno("task dev")}\` may use :memory:, its data lives as long as the server.)`;
}

const STYLES = { bold: [1, 22], red: [31, 39], yellow: [33, 39], green: [32, 39], dim: [2, 22] } as const;

/** Colours on a terminal only, never with NO_COLOR (https://no-color.org) or TERM=dumb. */
export function colorsEnabled(env: Record<string, string | undefined>, isTerminal: boolean): boolean {
  return isTerminal && env.NO_COLOR === undefined && env.TERM !== "dumb";
}

function isTerminal(r: { isTerminal(): boolean }): boolean {
  try {
    return r.isTerminal();
  } catch {
    return false;
  }
}

/** A human line for a log record: `warning: backup_failed (error: …)`. */
/**
 * Failure events whose error reaches the command, which prints it as its one human line (`seedbed: … [CODE]`):
 * at the CLI's default level they are not repeated as log lines (newcomer finding 13: a restore of a missing
 * key said it three times). `--log-json` and LOG_LEVEL=debug still show them.
 */
export const REPORTED_BY_THE_COMMAND: ReadonlySet<string> = new Set([
  "restore_failed",
  "seeding_restore_failed",
  "seeding_failed",
  "seeder_failed",
  "restore_drill_failed",
]);

/** The event of a JSON log line (null when it is not one). */
function eventOf(json: string): string | null {
  try {
    const e = (JSON.parse(json) as { event?: unknown }).event;
    return typeof e === "string" ? e : null;
  } catch {
    return null;
  }
}

export function humanLogLine(json: string): string {
  try {
    const { ts: _ts, level, event, service: _s, ...fields } = JSON.parse(json) as Record<string, unknown>;
    const detail = Object.entries(fields).map(([k, v]) =>
      `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`
    )
      .join(", ");
    return `${level === "warn" ? "warning" : level}: ${event}${detail ? ` (${detail})` : ""}`;
  } catch {
    return json;
  }
}

/** Loads config from `env` (already merged with .env), opens the database, and says which. */
export async function openCliContext(
  env: Record<string, string | undefined>,
  options: CliOptions = {},
): Promise<CliContext> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (THROWAWAY.has(config.databaseUrl)) {
    throw new UsageError(throwawayDatabaseMessage(config.databaseUrl, Boolean(env.DATABASE_URL)));
  }
  const errIsTerminal = options.terminal?.interactive ?? isTerminal(Deno.stderr);
  const color = colorsEnabled(env, errIsTerminal);
  const style: CliContext["style"] = (text, s) =>
    color ? `\x1b[${STYLES[s][0]}m${text}\x1b[${STYLES[s][1]}m` : text;
  logPersonalData(config.logPersonalData);
  // CLI logs go to stderr so that stdout stays readable and pipeable; JSON only when asked for.
  const json = options.logJson || config.logLevel === "debug";
  const logger = createLogger(
    config.logLevel === "info" ? "warn" : config.logLevel,
    { service: "seedbed-cli" },
    json ? (l) => console.error(l) : (l) => {
      if (REPORTED_BY_THE_COMMAND.has(eventOf(l) ?? "")) return;
      const line = humanLogLine(l);
      console.error(
        line.startsWith("warning")
          ? style(line, "yellow")
          : line.startsWith("error")
          ? style(line, "red")
          : line,
      );
    },
  );
  const note = (l: string) => console.error(l);
  const db = await openDatabase(config.databaseUrl, {
    authToken: config.databaseAuthToken,
    timeouts: config.database,
  });
  note(style(`Database: ${describeDatabase({ database: db.label, dialect: db.dialect })}`, "dim"));
  const answers = options.terminal?.answers ? [...options.terminal.answers] : undefined;
  const interactive = options.terminal?.interactive ?? (isTerminal(Deno.stdin) && errIsTerminal);
  return {
    config,
    db,
    logger,
    out: (l) => console.log(l),
    note,
    interactive,
    ask: (question) => {
      if (!interactive) return Promise.resolve(null);
      if (answers) {
        note(question);
        return Promise.resolve(answers.shift() ?? null);
      }
      return Promise.resolve(prompt(question));
    },
    stderrIsTerminal: errIsTerminal,
    progressEveryMs: options.progressEveryMs,
    style,
  };
}

/**
 * The application's services for a CLI command (the same composition root as the server), with
 * progress in rows (and the MiB moved to or from S3) for every backup, verify and restore pass,
 * on stderr (never stdout, so `--json` output stays parseable).
 */
export async function cliDeps(ctx: CliContext): Promise<Awaited<ReturnType<typeof buildDeps>>> {
  const deps = await buildDeps({ config: ctx.config, db: ctx.db, logger: ctx.logger });
  const bytes = new Map<string, number>();
  countTransfers(deps.backups.store, (key, n) => bytes.set(key, (bytes.get(key) ?? 0) + n));
  deps.backups.rowProgress = rowProgressLines({
    terminal: ctx.stderrIsTerminal,
    write: stderrWriter(),
    everyMs: ctx.progressEveryMs,
    bytes: (key) => bytes.get(key) ?? 0,
  });
  return deps;
}

/** Who a CLI run acts as in the audit log and the execution history: `cli:<system user>`. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:${Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "unknown"}`;
  }
}
