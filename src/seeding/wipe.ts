/**
 * Clearing the application data for a reset: every table except the
 * bookkeeping ones (`BOOKKEEPING_TABLES`: execution history, lock, backup
 * catalog, audit log, security versions) and `seedbed_migrations`. Tables are
 * found in the database itself, so tables added later are covered too.
 * Identity counters restart, so a reset database numbers rows from 1 again
 * (`emptyTables`, src/db/tables.ts).
 * Story: docs/seeding.md ("How the engine works").
 */
import type { Database, Executor } from "../db/client.ts";
import { BOOKKEEPING_TABLES } from "../db/schema.ts";
import { MIGRATIONS_TABLE } from "../db/migrator.ts";
import { emptyTables, listTables } from "../db/tables.ts";

const KEEP = new Set<string>([...BOOKKEEPING_TABLES, MIGRATIONS_TABLE]);

/** Names of the application tables present in the database. */
export async function applicationTables(db: Database, ex: Executor = db.db): Promise<string[]> {
  return (await listTables(db, ex)).filter((n) => !KEEP.has(n) && !n.startsWith("__"));
}

/** Deletes every application row inside `tx`; returns the tables cleared. */
export async function clearApplicationData(db: Database, tx: Executor): Promise<string[]> {
  const tables = await applicationTables(db, tx);
  await emptyTables(db, tx, tables);
  return tables;
}
