/**
 * One repository shape for every tenant-scoped business table (crm leads,
 * manufacturing orders, …). Every query carries the organization and the
 * caller's record scope in its WHERE clause:
 *
 * - own:  owner = caller
 * - team: owner = caller OR owner IN (users of the organization reporting to the caller)
 * - all:  every record of the organization
 *
 * The owner is the table's record-scope column: `owner_id`, or the one its module declares (`owner`).
 *
 * A record outside the organization or the scope is simply not found.
 * Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import {
  and,
  asc,
  type Column,
  count,
  eq,
  getTableColumns,
  gt,
  inArray,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { containsText, type Database, type Executor, lockForUpdate, needsRowLocks } from "../db/client.ts";
import type { ModuleTables, TenantTable } from "../db/module_tables.ts";
import { REGISTRY_RESOURCES } from "./registry.ts";
import { type RawValues, rawValuesOf } from "../db/raw_rows.ts";
import { type JsonRow, jsonRowMapper } from "./records_json.ts";

/** The tables this repository serves: every module table (all share id, organization_id, an owner), and files. */
export type RecordTableKey = keyof ModuleTables | "files";

/** A reference field of a module table to another: what deleting the referenced record does to its rows. */
/** A table whose records keep a delete from happening, and why (see `RecordsRepository.delete`). */
export interface Blocker {
  table: string;
  reason: "restrict" | "scope";
}

export interface Dependent {
  key: string;
  prop: string;
  sqlTable: string;
  module: string;
  submodule: string;
  onDelete: "cascade" | "set null" | "restrict";
}

/** Who reads or writes: the organization acted on, the record scope and the user. */
export interface RecordScope {
  organizationId: number;
  scope: "own" | "team" | "all";
  userId: number;
}

export interface Page {
  skip: number;
  limit: number;
  /** Keyset position: only records with an id above it (a list's `next_cursor`). */
  after?: number;
  /** Count every matching record (default: count up to `TOTAL_CAP`, so that a page costs the same at any size). */
  exactTotal?: boolean;
}

/** Bounded totals stop counting here: `total` is exact up to this many records, else `TOTAL_CAP` and not exact. */
export const TOTAL_CAP = 1000;

// The tables share the tenant columns used here; drizzle's per-table types differ, so the
// repository works on the bare tenant table type and casts the table once (same runtime surface).
type T = TenantTable<string, Record<never, never>>;
export type RecordRow = Record<string, unknown> & { id: number; organizationId: number };

/** A query built once, run with values for its placeholders (drizzle's prepared query, either dialect). */
interface Prepared<R> {
  execute(values: Record<string, unknown>): Promise<R[]>;
}

/** The record-scope column's property of each table this repository serves. */
const OWNER_KEYS = new Map<string, string>([
  ["files", "ownerId"],
  ...REGISTRY_RESOURCES.map((r) => [r.key, r.ownerKey] as [string, string]),
]);

