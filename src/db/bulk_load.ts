/**
 * The dialect's side of loading many rows into emptied tables inside one transaction (a restore:
 * src/backups/loader.ts streams the rows in), as pg_restore does:
 *
 * - Postgres: `beginBulkLoad` drops the tables' foreign keys for the load — and, for a large one, their
 *   secondary indexes (a sort beats a million B-tree inserts) — then empties them (TRUNCATE);
 *   `finishBulkLoad` rebuilds the indexes, re-adds the foreign keys (one validating pass each) and advances
 *   the identity sequences past the loaded ids. Where rows do not stream through COPY (embedded PGlite),
 *   `jsonRowsInserter` inserts a batch as JSON through `json_populate_recordset`.
 * - libSQL: foreign-key checks are deferred to the end of the transaction and the tables emptied children
 *   first; `danglingReferences` runs the check explicitly (`PRAGMA foreign_key_check`) so that a dangling
 *   reference can be named, and `finishBulkLoad` advances `sqlite_sequence` past the loaded ids. Rows go in
 *   through the query builder (`jsonRowsInserter` is null).
 *
 * Any failure leaves it to the caller's transaction to roll everything back — DDL included, on Postgres.
 * Story: docs/backups.md.
 */
import { sql } from "drizzle-orm";
import type { Database, Executor } from "./client.ts";

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A table loaded in bulk: its name and its primary key (the column of the identity counter). */
export interface LoadedTable {
  name: string;
  primaryKey: { name: string };
}

interface Ddl {
  table: string;
  name: string;
  definition: string;
}

/** What `beginBulkLoad` took away (Postgres), for `finishBulkLoad` to put back. */
export interface BulkLoad {
  readonly foreignKeys: readonly Ddl[];
  readonly indexes: readonly Ddl[];
}

/** A row of SQLite's `PRAGMA foreign_key_check`: a row of `table` referencing a missing row of `parent`. */
export interface DanglingReference {
  table: string;
  rowid: number;
  parent: string;
}

function byTable(items: readonly Ddl[]): Map<string, Ddl[]> {
  const out = new Map<string, Ddl[]>();
  for (const it of items) out.set(it.table, [...(out.get(it.table) ?? []), it]);
  return out;
}

/**
 * Empties `tables` (parents before children) inside `tx` and readies them for a bulk load; `dropIndexes`:
 * drop their secondary indexes too, until `finishBulkLoad` (Postgres; those backing a constraint stay).
 */
export async function beginBulkLoad(
  db: Database,
  tx: Executor,
  tables: string[],
  options: { dropIndexes: boolean },
): Promise<BulkLoad> {
  if (db.dialect !== "postgres") {
    await db.run("PRAGMA defer_foreign_keys = ON", tx);
    for (const t of [...tables].reverse()) await db.run(`DELETE FROM ${quote(t)}`, tx);
    return { foreignKeys: [], indexes: [] };
  }
  const inTables = sql.join(tables.map((n) => sql`${n}`), sql`, `);
  const foreignKeys = await db.rows<Ddl>(
    sql`SELECT r.relname AS "table", c.conname AS name, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
        WHERE c.contype = 'f' AND r.relnamespace = current_schema()::regnamespace AND r.relname IN (${inTables})
        ORDER BY r.relname, c.conname`,
    tx,
  );
  for (const [table, fks] of byTable(foreignKeys)) {
    const drops = fks.map((fk) => `DROP CONSTRAINT ${quote(fk.name)}`).join(", ");
    await db.run(`ALTER TABLE ${quote(table)} ${drops}`, tx);
  }
  let indexes: Ddl[] = [];
  if (options.dropIndexes) {
    // Secondary indexes only: those backing a constraint (the primary keys) stay.
    indexes = await db.rows<Ddl>(
      sql`SELECT i.tablename AS "table", i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
          WHERE i.schemaname = current_schema() AND i.tablename IN (${inTables})
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = to_regclass(quote_ident(i.indexname)))
          ORDER BY i.tablename, i.indexname`,
      tx,
    );
    if (indexes.length) {
      await db.run(`DROP INDEX ${indexes.map((ix) => quote(ix.name)).join(", ")}`, tx);
    }
  }
  await db.run(`TRUNCATE ${tables.map(quote).join(", ")}`, tx);
  return { foreignKeys, indexes };
}

