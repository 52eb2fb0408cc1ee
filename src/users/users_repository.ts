/**
 * Users: every query of a tenant user is filtered by organization inside the
 * query (layer 1), and lists by record scope (own / team / all).
 * Story: docs/access.md ("Layer 1 — tenants").
 */
import { and, asc, count, eq, inArray, or, type SQL, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import { REGISTRY_RESOURCES } from "../modules/registry.ts";

export type UserRow = Database["t"]["users"]["$inferSelect"];
export type NewUserRow = Database["t"]["users"]["$inferInsert"];

/** Who is asking, for scoped reads: organization and record scope. */
export interface UserScope {
  /** null: a platform super admin without a chosen organization (all organizations). */
  organizationId: number | null;
  scope: "own" | "team" | "all";
  userId: number;
}

export class UsersRepository {
  constructor(private readonly db: Database) {}

  private get t() {
    return this.db.t.users;
  }

  /** Finds a user by email, case-insensitively (login). */
  async findByEmail(email: string, ex: Executor = this.db.db): Promise<UserRow | null> {
    const [u] = await ex.select().from(this.t).where(
      sql`lower(${this.t.email}) = ${email.trim().toLowerCase()}`,
    )
      .limit(1);
    return u ?? null;
  }

  /** The id of the user with this email (case-insensitive, as `findByEmail`), or null: the PDP's subject lookup. */
  async idByEmail(email: string): Promise<number | null> {
    const [u] = await this.db.db.select({ id: this.t.id }).from(this.t).where(
      sql`lower(${this.t.email}) = ${email.trim().toLowerCase()}`,
    )
      .limit(1);
    return u?.id ?? null;
  }

  /** The id of the user with exactly this username, or null. */
  async idByUsername(username: string): Promise<number | null> {
    const [u] = await this.db.db.select({ id: this.t.id }).from(this.t).where(eq(this.t.username, username))
      .limit(1);
    return u?.id ?? null;
  }

  /**
   * Whether `id` is an active user of the organization — and, with `within`, inside that record scope: own,
   * the user himself; team, he or someone reporting to him; all, anyone of the organization.
   */
  async isActiveMember(
    id: number,
    organizationId: number,
    within?: { scope: "own" | "team" | "all"; userId: number },
  ): Promise<boolean> {
    const t = this.t;
    const scopeCond = within?.scope === "own"
      ? eq(t.id, within.userId)
      : within?.scope === "team"
      ? or(eq(t.id, within.userId), eq(t.reportsToId, within.userId))
      : undefined;
    const rows = await this.db.db.select({ id: t.id }).from(t).where(
      and(eq(t.id, id), eq(t.organizationId, organizationId), eq(t.isActive, true), scopeCond),
    ).limit(1);
    return rows.length > 0;
  }

  /**
   * Ids and emails of an organization's users (null: the platform users, who have none), in id order after
   * `afterId`: a page of AuthZEN subject-search candidates.
   */
  async idsAndEmails(
    organizationId: number | null,
    page: { afterId: number; limit: number },
  ): Promise<{ id: number; email: string }[]> {
    const t = this.t;
    const cond = organizationId === null
      ? sql`${t.organizationId} IS NULL`
      : eq(t.organizationId, organizationId);
    return await this.db.db.select({ id: t.id, email: t.email }).from(t)
      .where(and(cond, sql`${t.id} > ${page.afterId}`)).orderBy(t.id).limit(page.limit);
  }

  /** Finds a user by id without tenant filter (authentication, platform code only). */
  async findAnyById(id: number, ex: Executor = this.db.db): Promise<UserRow | null> {
    const [u] = await ex.select().from(this.t).where(eq(this.t.id, id)).limit(1);
    return u ?? null;
  }

  #scoped(s: UserScope): SQL | undefined {
    const t = this.t;
    const conds: SQL[] = [];
    if (s.organizationId !== null) conds.push(eq(t.organizationId, s.organizationId));
    if (s.scope === "own") conds.push(eq(t.id, s.userId));
    if (s.scope === "team") conds.push(or(eq(t.id, s.userId), eq(t.reportsToId, s.userId))!);
    return conds.length ? and(...conds) : undefined;
  }

  /** A user visible to the caller (organization and scope applied in the query); null otherwise. */
  async findVisible(id: number, s: UserScope, ex: Executor = this.db.db): Promise<UserRow | null> {
    const cond = this.#scoped(s);
    const [u] = await ex.select().from(this.t).where(cond ? and(eq(this.t.id, id), cond) : eq(this.t.id, id))
      .limit(1);
    return u ?? null;
  }

  /** Users visible to the caller, paginated, oldest first. */
  async list(
    s: UserScope,
    page: { skip: number; limit: number },
    filter: { isActive?: boolean; role?: string } = {},
  ): Promise<{ items: UserRow[]; total: number }> {
    const conds: SQL[] = [];
    const scoped = this.#scoped(s);
    if (scoped) conds.push(scoped);
    if (filter.isActive !== undefined) conds.push(eq(this.t.isActive, filter.isActive));
    if (filter.role) conds.push(eq(this.t.role, filter.role));
    const where = conds.length ? and(...conds) : undefined;
    const items = await this.db.db.select().from(this.t).where(where).orderBy(asc(this.t.id))
      .limit(page.limit).offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.t).where(where);
    return { items, total: Number(n) };
  }

  async insert(row: NewUserRow, ex: Executor = this.db.db): Promise<UserRow> {
    const [u] = await ex.insert(this.t).values(row).returning();
    return u;
  }

  /** Updates a user of the organization (null organization: platform users only); returns the row or null. */
  async update(
    id: number,
    organizationId: number | null,
    patch: Partial<NewUserRow>,
    ex: Executor = this.db.db,
  ): Promise<UserRow | null> {
    const org = organizationId === null
      ? sql`${this.t.organizationId} IS NULL`
      : eq(this.t.organizationId, organizationId);
    const [u] = await ex.update(this.t).set(patch).where(and(eq(this.t.id, id), org)).returning();
    return u ?? null;
  }

  /** Updates by id only (the user's own account: password change, last login). */
  async updateSelf(
    id: number,
    patch: Partial<NewUserRow>,
    ex: Executor = this.db.db,
  ): Promise<UserRow | null> {
    const [u] = await ex.update(this.t).set(patch).where(eq(this.t.id, id)).returning();
    return u ?? null;
  }

  async delete(id: number, organizationId: number | null, ex: Executor = this.db.db): Promise<boolean> {
    const org = organizationId === null
      ? sql`${this.t.organizationId} IS NULL`
      : eq(this.t.organizationId, organizationId);
    const rows = await ex.delete(this.t).where(and(eq(this.t.id, id), org)).returning({ id: this.t.id });
    return rows.length > 0;
  }

  /** Modules assigned to a user (`user_modules`). */
  async modules(userId: number, ex: Executor = this.db.db): Promise<string[]> {
    const t = this.db.t.userModules;
    const rows = await ex.select({ m: t.module }).from(t).where(eq(t.userId, userId)).orderBy(asc(t.module));
    return rows.map((r) => r.m);
  }

  /** Direct permissions of a user (`user_permissions`). */
  async permissions(userId: number, ex: Executor = this.db.db): Promise<string[]> {
    const t = this.db.t.userPermissions;
    const rows = await ex.select({ p: t.permission }).from(t).where(eq(t.userId, userId)).orderBy(
      asc(t.permission),
    );
    return rows.map((r) => r.p);
  }

  /** Replaces a user's modules. */
  async setModules(userId: number, organizationId: number, modules: string[], ex: Executor): Promise<void> {
    const t = this.db.t.userModules;
    await ex.delete(t).where(eq(t.userId, userId));
    if (modules.length) {
      await ex.insert(t).values(modules.map((module) => ({ userId, organizationId, module })));
    }
  }

  /** Replaces a user's direct permissions. */
  async setPermissions(userId: number, organizationId: number, names: string[], ex: Executor): Promise<void> {
    const t = this.db.t.userPermissions;
    await ex.delete(t).where(eq(t.userId, userId));
    if (names.length) {
      await ex.insert(t).values(names.map((permission) => ({ userId, organizationId, permission })));
    }
  }

  /** Number of business records a user owns (deleting such a user is refused). */
  async ownedRecordCount(userId: number, ex: Executor = this.db.db): Promise<number> {
    const t = this.db.t;
    let total = 0;
    // Every module table (from the registry) and files: a record owner can never be deleted from under it.
    const tables = [
      ...REGISTRY_RESOURCES.map((r) => (t as unknown as Record<string, typeof t.files>)[r.key]),
      t.files,
    ];
    for (const table of tables) {
      const [{ n }] = await ex.select({ n: count() }).from(table).where(eq(table.ownerId, userId));
      total += Number(n);
    }
    return total;
  }

  /** Users by ids within an organization (reports-to validation). */
  async inOrganization(ids: number[], organizationId: number, ex: Executor = this.db.db): Promise<UserRow[]> {
    if (!ids.length) return [];
    return await ex.select().from(this.t).where(
      and(inArray(this.t.id, ids), eq(this.t.organizationId, organizationId)),
    );
  }
}
