/** The real seeders: idempotency, the data both seeds describe, and the super admin's rules. */
import assert from "node:assert/strict";
import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { verifyPassword } from "../../src/auth/passwords.ts";
import { ALL_MODULES, TIERS } from "../../src/tenants/modules.ts";
import { ROLES, SEED_002_PERMISSIONS } from "../../seeders/catalog.ts";
import { DEMO_PASSWORD } from "../../seeders/demo_data.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { planSeeders } from "../../src/seeding/plan.ts";
import { tierModules } from "../../src/modules/registry.ts";
import { dbTest } from "../helpers/db.ts";
import { hasher, rowCount, service } from "./helpers.ts";

/** The project's own seeders (a user's, from `deno task new`, come on top). */
const SHIPPED_SEEDERS = [
  "PermissionsSeeder",
  "RolesSeeder",
  "EntitlementsSeeder",
  "SuperAdminSeeder",
  "SMSTemplatesSeeder",
  "DemoOrganizationsSeeder",
  "DemoUsersSeeder",
  "DemoModuleDataSeeder",
  "RestaurantsSeeder",
  "MenusSeeder",
  "VolumeSeeder",
];

/** The seeders a default run executes in `env` (demo data outside production), from seeders/mod.ts. */
const defaultPlan = (env: "test" | "production") =>
  planSeeders(SEEDERS, { env, demo: env !== "production", scale: 0 }).map((s) => s.name);

async function grantsOf(db: Database, role: string): Promise<string[]> {
  const t = db.t;
  const rows = await db.db.select({ name: t.permissions.name }).from(t.rolePermissions)
    .innerJoin(t.roles, eq(t.roles.id, t.rolePermissions.roleId))
    .innerJoin(t.permissions, eq(t.permissions.id, t.rolePermissions.permissionId))
    .where(and(eq(t.roles.name, role), eq(t.roles.scopeKey, 0)));
  return rows.map((r) => r.name).sort();
}

dbTest("seeders: a second run creates nothing, updates nothing and hashes nothing", async (db) => {
  const svc = service(db);
  const first = await svc.execute({ triggeredBy: "cli:tester", createBackup: false });
  const ran = Object.keys(first.results.seeders);
  // Every seeder of seeders/mod.ts that runs by default in test, in the plan's order (a user's own seeders
  // and modules included: `deno task new` adds them) …
  assert.deepEqual(ran, defaultPlan("test"));
  // … and among them the project's own, in seed 002's order.
  assert.deepEqual(ran.filter((n) => SHIPPED_SEEDERS.includes(n)), [
    "PermissionsSeeder",
    "RolesSeeder",
    "EntitlementsSeeder",
    "SuperAdminSeeder",
    "SMSTemplatesSeeder",
    "DemoOrganizationsSeeder",
    "DemoUsersSeeder",
    "DemoModuleDataSeeder",
    // Seed 002's custom seeders, for modules/restaurants.ts and modules/menus.ts (issue 13).
    "RestaurantsSeeder",
    "MenusSeeder",
  ]);
  for (const name of SHIPPED_SEEDERS.filter((n) => ran.includes(n))) {
    const s = first.results.seeders[name];
    assert.ok(s.status === "completed" && s.created > 0, `${name}: ${JSON.stringify(s)}`);
  }
  assert.ok(Object.values(first.results.seeders).every((s) => s.status === "completed"));
  const hashesBefore = hasher.calls;
  const second = await svc.execute({ triggeredBy: "cli:tester", createBackup: false });
  assert.deepEqual(second.results.total, { created: 0, updated: 0, deleted: 0 });
  for (const s of Object.values(second.results.seeders)) {
    assert.deepEqual(s, { status: "completed", created: 0, updated: 0, deleted: 0 });
  }
  assert.equal(hasher.calls, hashesBefore, "no password hashed on the idempotent re-run");
});

dbTest("seeders: one argon2id hash per distinct password per run", async (db) => {
  let calls = 0;
  const svc = service(db, { hashPassword: (p) => (calls++, hasher.hash(p)) });
  await svc.execute({ triggeredBy: "t", createBackup: false });
  assert.equal(calls, 2, "SuperAdmin@123 and password123, once each for 8 users");
});