/**
 * Inserts rows given as JSON object texts into `table`'s `columns`, in one statement (Postgres:
 * `json_populate_recordset`, each value converted by the column's own type); null on libSQL, where the
 * caller inserts through the query builder.
 */
export function jsonRowsInserter(
  db: Database,
  tx: Executor,
): ((table: string, columns: string[], rows: string[]) => Promise<void>) | null {
  if (db.dialect !== "postgres") return null;
  return async (table, columns, rows) => {
    const cols = columns.map(quote).join(", ");
    await db.run(
      sql`INSERT INTO ${sql.raw(quote(table))} (${sql.raw(cols)}) SELECT ${
        sql.raw(cols)
      } FROM json_populate_recordset(NULL::${sql.raw(quote(table))}, ${"[" + rows.join(",") + "]"}::json)`,
      tx,
    );
  };
}

/**
 * The references the load left dangling (libSQL, whose foreign-key checks were deferred); always none on
 * Postgres, where `finishBulkLoad` re-adding a foreign key fails on one instead.
 */
export async function danglingReferences(db: Database, tx: Executor): Promise<DanglingReference[]> {
  if (db.dialect === "postgres") return [];
  return await db.rows<DanglingReference>(sql`PRAGMA foreign_key_check`, tx);
}

/**
 * Ends the load of `tables`: rebuilds the dropped indexes and re-adds the foreign keys, validating every
 * reference (Postgres), and advances each table's identity counter past its largest id (never backwards).
 */
export async function finishBulkLoad(
  db: Database,
  tx: Executor,
  load: BulkLoad,
  tables: LoadedTable[],
): Promise<void> {
  if (db.dialect !== "postgres") {
    for (const t of tables) await advanceSqliteSequence(db, tx, t);
    return;
  }
  for (const ix of load.indexes) await db.run(ix.definition, tx);
  for (const [table, fks] of byTable(load.foreignKeys)) {
    const adds = fks.map((fk) => `ADD CONSTRAINT ${quote(fk.name)} ${fk.definition}`).join(", ");
    await db.run(`ALTER TABLE ${quote(table)} ${adds}`, tx);
  }
  await advancePostgresSequences(db, tx, tables);
}

/** setval past the loaded ids (never backwards), every table in one round trip. */
async function advancePostgresSequences(db: Database, tx: Executor, tables: LoadedTable[]): Promise<void> {
  const lit = (v: string) => `'${v.replaceAll("'", "''")}'`;
  const pairs = tables.map((t) => `(${lit(t.name)}, ${lit(t.primaryKey.name)})`).join(", ");
  await db.run(
    `DO $restore$ DECLARE r record; seq text; top bigint; used bigint; BEGIN
       FOR r IN SELECT * FROM (VALUES ${pairs}) AS v(tbl, col) LOOP
         seq := pg_get_serial_sequence(quote_ident(r.tbl), r.col);
         CONTINUE WHEN seq IS NULL;
         EXECUTE format('SELECT max(%I) FROM %I', r.col, r.tbl) INTO top;
         EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s', seq) INTO used;
         top := GREATEST(COALESCE(top, 0), used);
         IF top > 0 THEN PERFORM setval(seq, top, true); END IF;
       END LOOP;
     END $restore$`,
    tx,
  );
}

async function advanceSqliteSequence(db: Database, tx: Executor, t: LoadedTable): Promise<void> {
  const pk = quote(t.primaryKey.name);
  const [r] = await db.rows<{ max_id: number | null; seq: number | null }>(
    sql`SELECT (SELECT max(${sql.raw(pk)}) FROM ${sql.raw(quote(t.name))}) AS max_id,
               (SELECT seq FROM sqlite_sequence WHERE name = ${t.name}) AS seq`,
    tx,
  );
  const max = Number(r?.max_id ?? 0);
  if (max === 0) return;
  if (r.seq === null) {
    await db.run(sql`INSERT INTO sqlite_sequence (name, seq) VALUES (${t.name}, ${max})`, tx);
  } else if (Number(r.seq) < max) {
    await db.run(sql`UPDATE sqlite_sequence SET seq = ${max} WHERE name = ${t.name}`, tx);
  }
}
