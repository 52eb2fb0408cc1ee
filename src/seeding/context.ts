/**
 * The helpers a seeder gets: get-or-create and upsert by a natural key (with
 * correct counting: an identical row is neither created nor updated), batched
 * bulk insert, and a per-run password-hash cache. Everything runs on the
 * run's transaction. Story: docs/seeding.md ("How the engine works").
 */
import { and, eq, getTableColumns, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Column } from "drizzle-orm";
import type { Database, Tx } from "../db/client.ts";
import type { Logger } from "../log.ts";
import { fastInsert, rowsPerStatement } from "../db/bulk_insert.ts";
import type { Paths } from "../paths.ts";
import { createRandom } from "./random.ts";
import type { AnyTable, Lazy, NewRow, Row, SeedContext, SeedRunOptions, SeedStats } from "./types.ts";

/** What every seeder of one run shares. */
export interface RunScope {
  tx: Tx;
  db: Database;
  options: SeedRunOptions;
  executionId: number;
  logger: Logger;
  hashPassword: (plain: string) => Promise<string>;
  announce: (message: string) => void;
  /** password → hash promise, shared by every seeder of the run. */
  hashCache: Map<string, Promise<string>>;
  /** "generic": bulk inserts use the query builder only (tests compare both paths). */
  paths?: Paths;
  /**
   * Called with the rows each bulk-insert slice wrote (progress for long runs): rows a re-run finds already
   * there are not counted, so the sum is the seeder's `created`.
   */
  progress?: (rows: number) => void;
}

/** Rows per bulk-insert slice when progress is reported. */
const PROGRESS_SLICE = 5000;

// deno-lint-ignore no-explicit-any
type Loose = any;

function columnsOf(table: AnyTable): Record<string, Column> {
  return getTableColumns(table) as Record<string, Column>;
}

/** A WHERE clause matching every (column → value) of `key`; null matches NULL. */
export function keyWhere(table: AnyTable, key: Record<string, unknown>): SQL {
  const cols = columnsOf(table);
  const parts = Object.entries(key).map(([k, v]) => {
    const c = cols[k];
    if (!c) throw new Error(`table has no column "${k}"`);
    return v === null || v === undefined ? isNull(c) : eq(c, v);
  });
  if (parts.length === 0) throw new Error("a natural key needs at least one column");
  return and(...parts)!;
}

