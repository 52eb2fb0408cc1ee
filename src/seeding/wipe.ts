/**
 * Clearing the application data for a reset: every table except the
 * bookkeeping ones (`BOOKKEEPING_TABLES`: execution history, lock, backup
 * catalog, audit log, security versions) and `seedbed_migrations`. Tables are
 * found in the database itself, so tables added later are covered too.
 * Identity counters restart, so a reset database numbers rows from 1 again.
 * Story: docs/seeding.md ("How the engine works").
 */
import { sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import { BOOKKEEPING_TABLES } from "../db/schema.ts";
import { MIGRATIONS_TABLE } from "../db/migrator.ts";

const KEEP = new Set<string>([...BOOKKEEPING_TABLES, MIGRATIONS_TABLE]);

/** Names of the application tables present in the database. */
export async function applicationTables(db: Database, ex: Executor = db.db): Promise<string[]> {
  const rows = db.dialect === "sqlite"
    ? await db.rows<{ name: string }>(
      sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      ex,
    )
    : await db.rows<{ name: string }>(
      sql`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
      ex,
    );
  return rows.map((r) => r.name).filter((n) => !KEEP.has(n) && !n.startsWith("__"));
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** SQLite: children before parents, so that RESTRICT references never block a delete. */
async function deleteOrder(db: Database, tables: string[], ex: Executor): Promise<string[]> {
  const parents = new Map<string, string[]>();
  for (const t of tables) {
    const fks = await db.rows<{ parent: string }>(
      sql`SELECT "table" AS parent FROM pragma_foreign_key_list(${t})`,
      ex,
    );
    parents.set(t, fks.map((f) => f.parent).filter((p) => p !== t && tables.includes(p)));
  }
  const parentsFirst: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const p of parents.get(t) ?? []) visit(p);
    parentsFirst.push(t);
  };
  tables.forEach(visit);
  return parentsFirst.reverse();
}

/** Deletes every application row inside `tx`; returns the tables cleared. */
export async function clearApplicationData(db: Database, tx: Executor): Promise<string[]> {
  const tables = await applicationTables(db, tx);
  if (tables.length === 0) return tables;
  if (db.dialect === "postgres") {
    // One statement: references among the listed tables never block it, and
    // without CASCADE a bookkeeping table can never be emptied by accident.
    await db.run(`TRUNCATE ${tables.map(quote).join(", ")} RESTART IDENTITY`, tx);
    return tables;
  }
  await db.run("PRAGMA defer_foreign_keys = ON", tx);
  for (const t of await deleteOrder(db, tables, tx)) await db.run(`DELETE FROM ${quote(t)}`, tx);
  const seq = await db.rows(
    sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`,
    tx,
  );
  if (seq.length) {
    await db.run(
      sql`DELETE FROM sqlite_sequence WHERE name IN (${sql.join(tables.map((t) => sql`${t}`), sql`, `)})`,
      tx,
    );
  }
  return tables;
}