dbTest("seeders: permissions — seed 002's names plus module and submodule permissions", async (db) => {
  await service(db).execute({ triggeredBy: "t", createBackup: false, only: ["PermissionsSeeder"] });
  const names = new Set(
    (await db.db.select({ n: db.t.permissions.name }).from(db.t.permissions)).map((r) => r.n),
  );
  for (const p of SEED_002_PERMISSIONS) assert.ok(names.has(p.name), p.name);
  for (const m of ["crm", "sales", "hr", "manufacturing"]) {
    for (const p of [`${m}.read`, `${m}.create`, `${m}.update`, `${m}.delete`, `${m}.*`, `${m}_admin`]) {
      assert.ok(names.has(p), p);
    }
  }
  for (const m of ALL_MODULES) assert.ok(names.has(`${m}.*`) && names.has(`${m}_admin`), m);
  assert.ok(names.has("crm_leads_read") && names.has("crm_leads_create"));
  assert.ok(!names.has("users.create"), "no dot synonym of seed 002's users:create");
  const [p] = await db.db.select().from(db.t.permissions).where(eq(db.t.permissions.name, "users:create"));
  assert.deepEqual([p.module, p.action], ["users", "create"]);
});

dbTest(
  "seeders: roles carry exactly their listed grants; superadmin is an alias of super_admin",
  async (db) => {
    await service(db).execute({ triggeredBy: "t", createBackup: false, only: ["RolesSeeder"] });
    for (const def of ROLES) {
      if (def.grants === "all") continue;
      assert.deepEqual(await grantsOf(db, def.name), [...def.grants].sort(), def.name);
    }
    assert.deepEqual(await grantsOf(db, "admin"), [
      "files:create",
      "files:delete",
      "files:read",
      "files:update",
      "menus:create",
      "menus:delete",
      "menus:read",
      "menus:update",
      "restaurants:create",
      "restaurants:delete",
      "restaurants:read",
      "restaurants:update",
      "roles:read",
      "users:create",
      "users:read",
      "users:update",
    ]);
    assert.equal((await grantsOf(db, "super_admin")).length, await rowCount(db, db.t.permissions));
    const roles = await db.db.select().from(db.t.roles);
    assert.equal(roles.filter((r) => r.name === "superadmin").length, 0, "one role, not two");
    const sa = roles.find((r) => r.name === "super_admin")!;
    assert.deepEqual(sa.aliases, ["superadmin"]);
    const scope = Object.fromEntries(roles.map((r) => [r.name, [r.isSystem, r.recordScope]]));
    assert.deepEqual(scope.admin, [true, "all"]);
    assert.deepEqual(scope.manager, [true, "team"]);
    assert.deepEqual(scope.executive, [true, "own"]);
    assert.deepEqual(scope.customer, [false, "own"]);
  },
);

dbTest(
  "seeders: drift is reconciled — system roles exactly, custom roles keep additions, a legacy role is merged",
  async (db) => {
    const svc = service(db);
    await svc.execute({ triggeredBy: "t", createBackup: false, only: ["RolesSeeder"] });
    const t = db.t;
    const perm = async (name: string) =>
      (await db.db.select().from(t.permissions).where(eq(t.permissions.name, name)))[0].id;
    const role = async (name: string) =>
      (await db.db.select().from(t.roles).where(eq(t.roles.name, name)))[0].id;
    await db.db.insert(t.rolePermissions).values([
      { roleId: await role("admin"), permissionId: await perm("seeders:execute") },
      { roleId: await role("customer"), permissionId: await perm("files:read") },
    ]);
    await db.db.delete(t.rolePermissions).where(and(
      eq(t.rolePermissions.roleId, await role("manager")),
      eq(t.rolePermissions.permissionId, await perm("crm.*")),
    ));
    const [legacy] = await db.db.insert(t.roles).values({ name: "superadmin", scopeKey: 0, isSystem: true })
      .returning();
    await db.db.insert(t.users).values({
      email: "old@x.com",
      passwordHash: "x",
      role: "superadmin",
      roleId: legacy.id,
    });

    const r = await svc.execute({ triggeredBy: "t", createBackup: false, only: ["RolesSeeder"] });
    assert.deepEqual(r.results.seeders.RolesSeeder, {
      status: "completed",
      created: 0,
      updated: 2,
      deleted: 1,
    });
    assert.ok(!(await grantsOf(db, "admin")).includes("seeders:execute"));
    assert.ok(
      (await grantsOf(db, "customer")).includes("files:read"),
      "an operator's grant on a custom role stays",
    );
    assert.ok((await grantsOf(db, "manager")).includes("crm.*"));
    const [old] = await db.db.select().from(t.users).where(eq(t.users.email, "old@x.com"));
    assert.equal(old.roleId, await role("super_admin"));
    assert.equal(old.role, "super_admin");
  },
);

