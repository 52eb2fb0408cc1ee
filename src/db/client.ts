/**
 * Opens the database a DATABASE_URL names and hides the dialect behind one
 * `Database` handle. This folder (`src/db/`) is the only place that knows
 * which dialect is in use. Must never put a credential in a database's label
 * (what logs and backups name it by). Story: docs/architecture.md.
 */
import type { Paths } from "../paths.ts";
import { type SQL, sql, type SQLWrapper } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzleLibsql } from "drizzle-orm/libsql";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { LIFT_STATEMENT_TIMEOUT, noDelaySocket } from "./pg_socket.ts";
import { pgSchema, type Schema, sqliteSchema } from "./schema.ts";
import type { PGlite } from "@electric-sql/pglite";
import { openLibsql } from "./libsql.ts";
import { translateDbError } from "./errors.ts";
import { databaseKind } from "./database_url.ts";
import { type Liveness, postgresLiveness, sqliteFileLiveness } from "./liveness.ts";

/** The query builder every repository uses (typed as Postgres; see schema_kit.ts). */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle: the same surface as Db. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Anything that can run a query: the database or a transaction. */
export type Executor = Db | Tx;

export type Dialect = "sqlite" | "postgres";

/** A dialect as messages name it: the driver's product, `libSQL` or `Postgres`. */
export function dialectName(dialect: Dialect): "libSQL" | "Postgres" {
  return dialect === "sqlite" ? "libSQL" : "Postgres";
}

/** `postgres://host:5432/db (Postgres)`: a database as messages name it (labels never hold credentials). */
export function describeDatabase(d: { database: string; dialect: Dialect }): string {
  return `${d.database} (${dialectName(d.dialect)})`;
}

export interface Database {
  dialect: Dialect;
  /** A label for logs and backups: driver and database, never credentials. */
  label: string;
  /** Namespace for cross-process locks (database + schema). */
  namespace: string;
  db: Db;
  t: Schema;
  /** Runs a raw statement (no result). */
  run(statement: SQL | string, executor?: Executor): Promise<void>;
  /** Runs a raw query and returns its rows. */
  rows<T = Record<string, unknown>>(
    query: SQL,
    executor?: Executor,
  ): Promise<T[]>;
  /**
   * A constant single-row query for a hot path, prepared once where the
   * driver allows it (local libSQL: a statement on a dedicated read
   * connection). Each call sees everything committed before it.
   */
  prepareRow<T = Record<string, unknown>>(query: string): () => Promise<T | undefined>;
  /** Runs `fn` in one transaction; rolled back when it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Postgres over the network: this process's pool — the `application_name` its connections carry (unique
   * per pool, so `pg_stat_activity` tells its connections from other replicas') and its size. Absent on
   * libSQL and PGlite, which have no pool.
   */
  pool?: { applicationName: string; max: number };
  /**
   * Locks the database frees when their holder's process dies (see liveness.ts);
   * null where nothing can prove liveness (remote libSQL, embedded PGlite).
   */
  liveness: Liveness | null;
  /**
   * Closes the connections, letting statements in flight finish for at most
   * `graceSeconds` (default 5); after that they are cut and the server rolls
   * their transactions back.
   */
  close(graceSeconds?: number): Promise<void>;
}

export interface OpenOptions {
  authToken?: string;
  /** libSQL: `"generic"` reads through the client only, without the hot reader (libsql_reader.ts). */
  paths?: Paths;
  /** Postgres pool size (default 10). */
  maxConnections?: number;
  /** Postgres timeouts (DATABASE_* in config.ts); each defaults to DEFAULT_TIMEOUTS. */
  timeouts?: Partial<DatabaseTimeouts>;
}

/** How long the service waits on Postgres (see docs/reliability.md). */
export interface DatabaseTimeouts {
  /** A connection attempt gives up after this long. */
  connectTimeoutSeconds: number;
  /** A lost connection is re-opened after at most this long (with jitter). */
  reconnectMaxMs: number;
  /** The server cancels a statement running longer (0: never). Bulk work lifts it (`liftStatementTimeout`). */
  statementTimeoutMs: number;
  /**
   * The client drops a connection whose server sent nothing for this long while a statement was
   * outstanding: a black-holed network (pg_socket.ts). 0: never; absent: the statement timeout + 5 s
   * (never while the statement timeout is off). Lifted with the statement timeout.
   */
  responseTimeoutMs?: number;
}

