/**
 * DemoUsersSeeder: each demo organization's admin, manager and executive
 * (password `password123`), the manager's module assignments and the
 * executive's submodule permissions. The executive reports to the manager.
 *
 * The password is hashed once per run and only for users being created: a
 * re-run neither re-hashes nor rewrites an unchanged user, and never resets a
 * password someone changed.
 */
import { eq, inArray } from "drizzle-orm";
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { DEMO_ORGS, DEMO_PASSWORD, DEMO_USERS } from "./demo_data.ts";

export const demoUsersSeeder = defineSeeder({
  name: "DemoUsersSeeder",
  description: "Demo users with roles: admin, manager (CRM, sales) and executive (reports to the manager)",
  dependsOn: ["RolesSeeder", "DemoOrganizationsSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    const { t, tx } = ctx;
    const orgs = await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
      .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug)));
    const orgId = new Map(orgs.map((o) => [o.slug, o.id]));
    const roles = await tx.select({ id: t.roles.id, name: t.roles.name }).from(t.roles).where(
      eq(t.roles.scopeKey, 0),
    );
    const roleId = new Map(roles.map((r) => [r.name, r.id]));

    // Managers first, so that executives can point at them.
    const ordered = [...DEMO_USERS].sort((a, b) => rank(a.key) - rank(b.key));
    const userId = new Map<string, number>();
    for (const u of ordered) {
      const organizationId = orgId.get(u.org);
      if (organizationId === undefined) throw new Error(`demo organization "${u.org}" does not exist`);
      const rid = roleId.get(u.key);
      if (rid === undefined) throw new Error(`role "${u.key}" does not exist (RolesSeeder must run first)`);
      const manager = DEMO_USERS.find((m) => m.org === u.org && m.key === "manager")!;
      const { row } = await ctx.upsert(t.users, { email: u.email }, {
        role: u.key,
        roleId: rid,
        organizationId,
        isSuperAdmin: false,
        isCompanyAdmin: u.key === "admin",
        reportsToId: u.key === "executive" ? userId.get(manager.email)! : null,
      }, async () => ({
        fullName: u.fullName,
        passwordHash: await ctx.passwordHash(DEMO_PASSWORD),
        isActive: true,
        isVerified: true,
      }));
      userId.set(u.email, row.id);
      for (const module of u.modules) {
        await ctx.getOrCreate(t.userModules, { userId: row.id, module }, { organizationId });
      }
      for (const permission of u.permissions) {
        await ctx.getOrCreate(t.userPermissions, { userId: row.id, permission }, { organizationId });
      }
    }
    return ctx.stats;
  },
});

function rank(key: string): number {
  return key === "admin" ? 0 : key === "manager" ? 1 : 2;
}
