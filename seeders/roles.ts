/**
 * RolesSeeder: the global roles with their grants. System roles are
 * reconciled exactly (a grant that is not in the catalog is removed);
 * custom roles only receive missing grants, so an operator's additions stay.
 * A legacy separate `superadmin` role is merged into `super_admin`.
 *
 * Counts: a role row created → created; an existing role whose attributes or
 * grants changed → updated; a merged duplicate role → deleted.
 */
import { and, eq, inArray } from "drizzle-orm";
import { ALL_ENVS, defineSeeder } from "../src/seeding/types.ts";
import { ROLES } from "./catalog.ts";

export const rolesSeeder = defineSeeder({
  name: "RolesSeeder",
  description:
    "Creates roles with their permissions (super_admin alias superadmin, admin, manager, executive, …)",
  dependsOn: ["PermissionsSeeder"],
  environments: ALL_ENVS,
  async seed(ctx) {
    const { t, tx } = ctx;
    const perms = await tx.select({ id: t.permissions.id, name: t.permissions.name }).from(t.permissions);
    const idOf = new Map(perms.map((p) => [p.name, p.id]));
    const roleIds = new Map<string, number>();

    for (const def of ROLES) {
      const { row, status } = await ctx.upsert(t.roles, { scopeKey: 0, name: def.name }, {
        organizationId: null,
        description: def.description,
        isSystem: def.isSystem,
        aliases: def.aliases,
        recordScope: def.recordScope,
      });
      roleIds.set(def.name, row.id);
      const wanted = def.grants === "all" ? perms.map((p) => p.id) : def.grants.map((name) => {
        const id = idOf.get(name);
        if (id === undefined) throw new Error(`role ${def.name} grants unknown permission "${name}"`);
        return id;
      });
      const have = new Set(
        (await tx.select({ id: t.rolePermissions.permissionId }).from(t.rolePermissions)
          .where(eq(t.rolePermissions.roleId, row.id))).map((r) => r.id),
      );
      const missing = wanted.filter((id) => !have.has(id));
      const wantedSet = new Set(wanted);
      const extra = def.isSystem ? [...have].filter((id) => !wantedSet.has(id)) : [];
      if (missing.length) {
        await tx.insert(t.rolePermissions).values(
          missing.map((permissionId) => ({ roleId: row.id, permissionId })),
        );
      }
      if (extra.length) {
        await tx.delete(t.rolePermissions).where(
          and(eq(t.rolePermissions.roleId, row.id), inArray(t.rolePermissions.permissionId, extra)),
        );
      }
      if (status === "unchanged" && (missing.length || extra.length)) ctx.stats.updated++;
    }

    // One role, two names: fold a separately stored alias into its role.
    for (const def of ROLES) {
      for (const alias of def.aliases) {
        const [dup] = await tx.select().from(t.roles).where(
          and(eq(t.roles.scopeKey, 0), eq(t.roles.name, alias)),
        );
        if (!dup) continue;
        await tx.update(t.users).set({ roleId: roleIds.get(def.name)!, role: def.name })
          .where(eq(t.users.roleId, dup.id));
        await ctx.remove(t.roles, eq(t.roles.id, dup.id));
      }
    }
    return ctx.stats;
  },
});