/** The response deadline `timeouts` ask for (see DatabaseTimeouts.responseTimeoutMs). */
export function responseTimeoutOf(timeouts: DatabaseTimeouts): number {
  if (timeouts.responseTimeoutMs !== undefined) return timeouts.responseTimeoutMs;
  return timeouts.statementTimeoutMs > 0 ? timeouts.statementTimeoutMs + RESPONSE_GRACE_MS : 0;
}

/** How long past the statement timeout the client waits for a silent server (the timeout's own error). */
export const RESPONSE_GRACE_MS = 5_000;

export const DEFAULT_TIMEOUTS: DatabaseTimeouts = {
  connectTimeoutSeconds: 5,
  reconnectMaxMs: 500,
  statementTimeoutMs: 30_000,
};

/** Whether concurrent writers need row locks (Postgres); SQLite runs one writer at a time. */
export function needsRowLocks(db: Database): boolean {
  return db.dialect === "postgres";
}

/**
 * Locks the rows `query` selects until the transaction ends: `SELECT … FOR UPDATE` on Postgres, where a
 * concurrent insert referencing them then waits (and fails once they are gone). SQLite runs one writer at
 * a time, so the statements of a write transaction see no concurrent insert: the query runs as it is.
 */
export function lockForUpdate<Q extends PromiseLike<unknown>>(db: Database, query: Q): Q {
  return db.dialect === "postgres" ? (query as unknown as { for(s: "update"): Q }).for("update") : query;
}

/**
 * `text` occurs in `column`, as written: case-sensitive, with no wildcard (`%`, `_` and `\` match
 * themselves) on both dialects — LIKE is case-insensitive on SQLite and has no default escape there.
 */
export function containsText(db: Database, column: SQLWrapper, text: string): SQL {
  return db.dialect === "postgres" ? sql`strpos(${column}, ${text}) > 0` : sql`instr(${column}, ${text}) > 0`;
}

/**
 * Inside a transaction of bulk work (seeding, restore, backup snapshot,
 * migrations): no statement timeout, since one COPY or index build of a
 * large table may take minutes. A no-op on libSQL.
 */
export async function liftStatementTimeout(db: Database, tx: Executor): Promise<void> {
  if (db.dialect === "postgres") await db.run(LIFT_STATEMENT_TIMEOUT, tx);
}

/**
 * Runs `fn` in a transaction that reads one snapshot of the database: on Postgres `repeatable read, read
 * only`; on libSQL a plain transaction (SQLite's reads one snapshot as it is).
 */
export function snapshotTransaction<T>(db: Database, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.db.transaction(
    fn,
    db.dialect === "postgres" ? { isolationLevel: "repeatable read", accessMode: "read only" } : undefined,
  );
}

/**
 * Opens a database. Accepts `:memory:`, `file:…`, `libsql://…`, `http(s)://…`
 * (libSQL), `postgres://…` / `postgresql://…` (Postgres; an extra `schema`
 * query parameter sets the search_path), and `pglite://memory` (embedded
 * Postgres, used by tests on machines without a server).
 */
export async function openDatabase(
  url: string,
  options: OpenOptions = {},
): Promise<Database> {
  try {
    if (databaseKind(url) === "postgres") return await openPostgres(url, options);
    if (url.startsWith("pglite://")) return await openPglite(url);
    return await openLibsqlDatabase(url, options);
  } catch (err) {
    throw translateDbError(err);
  }
}

async function openLibsqlDatabase(
  url: string,
  options: OpenOptions,
): Promise<Database> {
  await ensureParentDirectory(url);
  const { client, label, prepareRow, file } = await openLibsql(url, options.authToken, options.paths);
  const db = drizzleLibsql(client, { schema: sqliteSchema }) as unknown as Db;
  // deno-lint-ignore no-explicit-any
  const lite = (e: Executor) => e as any;
  return wrap({
    dialect: "sqlite",
    label,
    namespace: label,
    db,
    t: sqliteSchema,
    run: async (s, e = db) => {
      await lite(e).run(typeof s === "string" ? sql.raw(s) : s);
    },
    rows: async (q, e = db) => await lite(e).all(q),
    // The native reader answers synchronously; run in a `then`, its throws become rejections.
    prepareRow: prepareRow
      ? <T>(query: string) => {
        const read = prepareRow<T>(query);
        return () => Promise.resolve().then(read);
      }
      : undefined,
    liveness: file ? sqliteFileLiveness(file) : null,
    close: () => Promise.resolve(client.close()),
  });
}

