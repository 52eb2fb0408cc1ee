/**
 * Which statements of a migration destroy data, and how much data is there
 * to destroy: `migrate down` says so and asks before running them.
 *
 * Recognised: DROP TABLE, ALTER TABLE … DROP COLUMN, DELETE FROM, TRUNCATE,
 * and drizzle-kit's SQLite table rebuild (`__new_<table>`), whose copy keeps
 * only the columns its INSERT names. Must never break: a statement that
 * drops a table or column holding rows is always reported.
 * Story: docs/migrations.md ("A down that drops data").
 */
import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

export type LossKind = "drop table" | "drop column" | "delete rows" | "truncate";

/** Something a statement would destroy. */
export interface LossTarget {
  kind: LossKind;
  table: string;
  column?: string;
}

/** A target that holds data right now, with how many rows. */
export interface DataLoss extends LossTarget {
  rows: number;
}

const ID = String.raw`[\`"\[]?([A-Za-z_][\w$]*)[\`"\]]?`;
const QUALIFIED = String.raw`(?:[\`"\[]?[A-Za-z_][\w$]*[\`"\]]?\.)?${ID}`;
const DROP_TABLE = new RegExp(String.raw`^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}`, "i");
const DROP_COLUMN = new RegExp(
  String
    .raw`^\s*ALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?${QUALIFIED}\s+DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?${ID}`,
  "i",
);
const DELETE = new RegExp(String.raw`^\s*DELETE\s+FROM\s+${QUALIFIED}`, "i");
const TRUNCATE = new RegExp(String.raw`^\s*TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?${QUALIFIED}`, "i");
const REBUILD_CREATE = /CREATE\s+TABLE\s+[`"]__new_([\w$]+)[`"]/i;
const REBUILD_INSERT = /INSERT\s+INTO\s+[`"]__new_([\w$]+)[`"]\s*\(([^)]*)\)/i;

/** Statements without their leading `--` comment lines. */
function body(statement: string): string {
  return statement.split("\n").filter((l) => !l.trim().startsWith("--")).join("\n");
}

/**
 * The destructive targets of a list of statements (pure: reads no database).
 * `columnsOf` answers the current columns of a table, for rebuilds.
 */
export function lossTargets(
  statements: string[],
  columnsOf: (table: string) => string[] = () => [],
): LossTarget[] {
  const out: LossTarget[] = [];
  const rebuilt = new Map<string, string[]>();
  for (const raw of statements) {
    // drizzle-kit may put several statements in one chunk (`...;--> statement-breakpoint` is missing in hand-written SQL).
    for (const s of body(raw).split(/;\s*(?=\S)/)) {
      const create = REBUILD_CREATE.exec(s);
      if (create) rebuilt.set(create[1], []);
      const insert = REBUILD_INSERT.exec(s);
      if (insert) {
        rebuilt.set(insert[1], insert[2].split(",").map((c) => c.trim().replace(/^[`"\[]|[`"\]]$/g, "")));
      }
      let m: RegExpExecArray | null;
      if ((m = DROP_TABLE.exec(s))) {
        const table = m[1];
        if (table.startsWith("__new_")) continue;
        const kept = rebuilt.get(table);
        if (kept) {
          // A rebuild: the old table's rows survive, in the columns the copy names.
          for (const c of columnsOf(table)) {
            if (!kept.includes(c)) out.push({ kind: "drop column", table, column: c });
          }
        } else out.push({ kind: "drop table", table });
      } else if ((m = DROP_COLUMN.exec(s))) {
        if (/DROP\s+(CONSTRAINT|DEFAULT|NOT\s+NULL|IDENTITY|EXPRESSION)/i.test(s)) continue;
        out.push({ kind: "drop column", table: m[1], column: m[2] });
      } else if ((m = DELETE.exec(s))) {
        out.push({ kind: "delete rows", table: m[1] });
      } else if ((m = TRUNCATE.exec(s))) {
        out.push({ kind: "truncate", table: m[1] });
      }
    }
  }
  return out;
}

async function tableColumns(db: Database, table: string): Promise<string[]> {
  if (db.dialect === "sqlite") {
    const rows = await db.rows<{ name: string }>(sql`SELECT name FROM pragma_table_info(${table})`);
    return rows.map((r) => r.name);
  }
  const rows = await db.rows<{ name: string }>(
    sql`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table}`,
  );
  return rows.map((r) => r.name);
}

function quote(db: Database, name: string): string {
  return db.dialect === "sqlite" ? `\`${name.replaceAll("`", "``")}\`` : `"${name.replaceAll('"', '""')}"`;
}

/**
 * The data the statements would destroy in `db` as it is now: each target
 * that exists and holds rows (for a column: rows where it is not null).
 */
export async function measureLosses(db: Database, statements: string[]): Promise<DataLoss[]> {
  const columns = new Map<string, string[]>();
  for (const s of statements) {
    const m = /DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?[`"]?([\w$]+)[`"]?/i.exec(s);
    if (m) columns.set(m[1], await tableColumns(db, m[1]));
  }
  const out: DataLoss[] = [];
  for (const t of lossTargets(statements, (table) => columns.get(table) ?? [])) {
    const cols = columns.get(t.table) ?? await tableColumns(db, t.table);
    if (cols.length === 0) continue; // the table does not exist (yet)
    if (t.column && !cols.includes(t.column)) continue;
    const where = t.column ? ` WHERE ${quote(db, t.column)} IS NOT NULL` : "";
    const [row] = await db.rows<{ n: number | string }>(
      sql.raw(`SELECT COUNT(*) AS n FROM ${quote(db, t.table)}${where}`),
    );
    const rows = Number(row?.n ?? 0);
    if (rows > 0) out.push({ ...t, rows });
  }
  return out;
}

/** `table users (12 rows)`, `column users.email (12 values)`. */
export function describeLoss(l: DataLoss): string {
  const rows = `${l.rows} ${l.rows === 1 ? "row" : "rows"}`;
  switch (l.kind) {
    case "drop table":
      return `drops table ${l.table} (${rows})`;
    case "drop column":
      return `drops column ${l.table}.${l.column} (${l.rows} ${l.rows === 1 ? "value" : "values"})`;
    case "delete rows":
      return `deletes rows of ${l.table} (${rows} now)`;
    case "truncate":
      return `empties ${l.table} (${rows})`;
  }
}
