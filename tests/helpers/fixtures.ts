/**
 * Fixtures for the access tests, created through the same tables the
 * services use. One argon2id hash per process (hashing is deliberately slow).
 */
import type { Database } from "../../src/db/client.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { TIERS } from "../../src/tenants/modules.ts";

export const PASSWORD = "Fixture-Passw0rd!";
let hash: Promise<string> | null = null;
/** The hash of PASSWORD, computed once. */
export function fixtureHash(): Promise<string> {
  hash ??= hashPassword(PASSWORD);
  return hash;
}

/** Writes seed 000's four entitlement profiles. */
export async function seedProfiles(db: Database): Promise<void> {
  await db.db.insert(db.t.entitlementProfiles).values(TIERS.map((t) => ({
    tier: t.tier,
    name: t.name,
    description: t.description,
    modules: t.modules,
    trialModules: t.trialModules,
  })));
}

export interface OrgInput {
  name: string;
  tier?: string;
  enabledModules?: Record<string, boolean>;
  trialEnds?: Record<string, string>;
  isActive?: boolean;
}

export async function createOrg(db: Database, o: OrgInput) {
  const [row] = await db.db.insert(db.t.organizations).values({
    name: o.name,
    slug: o.name.toLowerCase().replace(/[^a-z0-9]+/g, "-"),
    licenseTier: o.tier ?? "free",
    enabledModules: o.enabledModules ?? {},
    trialEnds: o.trialEnds ?? {},
    isActive: o.isActive ?? true,
  }).returning();
  return row;
}

export interface UserInput {
  email: string;
  role: string;
  organizationId: number | null;
  isSuperAdmin?: boolean;
  isCompanyAdmin?: boolean;
  reportsToId?: number | null;
  roleId?: number | null;
  modules?: string[];
  permissions?: string[];
  mustChangePassword?: boolean;
  isActive?: boolean;
  passwordHash?: string;
}

export async function createUser(db: Database, u: UserInput) {
  const [row] = await db.db.insert(db.t.users).values({
    email: u.email,
    passwordHash: u.passwordHash ?? await fixtureHash(),
    role: u.role,
    roleId: u.roleId ?? null,
    organizationId: u.organizationId,
    reportsToId: u.reportsToId ?? null,
    isSuperAdmin: u.isSuperAdmin ?? false,
    isCompanyAdmin: u.isCompanyAdmin ?? false,
    isActive: u.isActive ?? true,
    mustChangePassword: u.mustChangePassword ?? false,
  }).returning();
  if (u.modules?.length) {
    await db.db.insert(db.t.userModules).values(
      u.modules.map((module) => ({ userId: row.id, organizationId: u.organizationId!, module })),
    );
  }
  if (u.permissions?.length) {
    await db.db.insert(db.t.userPermissions).values(
      u.permissions.map((permission) => ({ userId: row.id, organizationId: u.organizationId!, permission })),
    );
  }
  return row;
}

/** Creates (or finds) catalog permissions and a role holding them. */
export async function createRole(
  db: Database,
  r: {
    name: string;
    organizationId?: number | null;
    permissions: string[];
    isSystem?: boolean;
    recordScope?: string;
  },
) {
  const [role] = await db.db.insert(db.t.roles).values({
    name: r.name,
    organizationId: r.organizationId ?? null,
    scopeKey: r.organizationId ?? 0,
    isSystem: r.isSystem ?? false,
    recordScope: r.recordScope ?? "own",
  }).returning();
  for (const name of r.permissions) {
    const [module, action] = name.split(/[.:]/);
    await db.db.insert(db.t.permissions).values({ name, module, action: action ?? "*" })
      .onConflictDoNothing();
    const [p] = await db.db.select().from(db.t.permissions).where(
      (await import("drizzle-orm")).eq(db.t.permissions.name, name),
    );
    await db.db.insert(db.t.rolePermissions).values({ roleId: role.id, permissionId: p.id });
  }
  return role;
}

/**
 * Two organizations and one user per role:
 * - Acme (starter: crm, sales, inventory; manufacturing explicitly off) with admin, manager (crm),
 *   executive (crm_leads_read, crm_leads_create; reports to the manager), a second executive, a custom "auditor" (crm.read, scope all);
 * - Globex (enterprise) with its admin;
 * - a platform super admin.
 */
export async function createWorld(db: Database) {
  await seedProfiles(db);
  const acme = await createOrg(db, {
    name: "Acme",
    tier: "starter",
    enabledModules: { MANUFACTURING: false },
  });
  const globex = await createOrg(db, { name: "Globex", tier: "enterprise" });
  const superAdmin = await createUser(db, {
    email: "root@platform.test",
    role: "super_admin",
    organizationId: null,
    isSuperAdmin: true,
  });
  const admin = await createUser(db, {
    email: "admin@acme.test",
    role: "admin",
    organizationId: acme.id,
    isCompanyAdmin: true,
  });
  const manager = await createUser(db, {
    email: "manager@acme.test",
    role: "manager",
    organizationId: acme.id,
    modules: ["crm"],
  });
  const executive = await createUser(db, {
    email: "exec@acme.test",
    role: "executive",
    organizationId: acme.id,
    reportsToId: manager.id,
    permissions: ["crm_leads_read", "crm_leads_create"],
  });
  const executive2 = await createUser(db, {
    email: "exec2@acme.test",
    role: "executive",
    organizationId: acme.id,
    reportsToId: manager.id,
    permissions: ["crm_leads_read"],
  });
  const auditorRole = await createRole(db, {
    name: "auditor",
    organizationId: acme.id,
    permissions: ["crm.read"],
    recordScope: "all",
  });
  const auditor = await createUser(db, {
    email: "auditor@acme.test",
    role: "auditor",
    roleId: auditorRole.id,
    organizationId: acme.id,
  });
  const otherAdmin = await createUser(db, {
    email: "admin@globex.test",
    role: "admin",
    organizationId: globex.id,
    isCompanyAdmin: true,
  });
  return {
    acme,
    globex,
    superAdmin,
    admin,
    manager,
    executive,
    executive2,
    auditor,
    auditorRole,
    otherAdmin,
  };
}

export type World = Awaited<ReturnType<typeof createWorld>>;

/** Logs in through the API and returns the bearer token. */
export async function login(
  app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> },
  email: string,
  password = PASSWORD,
): Promise<string> {
  const res = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login ${email} failed: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

/** Authorization (and optional organization) headers. */
export function bearer(token: string, orgId?: number): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    ...(orgId !== undefined ? { "x-organization-id": String(orgId) } : {}),
  };
}
