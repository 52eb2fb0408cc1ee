/**
 * A named lock held by one transaction until it ends (commit or rollback), taken without waiting: on Postgres
 * a transaction-level advisory lock (`pg_try_advisory_xact_lock` of the name's `hashtext`). libSQL needs none:
 * its write transactions begin `IMMEDIATE`, so writers are already serialized by the database itself, across
 * processes too.
 * Story: docs/seeding.md.
 */
import { sql } from "drizzle-orm";
import type { Database, Executor } from "./client.ts";

/** Takes lock `name` for transaction `tx`; false when another transaction holds it. Always true on libSQL. */
export async function tryTransactionLock(db: Database, tx: Executor, name: string): Promise<boolean> {
  if (db.dialect !== "postgres") return true;
  const [row] = await db.rows<{ ok: boolean }>(
    sql`SELECT pg_try_advisory_xact_lock(hashtext(${name})) AS ok`,
    tx,
  );
  return Boolean(row?.ok);
}
