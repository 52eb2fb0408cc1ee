/** Values the metrics read from the database at scrape time (one small query each). */
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