export class RecordsRepository {
  private readonly table: T;
  /** The record-scope column. */
  private readonly owner: T["ownerId"];
  /** The hot reads (list, get) built once per scope kind: building the SQL cost as much as running it. */
  readonly #prepared = new Map<string, Prepared<Record<string, unknown>>>();
  /** The table's property names in select order (the keys of a row, as drizzle builds it). */
  readonly #columnProps: string[];
  /** The hot reads' raw-row runners (null: the driver has none, Drizzle's path serves). */
  readonly #raw = new Map<string, RawValues | null>();
  /** A raw row of this table (select order) → its JSON object (`toJson` of Drizzle's row). */
  readonly #json: (raw: ArrayLike<unknown>) => JsonRow;
  /** The module tables' reference fields that point at this table (what a delete would cascade through). */
  readonly referencedBy: readonly Dependent[];
  constructor(private readonly db: Database, readonly key: RecordTableKey) {
    this.table = (db.t as unknown as Record<string, T>)[key];
    const ownerKey = OWNER_KEYS.get(key);
    const owner = ownerKey === undefined
      ? undefined
      : (this.table as unknown as Record<string, T["ownerId"]>)[ownerKey];
    if (!this.table || !owner) throw new Error(`records: ${key} is no record table with an owner column`);
    this.owner = owner;
    this.#columnProps = Object.keys(getTableColumns(this.table));
    this.#json = jsonRowMapper(getTableColumns(this.table));
    const sqlTable = REGISTRY_RESOURCES.find((r) => r.key === key)?.table;
    this.referencedBy = REGISTRY_RESOURCES.flatMap((r) =>
      Object.entries(r.fields).filter(([, f]) => f.spec.kind === "ref" && f.spec.references === sqlTable)
        .map(([prop, f]) => ({
          key: r.key,
          prop,
          sqlTable: r.table,
          module: r.module,
          submodule: r.submodule,
          onDelete: f.spec.onDelete ?? "set null",
        }))
    );
  }

  /** The raw-row runner of the prepared `name` query for `scope` (null when the driver has none). */
  #rawOf(name: "list" | "get", scope: RecordScope["scope"]): RawValues | null {
    const key = `${name}:${scope}`;
    let r = this.#raw.get(key);
    if (r === undefined) {
      r = rawValuesOf(this.db, this.#prepare(name, scope));
      this.#raw.set(key, r);
    }
    return r;
  }

  /**
   * The WHERE clause of a scope: organization first, then ownership. `bind` gives each value's SQL: the
   * value itself, or a placeholder (`org`, `user`) for a prepared query.
   */
  scopeCondition(s: RecordScope, bind: (name: "org" | "user", v: number) => unknown = (_n, v) => v): SQL {
    const t = this.table;
    const org = eq(t.organizationId, bind("org", s.organizationId) as number);
    if (s.scope === "all") return org;
    const user = bind("user", s.userId) as number;
    if (s.scope === "own") return and(org, eq(this.owner, user))!;
    const u = this.db.t.users;
    const team = this.db.db.select({ id: u.id }).from(u).where(
      and(eq(u.reportsToId, user), eq(u.organizationId, bind("org", s.organizationId) as number)),
    );
    return and(org, or(eq(this.owner, user), inArray(this.owner, team)))!;
  }

