/**
 * Values the metrics read from the database at scrape time (one small query each); the connection counts
 * are in src/db/connection_stats.ts.
 * Story: docs/operations.md ("Metrics").
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { timestampMs } from "../db/time.ts";

/** Epoch seconds of the newest completed backup in the catalog, or null when there is none. */
export async function lastSuccessfulBackup(db: Database): Promise<number | null> {
  const t = db.t.backups;
  const [row] = await db.db.select({ at: sql<unknown>`max(${t.completedAt})` }).from(t)
    .where(sql`${t.status} = 'completed'`);
  const v = row?.at;
  if (v === null || v === undefined) return null;
  const ms = timestampMs(v); // an aggregate: Drizzle does not map it
  return Number.isFinite(ms) ? ms / 1000 : null;
}
