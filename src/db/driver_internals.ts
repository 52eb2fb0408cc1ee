/**
 * The one place that reaches into driver internals, for the fast paths of
 * `bulk_insert.ts` (a transaction's own connection through Drizzle's private
 * session) and `pg_copy.ts` (postgres.js under Drizzle, and a COPY query's
 * resolve/reject hooks); `pg_socket.ts` uses postgres.js's untyped `socket`
 * option. Each accessor checks the shape it expects; the canary
 * test (tests/db/driver_canary_test.ts) runs them against the real drivers and
 * fails, naming the versions below, as soon as an upgrade moves anything.
 * Must never guess: a shape that is not there is null (the caller takes the
 * plain path) or a DriverShapeError naming what changed.
 * Story: docs/architecture.md.
 */
import type { Database, Executor } from "./client.ts";

/**
 * The driver versions these shapes were read from (deno.json pins the same, postgres.js as vendor/postgres;
 * the canary compares).
 */
export const PINNED_DRIVERS = {
  "drizzle-orm": "0.44.7",
  "postgres": "3.4.9",
  "@libsql/client": "0.15.15",
  "@electric-sql/pglite": "0.3.16",
} as const;

/** A driver no longer has the internal shape a fast path was written against. */
export class DriverShapeError extends Error {
  constructor(driver: keyof typeof PINNED_DRIVERS, what: string) {
    super(
      `${driver} changed: ${what} (the fast paths in src/db/ were written against ${driver}@${
        PINNED_DRIVERS[driver]
      }; see src/db/driver_internals.ts)`,
    );
    this.name = "DriverShapeError";
  }
}

// deno-lint-ignore no-explicit-any
type Loose = any;

/** Runs raw SQL with positional params; resolves to the rows affected. */
export type RawRunner = (text: string, params: unknown[]) => Promise<number>;

/**
 * The raw driver of a Drizzle transaction (`tx.session`): libSQL `session.tx.execute`, postgres.js
 * `session.client.unsafe`, PGlite `session.client.query`. Null when the shape is not there.
 */
export function transactionDriver(db: Database, tx: Executor): RawRunner | null {
  const session = (tx as Loose)?.session;
  if (!session) return null;
  if (db.dialect === "sqlite") {
    const conn = session.tx ?? null;
    if (!conn || typeof conn.execute !== "function") return null;
    return async (text, args) => Number((await conn.execute({ sql: text, args })).rowsAffected ?? 0);
  }
  const client = session.client;
  if (client && typeof client.unsafe === "function") {
    return async (text, params) => Number((await client.unsafe(text, params)).count ?? 0);
  }
  if (client && typeof client.query === "function") {
    return async (text, params) => Number((await client.query(text, params)).affectedRows ?? 0);
  }
  return null;
}

/** The part of postgres.js (`sql` or a transaction's `sql`) the COPY paths use. */
export interface PostgresJsLike {
  unsafe(query: string): unknown;
  begin(options: string, fn: (tx: unknown) => Promise<unknown>): Promise<unknown>;
}

const isPostgresJs = (c: unknown): c is PostgresJsLike =>
  !!c && typeof (c as PostgresJsLike).unsafe === "function" &&
  typeof (c as PostgresJsLike).begin === "function";

/** postgres.js behind a Drizzle database (`db.$client`), or null (libSQL, PGlite). */
export function postgresJsClient(db: Database): PostgresJsLike | null {
  if (db.dialect !== "postgres") return null;
  const client = (db.db as unknown as { $client?: unknown }).$client;
  return isPostgresJs(client) ? client : null;
}

/** postgres.js of a Drizzle transaction (`tx.session.client`, the same connection as its statements), or null. */
export function postgresJsOfTransaction(db: Database, tx: Executor): PostgresJsLike | null {
  if (!postgresJsClient(db)) return null;
  const client = (tx as unknown as { session?: { client?: unknown } }).session?.client;
  return client && typeof (client as PostgresJsLike).unsafe === "function" ? client as PostgresJsLike : null;
}

/** A postgres.js query's completion hooks, which `openCopyIn` takes over. */
export interface QueryHooks {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  active: boolean;
}

/**
 * The completion hooks of a postgres.js query that has not run yet (postgres.js calls `query.resolve` /
 * `query.reject` at ReadyForQuery). Throws DriverShapeError when they are not where 3.4.x keeps them.
 */
export function queryHooks(query: unknown): QueryHooks {
  const q = query as Partial<QueryHooks> & { writable?: unknown; readable?: unknown };
  const missing = [
    typeof q?.resolve !== "function" && "resolve()",
    typeof q?.reject !== "function" && "reject()",
    typeof q?.active !== "boolean" && "active",
    typeof q?.writable !== "function" && "writable()",
    typeof q?.readable !== "function" && "readable()",
  ].filter(Boolean);
  if (missing.length) {
    throw new DriverShapeError("postgres", `a query no longer has ${missing.join(", ")}`);
  }
  return q as QueryHooks;
}

/**
 * For the canary: the raw driver of a Drizzle transaction, or a DriverShapeError saying what moved (the
 * fast path itself falls back to the query builder quietly; the canary is what makes the change loud).
 */
export function requireTransactionDriver(db: Database, tx: Executor): RawRunner {
  const run = transactionDriver(db, tx);
  if (!run) {
    const where = db.dialect === "sqlite" ? "session.tx.execute()" : "session.client.unsafe() / .query()";
    throw new DriverShapeError(
      "drizzle-orm",
      `a transaction no longer carries its connection at tx.${where}`,
    );
  }
  return run;
}