dbTest("seeders: entitlement profiles and SMS templates", async (db) => {
  await service(db).execute({
    triggeredBy: "t",
    createBackup: false,
    only: ["EntitlementsSeeder", "SMSTemplatesSeeder"],
  });
  const profiles = await db.db.select().from(db.t.entitlementProfiles);
  assert.deepEqual(profiles.map((p) => p.tier).sort(), TIERS.map((t) => t.tier).sort());
  const starter = profiles.find((p) => p.tier === "starter")!;
  // The registry's starter modules; seed 000's three come first (a user's modules follow them: `deno task new
  // module` appends to modules/mod.ts and licenses to starter by default).
  assert.deepEqual(starter.modules, tierModules("starter").modules);
  assert.deepEqual(starter.modules.slice(0, 3), ["crm", "sales", "inventory"]);
  assert.ok(!starter.modules.includes("manufacturing"));
  assert.deepEqual(profiles.find((p) => p.tier === "free")!.trialModules, { crm: 14 });
  const tpl = (await db.db.select().from(db.t.smsTemplates)).map((r) => r.name).sort();
  assert.deepEqual(tpl, ["2fa_code", "order_confirmation", "order_delivered", "password_reset"]);
});

dbTest("seeders: development super admins and the demo organizations, users and data", async (db) => {
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  const t = db.t;
  const users = await db.db.select().from(t.users);
  const by = (email: string) => users.find((u) => u.email === email)!;
  const sa = by("admin@foodfleet.com");
  assert.equal(sa.username, "superadmin");
  assert.equal(sa.role, "super_admin");
  assert.equal(sa.organizationId, null);
  assert.ok(sa.isSuperAdmin && sa.isActive && sa.isVerified && !sa.mustChangePassword);
  assert.ok(await verifyPassword(sa.passwordHash, "SuperAdmin@123"));
  assert.ok(by("superadmin@example.com").isSuperAdmin);

  const orgs = await db.db.select().from(t.organizations);
  const tc = orgs.find((o) => o.name === "Test Corp")!;
  assert.equal(tc.licenseTier, "starter");
  assert.equal(tc.enabledModules.CRM, true);
  assert.ok(!Object.keys(tc.enabledModules).some((k) => k.toLowerCase() === "manufacturing"));
  assert.ok(Object.keys(tc.enabledModules).every((k) => k === k.toUpperCase()));
  assert.ok(!TIERS.find((x) => x.tier === "starter")!.modules.includes("manufacturing"));
  const gx = orgs.find((o) => o.slug === "globex")!;

  const admin = by("admin@testcorp.com");
  const manager = by("manager@testcorp.com");
  const exec = by("executive@testcorp.com");
  assert.deepEqual([admin.role, admin.organizationId, admin.isCompanyAdmin], ["admin", tc.id, true]);
  assert.deepEqual([manager.role, manager.organizationId, manager.isCompanyAdmin], ["manager", tc.id, false]);
  assert.deepEqual([exec.role, exec.organizationId, exec.reportsToId], ["executive", tc.id, manager.id]);
  assert.equal(by("executive@globex.com").reportsToId, by("manager@globex.com").id);
  assert.equal(by("admin@globex.com").organizationId, gx.id);
  assert.ok(await verifyPassword(admin.passwordHash, DEMO_PASSWORD));
  const roleIds = new Map((await db.db.select().from(t.roles)).map((r) => [r.id, r.name]));
  for (const u of users) assert.equal(roleIds.get(u.roleId!), u.role, u.email);

  const mods = await db.db.select().from(t.userModules).where(eq(t.userModules.userId, manager.id));
  assert.deepEqual(mods.map((m) => m.module).sort(), ["crm", "sales"]);
  assert.ok(mods.every((m) => m.organizationId === tc.id));
  const perms = await db.db.select().from(t.userPermissions).where(eq(t.userPermissions.userId, exec.id));
  assert.deepEqual(perms.map((p) => p.permission).sort(), ["crm_leads_create", "crm_leads_read"]);

  for (
    const table of [
      t.crmLeads,
      t.hrEmployees,
      t.marketingCampaigns,
      t.serviceTickets,
      t.assets,
      t.transportVehicles,
      t.transportTrips,
      t.manufacturingOrders,
    ]
  ) {
    const rows = await db.db.select().from(table);
    assert.ok(rows.length >= 4, "rows in both organizations");
    for (const org of [tc, gx]) {
      const mine = rows.filter((r) => r.organizationId === org.id);
      assert.ok(mine.length >= 2);
      const owners = new Set(users.filter((u) => u.organizationId === org.id).map((u) => u.id));
      assert.ok(mine.every((r) => owners.has(r.ownerId)), "owned by the organization's own users");
    }
  }
  const leads = await db.db.select().from(t.crmLeads).where(eq(t.crmLeads.organizationId, tc.id));
  assert.deepEqual(
    [...new Set(leads.map((l) => l.ownerId))].sort(),
    [admin.id, manager.id, exec.id].sort(),
    "leads owned by each role, so own / team / all scopes differ",
  );
  const trips = await db.db.select().from(t.transportTrips);
  assert.ok(trips.every((x) => x.vehicleId !== null));
});

