/**
 * Connections as the Postgres server sees them (`pg_stat_activity`), for the metrics at scrape time: this
 * database's, and this process's pool's. Null where there is no server to ask (libSQL, embedded PGlite).
 * Story: docs/operations.md.
 */
import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

/**
 * Postgres: connections to this database by state (`active`, `idle`, `idle in transaction`, …), as the
 * server sees them — every replica's pool together (the driver does not report its own pool's use).
 * Null on libSQL and on embedded PGlite (no server to ask).
 */
export async function databaseConnections(db: Database): Promise<Record<string, number> | null> {
  if (db.dialect !== "postgres" || db.label.startsWith("pglite")) return null;
  const rows = await db.rows<{ state: string | null; n: number | string }>(sql`
    SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' GROUP BY 1`);
  return Object.fromEntries(rows.map((r) => [r.state ?? "unknown", Number(r.n)]));
}

/**
 * Postgres: this process's pool connections by state (`active`, `idle`, `idle in transaction`), counted in
 * `pg_stat_activity` by the pool's own `application_name` (unique per pool, `src/db/client.ts`), so other
 * replicas never count. The scrape's own query is one active connection. Null without a pool (libSQL,
 * PGlite).
 */
export async function poolConnections(db: Database): Promise<Record<string, number> | null> {
  if (!db.pool) return null;
  const rows = await db.rows<{ state: string | null; n: number | string }>(sql`
    SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity
    WHERE application_name = ${db.pool.applicationName} AND backend_type = 'client backend' GROUP BY 1`);
  return Object.fromEntries(rows.map((r) => [r.state ?? "unknown", Number(r.n)]));
}
