/**
 * Fast multi-row INSERT … ON CONFLICT DO NOTHING for volume data.
 *
 * Drizzle's insert builder wraps every value in objects and walks them one by
 * one; at 10 columns × 1000 rows per statement that costs more than the
 * database itself. Here the statement text is built once per batch shape and
 * the values are mapped with each column's own driver mapping (the same
 * `mapToDriverValue` Drizzle uses) and defaults (`$defaultFn`, `.default()`),
 * then sent through the transaction's own driver connection.
 *
 * Reaching the driver goes through Drizzle's session (`tx.session`): libSQL
 * `session.tx.execute`, postgres.js `session.client.unsafe`, PGlite
 * `session.client.query`. When that shape is not there (a Drizzle upgrade),
 * or a table has an SQL-expression default, `fastInsert` answers null and the
 * caller falls back to the query builder, which is slower but always right.
 * Story: docs/seeding.md ("Decisions and why").
 */
import { type Column, getTableColumns, getTableName, is, SQL } from "drizzle-orm";
import type { Database, Tx } from "./client.ts";
import { transactionDriver } from "./driver_internals.ts";
import type { AnyTable } from "../seeding/types.ts";

// deno-lint-ignore no-explicit-any
type Loose = any;

interface Plan {
  name: string;
  props: string[];
  columns: Column[];
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** Which columns to write: any column a row sets, or that has a client-side default. */
function plan(table: AnyTable, rows: Record<string, unknown>[]): Plan | null {
  const cols = getTableColumns(table) as Record<string, Column>;
  const props: string[] = [];
  for (const [prop, col] of Object.entries(cols)) {
    const c = col as Loose;
    const given = rows.some((r) => r[prop] !== undefined);
    const hasClientDefault = typeof c.defaultFn === "function" || typeof c.onUpdateFn === "function" ||
      (c.default !== undefined && !is(c.default, SQL));
    if (!given && !hasClientDefault) continue; // identity ids, nullable columns: the database fills them
    if (c.default !== undefined && is(c.default, SQL)) return null;
    props.push(prop);
  }
  return { name: getTableName(table), props, columns: props.map((p) => cols[p]) };
}

/** A per-column function: row value → driver value, applying client-side defaults. */
function mapper(col: Column): (v: unknown) => unknown {
  const c = col as Loose;
  const fallback: () => unknown = typeof c.defaultFn === "function"
    ? c.defaultFn
    : typeof c.onUpdateFn === "function"
    ? c.onUpdateFn
    : () => c.default ?? null;
  const toDriver = (v: unknown) => (v === null || v === undefined ? null : col.mapToDriverValue(v));
  return (v) => toDriver(v === undefined ? fallback() : v);
}

/** Bound parameters per statement each dialect accepts (SQLite 32766; Postgres 65535, one kept spare). */
export const MAX_PARAMS = { sqlite: 32766, postgres: 65534 } as const;

/** Rows of `columns` values each that fit one statement of `dialect`, at most `batchSize` (at least 1). */
export function rowsPerStatement(
  dialect: Database["dialect"],
  columns: number,
  batchSize = Infinity,
): number {
  return Math.max(1, Math.min(batchSize, Math.floor(MAX_PARAMS[dialect] / Math.max(1, columns))));
}

/**
 * Inserts `rows` in batches of at most `batchSize` (bounded by the dialect's
 * parameter limit), skipping conflicts. Returns rows inserted, or null when
 * the fast path does not apply (use the query builder instead).
 */
export async function fastInsert(
  db: Database,
  tx: Tx,
  table: AnyTable,
  rows: Record<string, unknown>[],
  batchSize: number,
): Promise<number | null> {
  const run = transactionDriver(db, tx);
  const p = rows.length ? plan(table, rows) : null;
  if (!run || !p || p.props.length === 0) return null;
  const size = rowsPerStatement(db.dialect, p.props.length, batchSize);
  const head = `INSERT INTO ${quote(p.name)} (${p.columns.map((c) => quote(c.name)).join(", ")}) VALUES `;
  const maps = p.columns.map(mapper);
  const texts = new Map<number, string>();
  const textFor = (n: number) => {
    let t = texts.get(n);
    if (!t) {
      const tuples: string[] = [];
      let k = 1;
      for (let r = 0; r < n; r++) {
        const marks = p.props.map(() => (db.dialect === "sqlite" ? "?" : `$${k++}`));
        tuples.push(`(${marks.join(", ")})`);
      }
      t = `${head}${tuples.join(", ")} ON CONFLICT DO NOTHING`;
      texts.set(n, t);
    }
    return t;
  };
  let inserted = 0;
  for (let i = 0; i < rows.length; i += size) {
    const chunk = rows.slice(i, i + size);
    const params: unknown[] = new Array(chunk.length * p.props.length);
    let k = 0;
    for (const row of chunk) {
      for (let j = 0; j < p.props.length; j++) params[k++] = maps[j](row[p.props[j]]);
    }
    inserted += await run(textFor(chunk.length), params);
  }
  return inserted;
}
