/**
 * A comparable description of a database's schema (tables, columns with
 * types, nullability and defaults, indexes, constraints, triggers, functions,
 * sequences, views), for the migration round-trip test. Columns are compared
 * by name, not position. The migrations table itself is left out.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { MIGRATIONS_TABLE } from "../../src/db/migrator.ts";

export type SchemaSnapshot = Record<string, unknown>;

const norm = (s: unknown) => String(s ?? "").replace(/\s+/g, " ").trim();

async function sqliteSnapshot(db: Database): Promise<SchemaSnapshot> {
  const objects = await db.rows<{ type: string; name: string; tbl_name: string; sql: string | null }>(
    sql`SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
  );
  const out: SchemaSnapshot = {};
  for (const o of objects) {
    if (o.name === MIGRATIONS_TABLE) continue;
    if (o.type === "table") {
      const columns = await db.rows(
        sql`SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(${o.name}) ORDER BY name`,
      );
      const indexes = [];
      for (
        const ix of await db.rows<{ name: string; unique: number; origin: string; partial: number }>(
          sql`SELECT name, "unique", origin, partial FROM pragma_index_list(${o.name}) ORDER BY name`,
        )
      ) {
        const cols = await db.rows(
          sql`SELECT seqno, name, "desc", coll FROM pragma_index_xinfo(${ix.name}) WHERE key = 1`,
        );
        indexes.push({ ...ix, cols });
      }
      const foreignKeys = await db.rows(
        sql`SELECT "table", "from", "to", on_update, on_delete, "match" FROM pragma_foreign_key_list(${o.name}) ORDER BY "from", "table"`,
      );
      out[`table ${o.name}`] = {
        columns,
        indexes,
        foreignKeys,
        autoincrement: /AUTOINCREMENT/i.test(o.sql ?? ""),
        checks: [...(o.sql ?? "").matchAll(/CHECK\s*\(([^)]*)\)/gi)].map((m) => norm(m[1])).sort(),
      };
    } else if (o.type === "index") {
      continue; // described with its table (auto-indexes have no SQL)
    } else {
      out[`${o.type} ${o.name}`] = { table: o.tbl_name, sql: norm(o.sql) };
    }
  }
  return out;
}

/**
 * Read from pg_catalog by the schema's OID, one query per kind of object: information_schema's views scan
 * the whole catalog (every schema of the test run) on every call.
 */
async function postgresSnapshot(db: Database): Promise<SchemaSnapshot> {
  const out: SchemaSnapshot = {};
  const schema = (await db.rows<{ s: string }>(sql`SELECT current_schema() AS s`))[0].s;
  const strip = (s: unknown) => norm(s).replaceAll(`${schema}.`, "").replaceAll(`"${schema}".`, "");
  const ns = sql`current_schema()::regnamespace`;
  const tables = await db.rows<{ name: string; kind: string }>(
    sql`SELECT relname AS name, relkind AS kind FROM pg_class WHERE relnamespace = ${ns}
      AND relkind IN ('r', 'p', 'v') ORDER BY relname`,
  );
  const byTable = <T extends { table: string }>(rows: T[]) => {
    const m = new Map<string, Omit<T, "table">[]>();
    for (const { table, ...rest } of rows) {
      if (!m.has(table)) m.set(table, []);
      m.get(table)!.push(rest);
    }
    return m;
  };
  const columns = byTable(
    await db.rows<{ table: string }>(sql`
      SELECT c.relname AS table, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type,
             a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS column_default,
             a.attidentity AS identity, a.attgenerated AS generated
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE c.relnamespace = ${ns} AND c.relkind IN ('r', 'p', 'v') ORDER BY c.relname, a.attname`),
  );
  const indexes = byTable(
    (await db.rows<{ table: string; name: string; def: string }>(sql`
      SELECT t.relname AS table, i.relname AS name, pg_get_indexdef(i.oid) AS def
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = ${ns} ORDER BY t.relname, i.relname`)).map((i) => ({ ...i, def: strip(i.def) })),
  );
  const constraints = byTable(
    (await db.rows<{ table: string; name: string; type: string; def: string }>(sql`
      SELECT r.relname AS table, c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid) AS def
      FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE r.relnamespace = ${ns} ORDER BY r.relname, c.conname`)).map((c) => ({ ...c, def: strip(c.def) })),
  );
  const triggers = byTable(
    (await db.rows<{ table: string; name: string; def: string }>(sql`
      SELECT r.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS def
      FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid
      WHERE r.relnamespace = ${ns} AND NOT t.tgisinternal ORDER BY r.relname, t.tgname`))
      .map((x) => ({ ...x, def: strip(x.def) })),
  );
  for (const t of tables) {
    if (t.name === MIGRATIONS_TABLE) continue;
    out[`${t.kind === "v" ? "view" : "table"} ${t.name}`] = {
      columns: columns.get(t.name) ?? [],
      indexes: indexes.get(t.name) ?? [],
      constraints: constraints.get(t.name) ?? [],
      triggers: triggers.get(t.name) ?? [],
    };
  }
  for (
    const f of await db.rows<{ name: string; def: string }>(sql`
    SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def FROM pg_proc p
    WHERE p.pronamespace = ${ns} ORDER BY p.proname`)
  ) out[`function ${f.name}`] = strip(f.def);
  for (
    const s of await db.rows<{ name: string }>(
      sql`SELECT relname AS name FROM pg_class WHERE relnamespace = ${ns} AND relkind = 'S' ORDER BY relname`,
    )
  ) out[`sequence ${s.name}`] = true;
  for (
    const e of await db.rows<{ name: string; labels: string }>(sql`
    SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
    WHERE t.typnamespace = ${ns} GROUP BY t.typname`)
  ) out[`enum ${e.name}`] = e.labels;
  return out;
}

/** The schema of `db`'s current schema (Postgres) or main database (SQLite). */
export function schemaSnapshot(db: Database): Promise<SchemaSnapshot> {
  return db.dialect === "sqlite" ? sqliteSnapshot(db) : postgresSnapshot(db);
}