  /** The prepared query `name` for scope kind `scope`, built on first use. */
  #prepare(name: "list" | "count" | "get", scope: RecordScope["scope"]): Prepared<Record<string, unknown>> {
    const key = `${name}:${scope}`;
    let q = this.#prepared.get(key);
    if (!q) {
      const t = this.table;
      const where = this.scopeCondition(
        { organizationId: 0, userId: 0, scope },
        (n) => sql.placeholder(n),
      );
      const p = (n: string) => sql.placeholder(n) as unknown as number;
      const counted = this.db.db.select({ n: count() }).from(
        this.db.db.select({ one: sql`1`.as("one") }).from(t).where(where).limit(p("cap")).as("matching"),
      );
      const built = name === "list"
        // One statement: the page, and the bounded count as an uncorrelated scalar subquery (run once).
        ? this.db.db.select({ ...getTableColumns(t), __total: sql<number>`(${counted})` }).from(t)
          .where(and(where, gt(t.id, p("after")))).orderBy(asc(t.id)).limit(p("limit")).offset(p("offset"))
        : name === "count"
        ? counted
        : this.db.db.select().from(t).where(and(eq(t.id, p("id")), where)).limit(1);
      // Postgres names the statement; SQLite's prepare() takes no name and ignores it.
      q = built.prepare(`records_${this.key}_${name}_${scope}`) as unknown as Prepared<
        Record<string, unknown>
      >;
      this.#prepared.set(key, q);
    }
    return q;
  }

  /**
   * A page in id order (offset `skip`, or keyset `after`) and the total, in one statement: the count is
   * bounded at `TOTAL_CAP` (exact when asked), so a page never counts the whole set and its cost does not
   * grow with the tenant. A second query only past the last page.
   */
  async list(
    s: RecordScope,
    page: Page,
    ex: Executor = this.db.db,
  ): Promise<{ items: RecordRow[]; total: number; totalExact: boolean; nextAfter: number | null }> {
    const params = pageParams(s, page);
    const { after, cap } = params;
    const prepared = ex === this.db.db;
    const t = this.table;
    const countOf = (e: Executor) =>
      e.select({ n: count() }).from(
        e.select({ one: sql`1`.as("one") }).from(t).where(this.scopeCondition(s)).limit(cap).as("matching"),
      );
    const rows = prepared
      ? await this.#prepare("list", s.scope).execute(params)
      : await ex.select({ ...getTableColumns(t), __total: sql<number>`(${countOf(ex)})` }).from(t)
        .where(and(this.scopeCondition(s), gt(t.id, after))).orderBy(asc(t.id)).limit(page.limit)
        .offset(page.skip);
    let counted = rows.length ? Number(rows[0].__total) : 0;
    if (!rows.length && (page.skip > 0 || after > 0)) {
      // Past the end: the page has no row to carry the count.
      counted = prepared ? await this.#countPastEnd(s, cap) : Number((await countOf(ex))[0].n);
    }
    // The row without its `__total` column (a plain copy: an object rest was a noticeable part of a page).
    const props = this.#columnProps;
    const items = new Array<RecordRow>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Record<string, unknown>;
      const item: Record<string, unknown> = {};
      for (let j = 0; j < props.length; j++) item[props[j]] = row[props[j]];
      items[i] = item as RecordRow;
    }
    return pageOf(items, counted, page, (item) => item.id);
  }

  /** The bounded count of a scope, for a page past the end (no row carries it). */
  async #countPastEnd(s: RecordScope, cap: number): Promise<number> {
    const [{ n }] = await this.#prepare("count", s.scope).execute({
      org: s.organizationId,
      user: s.userId,
      cap,
    });
    return Number(n);
  }

  /**
   * `list`, with each item as its JSON object (what `toJson` makes of the row), built from the driver's raw
   * rows: no Drizzle row and no copy per record. Undefined when the driver offers no raw rows (then use
   * `list` and `toJson`). The same statement, values and answers as `list`.
   */
  async listJson(
    s: RecordScope,
    page: Page,
  ): Promise<{ items: JsonRow[]; total: number; totalExact: boolean; nextAfter: number | null } | undefined> {
    const raw = this.#rawOf("list", s.scope);
    if (!raw) return undefined;
    const params = pageParams(s, page);
    const rows = await raw(params);
    let counted = rows.length ? Number(rows[0][this.#columnProps.length]) : 0;
    if (!rows.length && (page.skip > 0 || params.after > 0)) {
      counted = await this.#countPastEnd(s, params.cap);
    }
    const json = this.#json;
    const items = new Array<JsonRow>(rows.length);
    for (let i = 0; i < rows.length; i++) items[i] = json(rows[i]);
    return pageOf(items, counted, page, (item) => item.id as number);
  }

  /** `get` as its JSON object, from the driver's raw row; undefined when the driver offers none. */
  async getJson(s: RecordScope, id: number): Promise<JsonRow | null | undefined> {
    const raw = this.#rawOf("get", s.scope);
    if (!raw) return undefined;
    const [row] = await raw({ org: s.organizationId, user: s.userId, id });
    return row === undefined ? null : this.#json(row);
  }

  async get(s: RecordScope, id: number, ex: Executor = this.db.db): Promise<RecordRow | null> {
    if (ex === this.db.db) {
      const [row] = await this.#prepare("get", s.scope).execute({
        org: s.organizationId,
        user: s.userId,
        id,
      });
      return (row as unknown as RecordRow) ?? null;
    }
    const [row] = await ex.select().from(this.table).where(and(eq(this.table.id, id), this.scopeCondition(s)))
      .limit(1);
    return (row as unknown as RecordRow) ?? null;
  }

  /** Inserts a record in the scope's organization. */
  async insert(
    s: RecordScope,
    values: Record<string, unknown>,
    ex: Executor = this.db.db,
  ): Promise<RecordRow> {
    const [row] = await ex.insert(this.table).values(
      {
        ...values,
        organizationId: s.organizationId,
      } as T["$inferInsert"],
    ).returning();
    return row as unknown as RecordRow;
  }

  async update(
    s: RecordScope,
    id: number,
    patch: Record<string, unknown>,
    ex: Executor = this.db.db,
  ): Promise<RecordRow | null> {
    const clean = { ...patch };
    delete clean.id;
    delete clean.organizationId;
    const [row] = await ex.update(this.table).set(clean as Partial<T["$inferInsert"]>)
      .where(and(eq(this.table.id, id), this.scopeCondition(s))).returning();
    return (row as unknown as RecordRow) ?? null;
  }

  /**
   * Deletes a record in scope unless a record referencing it (a `ref()` field of a module table) lies
   * outside what the delete may carry along: `through(dependent)` is the scope in which the caller may
   * delete (cascade) or change (`set null`) that table's records, null when in none. A cascade is followed
   * down the chain (the menus' dishes); where it comes back to a table already on it (a tree: parent_id),
   * it goes on only when the caller's scope covers everything below, else any reference there blocks. The
   * record and, on Postgres, every row the cascade will reach are locked first (an insert referencing them
   * waits, then fails); the check is in the DELETE itself. Returns the referencing tables when that is why
   * nothing was deleted — each with why: `"restrict"` when a required reference blocks whoever deletes,
   * `"scope"` when records the caller may not touch would be taken along — and null when no such record is
   * in scope.
   */
  async delete(
    s: RecordScope,
    id: number,
    through: (dependent: Dependent) => RecordScope | null = () => null,
    ex?: Executor,
  ): Promise<"deleted" | Blocker[] | null> {
    if (!this.referencedBy.length) {
      const rows = await (ex ?? this.db.db).delete(this.table).where(
        and(eq(this.table.id, id), this.scopeCondition(s)),
      )
        .returning({ id: this.table.id });
      return rows.length ? "deleted" : null;
    }
    const repoOf = (key: string) => new RecordsRepository(this.db, key as RecordTableKey);
    /**
     * Whether nothing reachable from `key` down its cascades can block: every cascading or unlinking
     * dependent there is in the caller's "all" scope, and none is a required reference (restrict), which
     * blocks whoever deletes — checked here so that the refusal can name it.
     */
    const open = (key: string, seen = new Set<string>()): boolean => {
      seen.add(key);
      return repoOf(key).referencedBy.every((d) =>
        d.onDelete !== "restrict" && through(d)?.scope === "all" &&
        (d.onDelete !== "cascade" || seen.has(d.key) || open(d.key, seen))
      );
    };
    /** The tables whose required references (restrict) a delete through `d` would meet, down its cascades. */
    const requiredBelow = (d: Dependent, seen = new Set<string>()): string[] => {
      if (d.onDelete === "restrict") return [d.sqlTable];
      if (d.onDelete !== "cascade" || seen.has(d.key)) return [];
      seen.add(d.key);
      return repoOf(d.key).referencedBy.flatMap((dd) => requiredBelow(dd, seen));
    };
    /** The rows of `d` referencing `ref` that the delete may not take along (or unlink), down the chain. */
    const blocking = (
      tx: Executor,
      d: Dependent,
      ref: SQL | number,
      path: readonly string[],
      anyone = false,
    ): SQL => {
      const repo = repoOf(d.key);
      const refs = eq((repo.table as unknown as Record<string, T["id"]>)[d.prop], ref);
      // `anyone`: as for a caller whose scope is everything, so that only required references block.
      const scope = d.onDelete === "restrict" ? null : anyone ? { ...s, scope: "all" as const } : through(d);
      const deeper = d.onDelete === "cascade" ? repo.referencedBy : [];
      const below = deeper.flatMap((dd) => {
        if (!path.includes(dd.key)) {
          return [exists(blocking(tx, dd, sql`${repo.table.id}`, [...path, dd.key], anyone))];
        }
        // Back to a table on the path (a tree: parent_id): open below, nothing blocks; else any reference
        // does — read through an alias, as the table's own name means the row of the enclosing query.
        if ((anyone || (through(dd) !== null && open(dd.key))) && dd.onDelete !== "restrict") return [];
        const column =
          (getTableColumns(repoOf(dd.key).table) as Record<string, { name: string }>)[dd.prop].name;
        return [
          sql`EXISTS (SELECT 1 FROM ${sql.identifier(dd.sqlTable)} AS "seedbed_self" WHERE "seedbed_self".${
            sql.identifier(column)
          } = ${repo.table.id})`,
        ];
      });
      const outside = scope ? or(sql`NOT (${repo.scopeCondition(scope)})`, ...below) : undefined;
      return sql`${tx.select({ one: sql`1` }).from(repo.table).where(and(refs, outside))}`;
    };
    const exists = (q: SQL) => sql`EXISTS ${q}`; // q is a subquery: drizzle puts it in parentheses
    // A dependent in the caller's "all" scope with nothing closed below it cannot block: no check at all.
    const checked = this.referencedBy.filter((d) =>
      !(d.onDelete !== "restrict" && through(d)?.scope === "all" && (d.onDelete !== "cascade" || open(d.key)))
    );
    /**
     * Postgres: the rows a cascade will reach are locked too, so that nothing is inserted under them while
     * the delete runs (an insert referencing a locked row waits, then fails); SQLite has one writer.
     */
    const lockBelow = async (tx: Executor, key: string, ids: number[], seen: Set<string>): Promise<void> => {
      if (!ids.length || !needsRowLocks(this.db)) return;
      for (const d of repoOf(key).referencedBy.filter((d) => d.onDelete === "cascade")) {
        const repo = repoOf(d.key);
        const col = (repo.table as unknown as Record<string, T["id"]>)[d.prop];
        const rows = await lockForUpdate(
          this.db,
          tx.select({ id: repo.table.id }).from(repo.table).where(inArray(col, ids)),
        );
        const fresh = rows.map((r) => r.id).filter((x) => !seen.has(`${d.key}:${x}`));
        fresh.forEach((x) => seen.add(`${d.key}:${x}`));
        await lockBelow(tx, d.key, fresh, seen);
      }
    };
    const run = async (tx: Executor): Promise<"deleted" | Blocker[] | null> => {
      const mine = and(eq(this.table.id, id), this.scopeCondition(s));
      if (
        !(await lockForUpdate(this.db, tx.select({ id: this.table.id }).from(this.table).where(mine))).length
      ) {
        return null;
      }
      await lockBelow(tx, this.key, [id], new Set([`${this.key}:${id}`]));
      // A blocking record can go between the DELETE and the look at why (another caller deleted it): then
      // the DELETE runs again, a few times at most.
      for (let attempt = 0;; attempt++) {
        const rows = await tx.delete(this.table).where(
          and(
            mine,
            ...checked.map((d) => sql`NOT ${exists(blocking(tx, d, id, [this.key, d.key]))}`),
          ),
        ).returning({ id: this.table.id });
        if (rows.length > 0) return "deleted";
        const referencing = new Map<string, Blocker>();
        const holds = async (q: SQL) => {
          const [{ hit }] = await this.db.rows<{ hit: unknown }>(sql`SELECT ${exists(q)} AS hit`, tx);
          return hit === true || Number(hit) === 1;
        };
        for (const d of checked) {
          if (!(await holds(blocking(tx, d, id, [this.key, d.key])))) continue;
          if (await holds(blocking(tx, d, id, [this.key, d.key], true))) {
            // A required reference, here or below what the delete takes along: named where it is.
            for (const table of requiredBelow(d)) referencing.set(table, { table, reason: "restrict" });
          } else if (!referencing.has(d.sqlTable)) {
            referencing.set(d.sqlTable, { table: d.sqlTable, reason: "scope" });
          }
        }
        if (referencing.size || attempt >= 3) return [...referencing.values()];
      }
    };
    return ex ? await run(ex) : await this.db.transaction(run);
  }

  /**
   * A page in scope (offset paging, id order) with its exact total, narrowed by columns (property names):
   * `contains`, a substring as written (case-sensitive, no wildcards: `containsText`); `equals`, a value.
   * An undefined filter value is no filter. The files list.
   */
  async search(
    s: RecordScope,
    page: { skip: number; limit: number },
    filter: { contains?: Record<string, string | undefined>; equals?: Record<string, unknown> } = {},
  ): Promise<{ items: RecordRow[]; total: number }> {
    const t = this.table;
    const column = (prop: string) => {
      const c = (getTableColumns(t) as Record<string, Column | undefined>)[prop];
      if (!c) throw new Error(`records: ${this.key} has no column ${prop}`);
      return c;
    };
    const conds: (SQL | undefined)[] = [this.scopeCondition(s)];
    for (const [prop, text] of Object.entries(filter.contains ?? {})) {
      if (text !== undefined) conds.push(containsText(this.db, column(prop), text));
    }
    for (const [prop, value] of Object.entries(filter.equals ?? {})) {
      if (value !== undefined) conds.push(eq(column(prop), value));
    }
    const where = and(...conds);
    const items = await this.db.db.select().from(t).where(where).orderBy(asc(t.id)).limit(page.limit)
      .offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(t).where(where);
    return { items: items as unknown as RecordRow[], total: Number(n) };
  }

  /** Ids of records matching a scope (AuthZEN resource search), paginated. */
  async ids(s: RecordScope, page: Page): Promise<{ ids: number[]; total: number }> {
    const where = this.scopeCondition(s);
    const rows = await this.db.db.select({ id: this.table.id }).from(this.table).where(where)
      .orderBy(asc(this.table.id)).limit(page.limit).offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.table).where(where);
    return { ids: rows.map((r) => r.id), total: Number(n) };
  }

  /** A record's organization and owner, without any filter (the PDP's attribute lookup only). */
  async attributes(id: number): Promise<{ organizationId: number; ownerId: number } | null> {
    const [row] = await this.db.db.select({
      organizationId: this.table.organizationId,
      ownerId: this.owner,
    })
      .from(this.table).where(eq(this.table.id, id)).limit(1);
    return row ?? null;
  }
}

/** A page's statement parameters: the scope, the keyset start, and the count's bound (TOTAL_CAP + 1 unless exact). */
function pageParams(s: RecordScope, page: Page) {
  return {
    org: s.organizationId,
    user: s.userId,
    after: page.after ?? 0,
    limit: page.limit,
    offset: page.skip,
    cap: page.exactTotal ? Number.MAX_SAFE_INTEGER : TOTAL_CAP + 1,
  };
}

/**
 * A page's answer: the total is exact up to TOTAL_CAP, else TOTAL_CAP and not exact (unless exact was asked);
 * a full page continues after its last item's id.
 */
function pageOf<T>(items: T[], counted: number, page: Page, idOf: (item: T) => number) {
  const nextAfter = items.length === page.limit ? idOf(items[items.length - 1]) : null;
  return counted > TOTAL_CAP && !page.exactTotal
    ? { items, total: TOTAL_CAP, totalExact: false, nextAfter }
    : { items, total: counted, totalExact: true, nextAfter };
}