function stable(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${
    Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(",")
  }}`;
}

/** Value equality as stored: dates by instant, JSON by content (jsonb reorders keys). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  if (a instanceof Date || b instanceof Date) {
    return new Date(a as Date).getTime() === new Date(b as Date).getTime();
  }
  if (typeof a === "object" && typeof b === "object") return stable(a) === stable(b);
  return false;
}

async function resolve<T>(v: Lazy<T> | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : v;
}

/** Builds the context one seeder receives. */
export function createSeedContext(scope: RunScope, seeder: string): SeedContext {
  const { tx } = scope;
  const stats: SeedStats = { created: 0, updated: 0, deleted: 0 };
  const q = tx as Loose;

  const find = async <T extends AnyTable>(
    table: T,
    key: Record<string, unknown>,
  ): Promise<Row<T> | undefined> => {
    const rows = await q.select().from(table).where(keyWhere(table, key)).limit(1);
    return rows[0];
  };

  const insert = async <T extends AnyTable>(table: T, values: Record<string, unknown>): Promise<Row<T>> => {
    const rows = await q.insert(table).values(values).returning();
    stats.created++;
    return rows[0];
  };

  const ctx: SeedContext = {
    tx,
    t: scope.db.t,
    dialect: scope.db.dialect,
    options: scope.options,
    executionId: scope.executionId,
    logger: scope.logger.child({ seeder }),
    stats,
    random: (stream) => createRandom(scope.options.randomSeed, `${seeder}:${stream}`),

    async getOrCreate<T extends AnyTable>(
      table: T,
      key: Partial<NewRow<T>>,
      values?: Lazy<Partial<NewRow<T>>>,
    ) {
      const existing = await find(table, key);
      if (existing) return { row: existing, created: false };
      const row = await insert<T>(table, { ...(await resolve(values)), ...key });
      return { row, created: true };
    },

    async upsert<T extends AnyTable>(
      table: T,
      key: Partial<NewRow<T>>,
      values: Partial<NewRow<T>>,
      onCreate?: Lazy<Partial<NewRow<T>>>,
    ) {
      const existing = await find(table, key) as Record<string, unknown> | undefined;
      if (!existing) {
        const row = await insert<T>(table, { ...(await resolve(onCreate)), ...values, ...key });
        return { row, status: "created" as const };
      }
      const changed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(values)) {
        if (v !== undefined && !sameValue(existing[k], v)) changed[k] = v;
      }
      if (Object.keys(changed).length === 0) return { row: existing as Row<T>, status: "unchanged" as const };
      const rows = await q.update(table).set(changed).where(keyWhere(table, key)).returning();
      stats.updated++;
      return { row: rows[0] as Row<T>, status: "updated" as const };
    },

    async upsertMany<T extends AnyTable>(
      table: T,
      key: keyof NewRow<T> & string,
      rows: Partial<NewRow<T>>[],
    ) {
      const col = columnsOf(table)[key];
      if (!col) throw new Error(`table has no column "${key}"`);
      const out = { created: 0, updated: 0, unchanged: 0 };
      const existing = new Map<unknown, Record<string, unknown>>();
      const keys = rows.map((r) => (r as Record<string, unknown>)[key]);
      for (let i = 0; i < keys.length; i += 500) {
        const found = await q.select().from(table).where(inArray(col, keys.slice(i, i + 500)));
        for (const row of found) existing.set(row[key], row);
      }
      const missing: Record<string, unknown>[] = [];
      for (const r of rows as Record<string, unknown>[]) {
        const have = existing.get(r[key]);
        if (!have) {
          missing.push(r);
          continue;
        }
        const changed: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) {
          if (v !== undefined && !sameValue(have[k], v)) changed[k] = v;
        }
        if (Object.keys(changed).length === 0) {
          out.unchanged++;
          continue;
        }
        await q.update(table).set(changed).where(eq(col, r[key]));
        out.updated++;
      }
      const perRow = Object.keys(columnsOf(table)).length;
      const size = rowsPerStatement(scope.db.dialect, perRow);
      for (let i = 0; i < missing.length; i += size) {
        await q.insert(table).values(missing.slice(i, i + size));
      }
      out.created = missing.length;
      stats.created += out.created;
      stats.updated += out.updated;
      return out;
    },

    async bulkInsert<T extends AnyTable>(table: T, rows: NewRow<T>[], options: { batchSize?: number } = {}) {
      if (rows.length === 0) return 0;
      if (scope.progress && rows.length > PROGRESS_SLICE) {
        // Progress is asked for (a CLI run): insert in slices and report after each.
        let total = 0;
        for (let i = 0; i < rows.length; i += PROGRESS_SLICE) {
          const slice = rows.slice(i, i + PROGRESS_SLICE);
          total += await ctx.bulkInsert(table, slice, options);
        }
        return total;
      }
      const batch = options.batchSize ?? 1000;
      let inserted = scope.paths === "generic"
        ? null
        : await fastInsert(scope.db, tx, table, rows as Record<string, unknown>[], batch);
      if (inserted === null) {
        // The query builder: slower, same result.
        const perRow = Object.keys(columnsOf(table)).length;
        const size = rowsPerStatement(scope.db.dialect, perRow, batch);
        inserted = 0;
        for (let i = 0; i < rows.length; i += size) {
          const chunk = rows.slice(i, i + size);
          const out = await q.insert(table).values(chunk).onConflictDoNothing().returning({
            one: sql<number>`1`,
          });
          inserted += out.length as number;
        }
      }
      stats.created += inserted;
      scope.progress?.(inserted);
      return inserted;
    },

    async remove<T extends AnyTable>(table: T, where: SQL) {
      const out = await q.delete(table).where(where).returning({ one: sql<number>`1` });
      stats.deleted += out.length;
      return out.length as number;
    },

    passwordHash(plain: string) {
      let p = scope.hashCache.get(plain);
      if (!p) {
        p = scope.hashPassword(plain);
        scope.hashCache.set(plain, p);
      }
      return p;
    },

    announce: (message) => scope.announce(message),
  };
  return ctx;
}
