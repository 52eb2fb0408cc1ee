/**
 * Driver errors → the service's error codes, in one place. Handles
 * postgres.js / PGlite (SQLSTATE codes), libSQL (SQLITE_* codes) and
 * connection failures, looking through Drizzle's wrapping `cause` chain.
 * Messages name the constraint, never the parameters (which may be secrets).
 * Story: docs/reliability.md ("A database blip stays a blip").
 */
import { deno } from "../deno_command.ts";
import { AppError } from "../errors.ts";
import { migrationCreatesTable } from "./migration_files.ts";

interface DriverError {
  code?: string;
  errno?: string;
  message?: string;
  constraint_name?: string;
  constraint?: string;
  detail?: string;
  table_name?: string;
  cause?: unknown;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "RESPONSE_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08006",
  "CLIENT_CLOSED",
]);

/**
 * True when `err` is a lost or refused connection (not bad credentials, not a
 * missing database): the same request may well succeed a moment later.
 */
export function isConnectionLoss(err: unknown): boolean {
  return chain(err).some((e) => {
    const code = String(e.code ?? e.errno ?? "");
    // A connect or response timeout already cost its whole budget: a retry would double the wait.
    if (["CONNECT_TIMEOUT", "RESPONSE_TIMEOUT", "ETIMEDOUT", "ENOTFOUND"].includes(code)) return false;
    return CONNECTION_CODES.has(code) ||
      /connection (refused|terminated)|ECONNREFUSED|socket has been ended/i.test(String(e.message ?? ""));
  });
}

/** Walks `cause` links, returning every error in the chain (outermost first). */
function chain(err: unknown): DriverError[] {
  const out: DriverError[] = [];
  let cur = err;
  for (let i = 0; i < 6 && cur && typeof cur === "object"; i++) {
    out.push(cur as DriverError);
    cur = (cur as DriverError).cause;
  }
  return out;
}

/** Returns an AppError for a known driver failure, or the error unchanged. */
export function translateDbError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  for (const e of chain(err)) {
    const code = String(e.code ?? e.errno ?? "");
    const msg = String(e.message ?? "");
    const constraint = e.constraint_name ?? e.constraint ??
      constraintFromMessage(msg);
    if (
      code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" ||
      code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
      /UNIQUE constraint failed/.test(msg)
    ) {
      return new AppError(
        "CONFLICT",
        `a record with the same ${constraint ?? "unique key"} already exists`,
        {
          extra: constraint ? { constraint } : undefined,
          cause: err,
        },
      );
    }
    if (
      code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY" ||
      /FOREIGN KEY constraint failed/.test(msg)
    ) {
      return new AppError(
        "CONFLICT",
        `the change violates a reference between records${constraint ? ` (${constraint})` : ""}`,
        { cause: err },
      );
    }
    if (code === "23502" || code === "SQLITE_CONSTRAINT_NOTNULL") {
      return new AppError(
        "VALIDATION_ERROR",
        `a required value is missing${constraint ? ` (${constraint})` : ""}`,
        {
          cause: err,
        },
      );
    }
    if (code === "22021" || code === "22P05") {
      // U+0000 (or bytes invalid in the encoding) in a value: the input's fault, on Postgres only —
      // the input rule (src/http/input_rules.ts) refuses it first wherever a schema reads it.
      return new AppError(
        "VALIDATION_ERROR",
        "a value contains a character the database cannot store (U+0000 or invalid UTF-8)",
        { cause: err, extra: { errors: [{ field: "body", message: "must not contain U+0000" }] } },
      );
    }
    if (code === "22P02" && /surrogate/i.test(`${msg} ${e.detail ?? ""}`)) {
      // A lone UTF-16 surrogate (`\ud800`) in a JSON value: Postgres refuses it ("invalid input syntax for
      // type json", DETAIL "Unicode low surrogate must follow a high surrogate") where libSQL stores it.
      // The input's fault, like U+0000 above: the input rule (src/http/input_rules.ts) refuses it first
      // wherever a schema reads it. Other invalid input syntax (a query's own text) stays a 500.
      return new AppError(
        "VALIDATION_ERROR",
        "a value is not well-formed Unicode (a lone surrogate U+D800–U+DFFF): the database cannot store it",
        {
          cause: err,
          extra: {
            errors: [{
              field: "body",
              message: "must be well-formed Unicode (no lone surrogate U+D800–U+DFFF)",
            }],
          },
        },
      );
    }
    if (code === "3D000") {
      return new AppError(
        "DATABASE_UNAVAILABLE",
        "the database named in DATABASE_URL does not exist: create it first",
        { cause: err },
      );
    }
    if (code === "28P01" || code === "28000") {
      return new AppError(
        "DATABASE_UNAVAILABLE",
        "the database refused the credentials in DATABASE_URL",
        { cause: err },
      );
    }
    if (
      code === "42P01" || /no such table|relation "[^"]+" does not exist/i.test(msg)
    ) {
      const table = /no such table: (?:main\.)?([\w.]+)/.exec(msg)?.[1] ??
        /relation "([^"]+)" does not exist/.exec(msg)?.[1];
      // A table of the schema that no migration creates (a module added by `deno task new module`, no
      // `db:generate` yet): migrating would not help.
      const ungenerated = table !== undefined && migrationCreatesTable(table) === false;
      return new AppError(
        "DATABASE_NOT_MIGRATED",
        ungenerated
          ? `the database is not migrated (table ${table} is missing) and no migration creates it yet: run ` +
            `\`${deno(`task db:generate --name add_${table}`)}\` first (a running \`deno task dev\` then ` +
            `applies it by itself; elsewhere \`${deno("task migrate")}\`)`
          : `the database is not migrated${table ? ` (table ${table} is missing)` : ""}: run \`${
            deno("task migrate")
          }\` first`,
        { cause: err },
      );
    }
    if (code === "55000" && /allow connections|accepting connections/i.test(msg)) {
      return new AppError("DATABASE_UNAVAILABLE", "the database is not accepting connections", {
        headers: { "Retry-After": "1" },
        cause: err,
      });
    }
    if (code === "57014" && /statement timeout/i.test(msg)) {
      return new AppError(
        "SERVICE_UNAVAILABLE",
        "the database did not answer within the statement timeout (DATABASE_STATEMENT_TIMEOUT_MS); retry shortly",
        { headers: { "Retry-After": "1" }, cause: err },
      );
    }
    if (code === "53300" || code === "53000") {
      return new AppError("DATABASE_UNAVAILABLE", "the database has no free connections; retry shortly", {
        headers: { "Retry-After": "1" },
        cause: err,
      });
    }
    if (
      CONNECTION_CODES.has(code) ||
      /connect(ion)? (refused|timeout|terminated)|ECONNREFUSED|socket has been ended/i.test(msg)
    ) {
      return new AppError(
        "DATABASE_UNAVAILABLE",
        `the database is unreachable${/^[A-Z_0-9]+$/.test(code) && code ? ` (${code})` : ""}`,
        { headers: { "Retry-After": "1" }, cause: err },
      );
    }
    if (
      code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code === "55P03" ||
      code === "40P01"
    ) {
      return new AppError(
        "SERVICE_UNAVAILABLE",
        "the database is busy; retry shortly",
        {
          headers: { "Retry-After": "1" },
          cause: err,
        },
      );
    }
  }
  return err;
}

function constraintFromMessage(msg: string): string | undefined {
  const m = /constraint failed: ([\w.,\s]+)/.exec(msg) ??
    /constraint "([^"]+)"/.exec(msg);
  return m?.[1]?.trim();
}
