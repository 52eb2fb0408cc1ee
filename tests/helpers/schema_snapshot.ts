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

async function postgresSnapshot(db: Database): Promise<SchemaSnapshot> {
  const out: SchemaSnapshot = {};
  const schema = (await db.rows<{ s: string }>(sql`SELECT current_schema() AS s`))[0].s;
  const strip = (s: unknown) => norm(s).replaceAll(`${schema}.`, "").replaceAll(`"${schema}".`, "");
  const tables = await db.rows<{ name: string; type: string }>(
    sql`SELECT table_name AS name, table_type AS type FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
  );
  for (const t of tables) {
    if (t.name === MIGRATIONS_TABLE) continue;
    const columns = await db.rows(sql`
      SELECT column_name, data_type, udt_name, is_nullable, column_default, is_identity, identity_generation,
             character_maximum_length, numeric_precision, numeric_scale, is_generated, generation_expression
      FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${t.name}
      ORDER BY column_name`);
    const indexes = (await db.rows<{ name: string; def: string }>(
      sql`SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ${t.name} ORDER BY indexname`,
    )).map((i) => ({ name: i.name, def: strip(i.def) }));
    const constraints = (await db.rows<{ name: string; type: string; def: string }>(sql`
      SELECT c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid) AS def
      FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE n.nspname = current_schema() AND r.relname = ${t.name} ORDER BY c.conname`)).map((c) => ({
      ...c,
      def: strip(c.def),
    }));
    const triggers = (await db.rows<{ name: string; def: string }>(sql`
      SELECT t.tgname AS name, pg_get_triggerdef(t.oid) AS def
      FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
      WHERE n.nspname = current_schema() AND r.relname = ${t.name} AND NOT t.tgisinternal ORDER BY t.tgname`))
      .map((x) => ({ name: x.name, def: strip(x.def) }));
    out[`${t.type === "VIEW" ? "view" : "table"} ${t.name}`] = { columns, indexes, constraints, triggers };
  }
  for (
    const f of await db.rows<{ name: string; def: string }>(sql`
    SELECT p.proname AS name, pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = current_schema() ORDER BY p.proname`)
  ) out[`function ${f.name}`] = strip(f.def);
  for (
    const s of await db.rows<{ name: string }>(
      sql`SELECT sequence_name AS name FROM information_schema.sequences WHERE sequence_schema = current_schema() ORDER BY sequence_name`,
    )
  ) out[`sequence ${s.name}`] = true;
  for (
    const e of await db.rows<{ name: string; labels: string }>(sql`
    SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS labels
    FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = current_schema() GROUP BY t.typname`)
  ) out[`enum ${e.name}`] = e.labels;
  return out;
}

/** The schema of `db`'s current schema (Postgres) or main database (SQLite). */
export function schemaSnapshot(db: Database): Promise<SchemaSnapshot> {
  return db.dialect === "sqlite" ? sqliteSnapshot(db) : postgresSnapshot(db);
}
