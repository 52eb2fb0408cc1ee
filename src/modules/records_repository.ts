/**
 * One repository shape for every tenant-scoped business table (crm leads,
 * manufacturing orders, …). Every query carries the organization and the
 * caller's record scope in its WHERE clause:
 *
 * - own:  owner_id = caller
 * - team: owner_id = caller OR owner_id IN (users of the organization reporting to the caller)
 * - all:  every record of the organization
 *
 * A record outside the organization or the scope is simply not found.
 */
import { and, asc, count, eq, getTableColumns, inArray, or, type SQL, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import type { Schema } from "../db/schema.ts";

/** The tables this repository serves (all share id, organization_id, owner_id). */
export type RecordTableKey =
  | "crmLeads"
  | "manufacturingOrders"
  | "hrEmployees"
  | "marketingCampaigns"
  | "serviceTickets"
  | "assets"
  | "transportVehicles"
  | "transportTrips";

/** Who reads or writes: the organization acted on, the record scope and the user. */
export interface RecordScope {
  organizationId: number;
  scope: "own" | "team" | "all";
  userId: number;
}

export interface Page {
  skip: number;
  limit: number;
}

// The eight tables share the columns used here; drizzle's per-table types differ, so the
// repository works on the crmLeads type and casts the table once (same runtime surface).
type T = Schema["crmLeads"];
export type RecordRow = Record<string, unknown> & { id: number; organizationId: number; ownerId: number };

export class RecordsRepository {
  private readonly table: T;
  constructor(private readonly db: Database, readonly key: RecordTableKey) {
    this.table = db.t[key] as unknown as T;
  }

  /** The WHERE clause of a scope: organization first, then ownership. */
  scopeCondition(s: RecordScope): SQL {
    const t = this.table;
    const org = eq(t.organizationId, s.organizationId);
    if (s.scope === "all") return org;
    if (s.scope === "own") return and(org, eq(t.ownerId, s.userId))!;
    const u = this.db.t.users;
    const team = this.db.db.select({ id: u.id }).from(u).where(
      and(eq(u.reportsToId, s.userId), eq(u.organizationId, s.organizationId)),
    );
    return and(org, or(eq(t.ownerId, s.userId), inArray(t.ownerId, team)))!;
  }

  /** A page and the total, in one query (`count(*) over ()`); a second query only past the last page. */
  async list(
    s: RecordScope,
    page: Page,
    ex: Executor = this.db.db,
  ): Promise<{ items: RecordRow[]; total: number }> {
    const where = this.scopeCondition(s);
    const rows = await ex.select({ ...getTableColumns(this.table), __total: sql<number>`count(*) over ()` })
      .from(this.table).where(where).orderBy(asc(this.table.id)).limit(page.limit).offset(page.skip);
    let total = rows.length ? Number(rows[0].__total) : 0;
    if (!rows.length && page.skip > 0) {
      const [{ n }] = await ex.select({ n: count() }).from(this.table).where(where);
      total = Number(n);
    }
    const items = rows.map(({ __total: _t, ...row }) => row);
    return { items: items as unknown as RecordRow[], total };
  }

  async get(s: RecordScope, id: number, ex: Executor = this.db.db): Promise<RecordRow | null> {
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

  async delete(s: RecordScope, id: number, ex: Executor = this.db.db): Promise<boolean> {
    const rows = await ex.delete(this.table).where(and(eq(this.table.id, id), this.scopeCondition(s)))
      .returning({ id: this.table.id });
    return rows.length > 0;
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
      ownerId: this.table.ownerId,
    })
      .from(this.table).where(eq(this.table.id, id)).limit(1);
    return row ?? null;
  }
}