async function openPostgres(
  url: string,
  options: OpenOptions,
): Promise<Database> {
  // libpq's socket form names no host (`postgres://user@/db?host=/run/postgresql`); WHATWG URLs need one.
  const parsed = new URL(url.replace(/^(postgres(?:ql)?:\/\/(?:[^/@?#]*@)?)(?=[/?:]|$)/, "$1localhost"));
  const schema = parsed.searchParams.get("schema");
  parsed.searchParams.delete("schema");
  // `?host=/run/postgresql` (libpq's convention): connect over the Unix socket in that directory.
  const socketDir = parsed.searchParams.get("host");
  parsed.searchParams.delete("host");
  if (socketDir !== null && !socketDir.startsWith("/")) {
    throw new Error(`host "${socketDir}" in DATABASE_URL must be a Unix socket directory (an absolute path)`);
  }
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const sockets = noDelaySocket({ responseTimeoutMs: responseTimeoutOf(timeouts) });
  const base = {
    ...(socketDir ? { path: `${socketDir}/.s.PGSQL.${parsed.port || 5432}` } : {}),
    onnotice: () => {},
    connect_timeout: timeouts.connectTimeoutSeconds,
    // postgres.js counts failed connections in one counter for the whole pool that never goes down, and
    // waits 3^n/100 s (up to 20 s) before each reconnect: a 1 s restart cost 20 s of hung requests. Here a
    // reconnect waits at most `reconnectMaxMs`, with jitter so that replicas do not reconnect in step.
    backoff: () => (timeouts.reconnectMaxMs * (0.5 + Math.random() / 2)) / 1000,
    // TCP_NODELAY and the response deadline per connection. Not in postgres.js's typings, but read by its
    // connection.js (3.4.x): the driver canary checks it is used.
    ...{ socket: sockets },
  };
  const connection = {
    ...(schema ? { search_path: schema } : {}),
    ...(timeouts.statementTimeoutMs > 0 ? { statement_timeout: timeouts.statementTimeoutMs } : {}),
  };
  // One name per pool (an `application_name` in the URL is kept): the pool metric counts exactly this
  // process's connections.
  const applicationName = parsed.searchParams.get("application_name") ??
    `seedbed:${crypto.randomUUID().slice(0, 8)}`;
  parsed.searchParams.delete("application_name");
  const max = options.maxConnections ?? 10;
  const client = postgres(parsed.toString(), {
    ...base,
    max,
    connection: { ...connection, application_name: applicationName },
  });
  try {
    await client`select 1`;
    if (schema) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
        throw new Error(`schema "${schema}" in DATABASE_URL must be a plain lowercase identifier`);
      }
      await client.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    }
  } catch (err) {
    // A database that cannot be opened leaves nothing behind: no pool, socket or reconnect timer.
    await client.end({ timeout: 0 }).catch(() => {});
    await sockets.destroyAll();
    throw err;
  }
  // The client is vendor/postgres (patched postgres.js 3.4.9); Drizzle's types name npm's copy of that version.
  const toDrizzle = drizzlePostgres as (client: unknown, config: { schema: typeof pgSchema }) => unknown;
  const db = toDrizzle(client, { schema: pgSchema }) as Db;
  const name = parsed.pathname.replace(/^\//, "") || "postgres";
  const label = `postgres://${parsed.hostname}:${parsed.port || 5432}/${name}${
    schema ? `?schema=${schema}` : ""
  }`;
  return wrap({
    dialect: "postgres",
    label,
    namespace: `${name}/${schema ?? "public"}`,
    pool: { applicationName, max },
    db,
    t: pgSchema,
    run: async (s, e = db) => {
      await e.execute(typeof s === "string" ? sql.raw(s) : s);
    },
    rows: async <T>(q: SQL, e: Executor = db) => {
      const r = await e.execute(q);
      return [...(r as unknown as T[])];
    },
    // A named prepared statement per connection: the server parses and plans it once.
    prepareRow: <T>(query: string) => async () =>
      (await client.unsafe(query, [], { prepare: true }))[0] as T | undefined,
    liveness: postgresLiveness(
      `${name}/${schema ?? "public"}`,
      (text, params) => client.unsafe(text, params as never[]),
      () =>
        postgres(parsed.toString(), {
          ...base,
          max: 1,
          // postgres.js ends a connection after max_lifetime (30-60 min by default, or PGMAX_LIFETIME): here
          // that would free the lock in the middle of a long run. The session lasts as long as its holder.
          max_lifetime: null,
          idle_timeout: 0, // none (and not PGIDLE_TIMEOUT)
          connection: {
            ...connection,
            application_name: "seedbed-lock",
            // The server notices a vanished holder host in ~25 s instead of the kernel's 2 h.
            tcp_keepalives_idle: 10,
            tcp_keepalives_interval: 5,
            tcp_keepalives_count: 3,
          },
        }) as never,
    ),
    close: (graceSeconds = 5) => client.end({ timeout: graceSeconds }),
  });
}

async function openPglite(url: string): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const dir = url.slice("pglite://".length);
  const client = dir === "memory" || dir === "" ? new PGlite() : new PGlite(dir);
  await client.waitReady;
  return await pgliteDatabase(client, dir || "memory");
}

/**
 * A Database over an open PGlite (`close` closes it). The test helpers give each test a fresh one over the
 * file's shared instance (tests/helpers/db.ts).
 */
export async function pgliteDatabase(client: PGlite, dir = "memory"): Promise<Database> {
  const { drizzle } = await import("drizzle-orm/pglite");
  const db = drizzle(client, { schema: pgSchema }) as unknown as Db;
  return wrap({
    dialect: "postgres",
    label: `pglite://${dir}`,
    namespace: `pglite/${dir}`,
    db,
    t: pgSchema,
    run: async (s, e = db) => {
      await e.execute(typeof s === "string" ? sql.raw(s) : s);
    },
    rows: async <T>(q: SQL, e: Executor = db) => {
      const r = await e.execute(q) as unknown as { rows: T[] };
      return r.rows;
    },
    liveness: null,
    close: () => client.close(),
  });
}

/**
 * `file:./.data/seedbed.db`: creates `.data/` when it is missing (the example in .env.example must work as
 * written; SQLite creates the file, not its folder).
 */
async function ensureParentDirectory(url: string): Promise<void> {
  if (!url.startsWith("file:")) return;
  const path = decodeURIComponent(url.slice("file:".length).replace(/^\/\/(?=\/)/, "").split("?")[0]);
  const slash = path.lastIndexOf("/");
  if (slash <= 0) return;
  await Deno.mkdir(path.slice(0, slash), { recursive: true }).catch((err) => {
    // An unwritable location is reported by the driver when it opens the file.
    if (!(err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable)) throw err;
  });
}

/**
 * Adds the shared transaction wrapper and error translation, and the plain
 * `prepareRow` (a query per call) where the driver has no cheaper one.
 */
function wrap(
  d: Omit<Database, "transaction" | "prepareRow"> & { prepareRow?: Database["prepareRow"] },
): Database {
  const rows = <T>(q: SQL, e?: Executor) =>
    d.rows<T>(q, e).catch((err) => Promise.reject(translateDbError(err)));
  return {
    ...d,
    run: (s, e) => d.run(s, e).catch((err) => Promise.reject(translateDbError(err))),
    rows,
    prepareRow: <T>(query: string) => {
      if (d.prepareRow) {
        const read = d.prepareRow<T>(query);
        return () => read().catch((err) => Promise.reject(translateDbError(err)));
      }
      const q = sql.raw(query);
      return () => rows<T>(q).then((r) => r[0]);
    },
    transaction: <T>(fn: (tx: Tx) => Promise<T>) =>
      d.db.transaction(fn).catch((err) => Promise.reject(translateDbError(err))) as Promise<T>,
  };
}
