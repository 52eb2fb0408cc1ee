/**
 * Which tables a backup holds, in which order, with which columns.
 *
 * Every table of the schema except the bookkeeping ones (`BOOKKEEPING_TABLES`:
 * execution history, locks, the backup catalog, audit log, security
 * versions — kept across restore) is application data. Tables come in
 * foreign-key order (a table after every table it references), so a reader
 * meets parents before children. Column kinds come from the schema kit's
 * vocabulary (`schema_kit.ts`), read from the Postgres definition, which is
 * the same for both dialects. Story: docs/backups.md ("Format").
 */
import { getTableColumns, getTableName } from "drizzle-orm";
import { getTableConfig, type PgColumn, type PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../db/client.ts";
import { BOOKKEEPING_TABLES, pgSchema, type Schema } from "../db/schema.ts";

/** The value kinds of the schema kit, as a backup encodes them. */
export type ColumnKind = "int" | "bigint" | "text" | "bool" | "ts" | "json";

export interface BackupColumn {
  /** SQL column name: the key in the backup's row objects. */
  name: string;
  /** Drizzle property name (for inserts through Drizzle). */
  prop: string;
  kind: ColumnKind;
  notNull: boolean;
}

export interface BackupTable {
  /** SQL table name: the key of the table's array in the backup. */
  name: string;
  /** Key in `db.t`. */
  schemaKey: keyof Schema;
  columns: BackupColumn[];
  /** The single-column primary key (every application table has one). */
  primaryKey: BackupColumn;
  /** Tables this one references (foreign keys), other than itself. */
  references: string[];
  /** Columns that reference this same table (e.g. users.reports_to_id). */
  selfReferences: string[];
}

const KINDS: Record<string, ColumnKind> = {
  PgInteger: "int",
  PgBigInt53: "bigint",
  PgText: "text",
  PgBoolean: "bool",
  PgTimestamp: "ts",
  PgJsonb: "json",
};

const tableName = (t: PgTable) => getTableConfig(t).name;

function describe(key: keyof Schema, table: PgTable): BackupTable {
  const config = getTableConfig(table);
  const columns: BackupColumn[] = Object.entries(getTableColumns(table)).map(([prop, c]) => {
    const col = c as PgColumn;
    const kind = KINDS[col.columnType];
    if (!kind) {
      throw new Error(
        `backups: column ${config.name}.${col.name} has type ${col.columnType}, which the backup format does not encode; ` +
          `add it to KINDS in src/backups/tables.ts and to the format`,
      );
    }
    return { name: col.name, prop, kind, notNull: col.notNull };
  });
  const pk = Object.values(getTableColumns(table)).filter((c) => (c as PgColumn).primary);
  if (pk.length !== 1) {
    throw new Error(`backups: table ${config.name} needs a single-column primary key to be paged through`);
  }
  const references = new Set<string>();
  const selfReferences: string[] = [];
  for (const fk of config.foreignKeys) {
    const ref = fk.reference();
    const target = tableName(ref.foreignTable);
    if (target === config.name) selfReferences.push(...ref.columns.map((c) => c.name));
    else references.add(target);
  }
  return {
    name: config.name,
    schemaKey: key,
    columns,
    primaryKey: columns.find((c) => c.name === (pk[0] as PgColumn).name)!,
    references: [...references],
    selfReferences,
  };
}

/** Orders tables so that each comes after the tables it references. */
function foreignKeyOrder(tables: BackupTable[]): BackupTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: BackupTable[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (t: BackupTable, path: string[]) => {
    const s = state.get(t.name);
    if (s === "done") return;
    if (s === "visiting") {
      throw new Error(`backups: foreign-key cycle between tables ${[...path, t.name].join(" → ")}`);
    }
    state.set(t.name, "visiting");
    for (const r of t.references) {
      const dep = byName.get(r);
      if (dep) visit(dep, [...path, t.name]);
    }
    state.set(t.name, "done");
    out.push(t);
  };
  for (const t of tables) visit(t, []);
  return out;
}

let cached: BackupTable[] | null = null;

/** The application tables, in foreign-key order (parents first). */
export function backupTables(): BackupTable[] {
  if (cached) return cached;
  const skip = new Set<string>(BOOKKEEPING_TABLES);
  // Bookkeeping tables are left out before they are described: they are never paged through.
  const all = (Object.entries(pgSchema) as [keyof Schema, PgTable][])
    .filter(([, table]) => !skip.has(getTableName(table)))
    .map(([key, table]) => describe(key, table));
  cached = foreignKeyOrder(all);
  return cached;
}

/** The Drizzle table object of `t` for the database's dialect. */
export function dialectTable(db: Database, t: BackupTable): Schema[keyof Schema] {
  return db.t[t.schemaKey];
}
