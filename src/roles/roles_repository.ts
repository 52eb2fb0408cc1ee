/**
 * Roles, their permissions, and the permission catalog. Reads see the global roles and the organization's
 * own, never another organization's. Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import { and, asc, count, eq, inArray, isNull, or, type SQL } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import { type Grant, parsePermission } from "../access/permissions.ts";

export type RoleRow = Database["t"]["roles"]["$inferSelect"];
export type NewRoleRow = Database["t"]["roles"]["$inferInsert"];
export type PermissionRow = Database["t"]["permissions"]["$inferSelect"];

export class RolesRepository {
  constructor(private readonly db: Database) {}

  private get t() {
    return this.db.t.roles;
  }

  /** Roles visible from an organization: global ones and the organization's own (null: global only; "all": every role). */
  #visible(org: number | null | "all"): SQL | undefined {
    if (org === "all") return undefined;
    return org === null
      ? isNull(this.t.organizationId)
      : or(isNull(this.t.organizationId), eq(this.t.organizationId, org));
  }

  async list(org: number | null | "all", page: { skip: number; limit: number }) {
    const where = this.#visible(org);
    const items = await this.db.db.select().from(this.t).where(where).orderBy(asc(this.t.id)).limit(
      page.limit,
    )
      .offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.t).where(where);
    return { items, total: Number(n) };
  }

  async get(id: number, org: number | null | "all", ex: Executor = this.db.db): Promise<RoleRow | null> {
    const v = this.#visible(org);
    const [r] = await ex.select().from(this.t).where(v ? and(eq(this.t.id, id), v) : eq(this.t.id, id)).limit(
      1,
    );
    return r ?? null;
  }

  /** A role by name (or alias) among the global roles and the organization's, the organization's first. */
  async byName(name: string, org: number | null, ex: Executor = this.db.db): Promise<RoleRow | null> {
    const wanted = name.trim().toLowerCase();
    const rows = await ex.select().from(this.t).where(this.#visible(org));
    const matches = rows.filter((r) =>
      r.name.toLowerCase() === wanted || (r.aliases ?? []).some((a) => a.toLowerCase() === wanted)
    );
    return matches.find((r) => r.organizationId !== null) ?? matches[0] ?? null;
  }

  async insert(row: NewRoleRow, ex: Executor = this.db.db): Promise<RoleRow> {
    const [r] = await ex.insert(this.t).values(row).returning();
    return r;
  }

  async update(id: number, patch: Partial<NewRoleRow>, ex: Executor = this.db.db): Promise<RoleRow | null> {
    const [r] = await ex.update(this.t).set(patch).where(eq(this.t.id, id)).returning();
    return r ?? null;
  }

  async delete(id: number, ex: Executor = this.db.db): Promise<void> {
    await ex.delete(this.t).where(eq(this.t.id, id));
  }

  /** Permission names per role id. */
  async permissionNames(roleIds: number[], ex: Executor = this.db.db): Promise<Map<number, string[]>> {
    const out = new Map<number, string[]>(roleIds.map((id) => [id, []]));
    if (!roleIds.length) return out;
    const { rolePermissions: rp, permissions: p } = this.db.t;
    const rows = await ex.select({ roleId: rp.roleId, name: p.name }).from(rp).innerJoin(
      p,
      eq(rp.permissionId, p.id),
    )
      .where(inArray(rp.roleId, roleIds)).orderBy(asc(p.name));
    for (const r of rows) out.get(r.roleId)!.push(r.name);
    return out;
  }

  /**
   * Catalog rows for grants, creating the missing ones. A grant matches every
   * row with the same canonical name (`users:create` and `users.create` are one
   * permission). Returns one id per grant, or every matching id with `all`.
   */
  async ensurePermissions(grants: Grant[], ex: Executor, all = false): Promise<number[]> {
    if (!grants.length) return [];
    const p = this.db.t.permissions;
    const rows = await ex.select({ id: p.id, name: p.name }).from(p);
    const byCanonical = new Map<string, number[]>();
    for (const r of rows) {
      const canonical = parsePermission(r.name)?.name ?? r.name;
      byCanonical.set(canonical, [...(byCanonical.get(canonical) ?? []), r.id]);
    }
    const out: number[] = [];
    for (const g of grants) {
      let ids = byCanonical.get(g.name);
      if (!ids) {
        const action = g.kind === "module" ? (g.name.endsWith("_admin") ? "admin" : "*") : g.action;
        const [row] = await ex.insert(p).values({ name: g.name, module: g.module, action }).returning({
          id: p.id,
        });
        ids = [row.id];
        byCanonical.set(g.name, ids);
      }
      if (all) out.push(...ids);
      else out.push(ids[0]);
    }
    return [...new Set(out)];
  }

  /** Adds permissions to a role (already present ones are ignored). */
  async addPermissions(roleId: number, permissionIds: number[], ex: Executor): Promise<void> {
    if (!permissionIds.length) return;
    await ex.insert(this.db.t.rolePermissions).values(
      permissionIds.map((permissionId) => ({ roleId, permissionId })),
    )
      .onConflictDoNothing();
  }

  async removePermissions(roleId: number, permissionIds: number[], ex: Executor): Promise<void> {
    if (!permissionIds.length) return;
    const rp = this.db.t.rolePermissions;
    await ex.delete(rp).where(and(eq(rp.roleId, roleId), inArray(rp.permissionId, permissionIds)));
  }

  async clearPermissions(roleId: number, ex: Executor): Promise<void> {
    const rp = this.db.t.rolePermissions;
    await ex.delete(rp).where(eq(rp.roleId, roleId));
  }

  /** Users holding a role (by role id, or by name within its scope). */
  async holders(role: RoleRow, ex: Executor = this.db.db): Promise<number> {
    const u = this.db.t.users;
    const byName = role.organizationId === null
      ? eq(u.role, role.name)
      : and(eq(u.role, role.name), eq(u.organizationId, role.organizationId));
    const [{ n }] = await ex.select({ n: count() }).from(u).where(or(eq(u.roleId, role.id), byName));
    return Number(n);
  }

  /** Ids of the users holding a role (by role id, or by name within its scope). */
  async holderIds(role: RoleRow, ex: Executor = this.db.db): Promise<number[]> {
    const u = this.db.t.users;
    const byName = role.organizationId === null
      ? eq(u.role, role.name)
      : and(eq(u.role, role.name), eq(u.organizationId, role.organizationId));
    const rows = await ex.select({ id: u.id }).from(u).where(or(eq(u.roleId, role.id), byName));
    return rows.map((r) => r.id);
  }

  /** The permission catalog. */
  async catalog(page: { skip: number; limit: number }) {
    const p = this.db.t.permissions;
    const items = await this.db.db.select().from(p).orderBy(asc(p.name)).limit(page.limit).offset(page.skip);
    const [{ n }] = await this.db.db.select({ n: count() }).from(p);
    return { items, total: Number(n) };
  }
}
