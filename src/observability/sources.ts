/**
 * Values the metrics read from the database at scrape time (one small query each).
 * Story: docs/operations.md ("Metrics").
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";

/** Epoch seconds of the newest completed backup in the catalog, or null when there is none. */
export async function lastSuccessfulBackup(db: Database): Promise<number | null> {
  const t = db.t.backups;
  const [row] = await db.db.select({ at: sql<unknown>`max(${t.completedAt})` }).from(t)
    .where(sql`${t.status} = 'completed'`);
  const v = row?.at;
  if (v === null || v === undefined) return null;
  // libSQL stores timestamps as epoch ms integers, Postgres returns a timestamp (string or Date).
  const ms = typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : new Date(v as string).getTime();
  return Number.isFinite(ms) ? ms / 1000 : null;
}

/**
 * Postgres: connections to this database by state (`active`, `idle`, `idle in transaction`, …), as the
 * server sees them — every replica's pool together (the driver does not report its own pool's use).
 * Null on libSQL, which has no pool.
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