dbTest("seeders: production seeds no demo data and never the published default password", async (db) => {
  const announced: string[] = [];
  const svc = service(db, {
    env: {
      APP_ENV: "production",
      SECRET_KEY: "prod-key-7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e",
      DATABASE_URL: "file:/tmp/p.db",
    },
    announce: (m) => announced.push(m),
  });
  const r = await svc.execute({ triggeredBy: "t", createBackup: false });
  assert.deepEqual(Object.keys(r.results.seeders), defaultPlan("production"));
  assert.deepEqual(Object.keys(r.results.seeders).filter((n) => SHIPPED_SEEDERS.includes(n)), [
    "PermissionsSeeder",
    "RolesSeeder",
    "EntitlementsSeeder",
    "SuperAdminSeeder",
    "SMSTemplatesSeeder",
  ]);
  assert.equal(await rowCount(db, db.t.organizations), 0);
  const users = await db.db.select().from(db.t.users);
  assert.deepEqual(users.map((u) => u.email), ["admin@foodfleet.com"]);
  assert.ok(users[0].mustChangePassword);
  assert.ok(!(await verifyPassword(users[0].passwordHash, "SuperAdmin@123")));
  assert.equal(announced.length, 1);
  const generated = announced[0].split("\n")[1].trim();
  assert.match(generated, /^[A-Za-z0-9_-]{20}$/);
  assert.ok(await verifyPassword(users[0].passwordHash, generated));
  // Shown once: the next run neither changes nor prints it.
  const again = await svc.execute({ triggeredBy: "t", createBackup: false });
  assert.deepEqual(again.results.total, { created: 0, updated: 0, deleted: 0 });
  assert.equal(announced.length, 1);
});

dbTest(
  "seeders: production takes SUPERADMIN_PASSWORD and replaces a leftover default password",
  async (db) => {
    // A database first seeded for development, then promoted to production.
    await service(db).execute({ triggeredBy: "t", createBackup: false, only: ["SuperAdminSeeder"] });
    const announced: string[] = [];
    const prod = service(db, {
      env: {
        APP_ENV: "production",
        SECRET_KEY: "prod-key-7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e",
        DATABASE_URL: "file:/tmp/p.db",
        SUPERADMIN_EMAIL: "ops@corp.example",
        SUPERADMIN_PASSWORD: "Corr3ct-Horse-Battery",
      },
      announce: (m) => announced.push(m),
    });
    const r = await prod.execute({ triggeredBy: "t", createBackup: false, only: ["SuperAdminSeeder"] });
    assert.deepEqual(r.results.seeders.SuperAdminSeeder, {
      status: "completed",
      created: 1,
      updated: 2,
      deleted: 0,
    });
    const users = await db.db.select().from(db.t.users)
      .where(
        inArray(db.t.users.email, ["ops@corp.example", "admin@foodfleet.com", "superadmin@example.com"]),
      );
    for (const u of users) {
      assert.ok(!(await verifyPassword(u.passwordHash, "SuperAdmin@123")), u.email);
      assert.ok(u.mustChangePassword, u.email);
    }
    const ops = users.find((u) => u.email === "ops@corp.example")!;
    assert.ok(await verifyPassword(ops.passwordHash, "Corr3ct-Horse-Battery"));
    assert.ok(ops.isSuperAdmin);
    assert.equal(announced.length, 2, "the two generated replacements are shown once");
    assert.ok(announced.every((m) => !m.includes("Corr3ct-Horse-Battery")));
  },
);

dbTest("seeders: --only runs the named seeder with its dependencies and nothing else", async (db) => {
  const r = await service(db).execute({ triggeredBy: "t", createBackup: false, only: ["SuperAdminSeeder"] });
  assert.deepEqual(Object.keys(r.results.seeders), ["PermissionsSeeder", "RolesSeeder", "SuperAdminSeeder"]);
  assert.equal(await rowCount(db, db.t.entitlementProfiles), 0);
  assert.equal(await rowCount(db, db.t.users), 2);
});
