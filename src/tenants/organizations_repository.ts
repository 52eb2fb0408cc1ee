/** Organizations and entitlement profiles. Story: docs/access.md ("Layer 1 — tenants"). */
import { and, asc, count, eq, type SQL } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";

export type OrganizationRow = Database["t"]["organizations"]["$inferSelect"];
export type NewOrganizationRow = Database["t"]["organizations"]["$inferInsert"];
export type ProfileRow = Database["t"]["entitlementProfiles"]["$inferSelect"];

export class OrganizationsRepository {
  constructor(private readonly db: Database) {}

  private get t() {
    return this.db.t.organizations;
  }

  async get(id: number, ex: Executor = this.db.db): Promise<OrganizationRow | null> {
    const [o] = await ex.select().from(this.t).where(eq(this.t.id, id)).limit(1);
    return o ?? null;
  }

  /** Whether the organization exists and is active (login refuses a deactivated organization's users). */
  async isActive(id: number): Promise<boolean> {
    const [o] = await this.db.db.select({ active: this.t.isActive }).from(this.t).where(eq(this.t.id, id))
      .limit(1);
    return Boolean(o?.active);
  }

  async byName(name: string, ex: Executor = this.db.db): Promise<OrganizationRow | null> {
    const [o] = await ex.select().from(this.t).where(eq(this.t.name, name)).limit(1);
    return o ?? null;
  }

  /** Organizations, oldest first; `onlyId` restricts to one (an org admin's own). */
  async list(
    page: { skip: number; limit: number },
    filter: { onlyId?: number; isActive?: boolean } = {},
  ): Promise<{ items: OrganizationRow[]; total: number }> {
    const conds: SQL[] = [];
    if (filter.onlyId !== undefined) conds.push(eq(this.t.id, filter.onlyId));
    if (filter.isActive !== undefined) conds.push(eq(this.t.isActive, filter.isActive));
    const where = conds.length ? and(...conds) : undefined;
    const items = await this.db.db.select().from(this.t).where(where).orderBy(asc(this.t.id)).limit(
      page.limit,
    )
      .offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.t).where(where);
    return { items, total: Number(n) };
  }

  async insert(row: NewOrganizationRow, ex: Executor = this.db.db): Promise<OrganizationRow> {
    const [o] = await ex.insert(this.t).values(row).returning();
    return o;
  }

  async update(id: number, patch: Partial<NewOrganizationRow>, ex: Executor = this.db.db) {
    const [o] = await ex.update(this.t).set(patch).where(eq(this.t.id, id)).returning();
    return o ?? null;
  }

  async profile(tier: string, ex: Executor = this.db.db): Promise<ProfileRow | null> {
    const t = this.db.t.entitlementProfiles;
    const [p] = await ex.select().from(t).where(eq(t.tier, tier)).limit(1);
    return p ?? null;
  }

  async profiles(): Promise<ProfileRow[]> {
    const t = this.db.t.entitlementProfiles;
    return await this.db.db.select().from(t).orderBy(asc(t.id));
  }
}
