/**
 * The tables the database holds, read from its own catalog (`sqlite_master` / `pg_tables` of the current
 * schema), and emptying some of them with their identity counters restarted.
 * Story: docs/seeding.md.
 */
import { sql } from "drizzle-orm";
import type { Database, Executor } from "./client.ts";

/** Names of every table of the database (its current schema on Postgres; SQLite's own `sqlite_*` left out), sorted. */
export async function listTables(db: Database, ex: Executor = db.db): Promise<string[]> {
  const rows = db.dialect === "sqlite"
    ? await db.rows<{ name: string }>(
      sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      ex,
    )
    : await db.rows<{ name: string }>(
      sql`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
      ex,
    );
  return rows.map((r) => r.name);
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Deletes every row of `tables` inside `tx` and restarts their identity counters, so they number rows from 1
 * again. References among the listed tables never block it, and a table not listed is never emptied by
 * accident (no CASCADE).
 */
export async function emptyTables(db: Database, tx: Executor, tables: string[]): Promise<void> {
  if (tables.length === 0) return;
  if (db.dialect === "postgres") {
    await db.run(`TRUNCATE ${tables.map(quote).join(", ")} RESTART IDENTITY`, tx);
    return;
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
}

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
