/**
 * Seed 000's verification checklist as data: tables present, migration
 * state, key counts, each organization's tier and modules, users and roles,
 * and the last seeding run. `problems` lists what makes the check fail. It only
 * reads: it never changes the database. Story: docs/seeding.md ("CLI").
 */
import { asc, count, desc, getTableName } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { MIGRATIONS_TABLE, migrationStatus } from "../db/migrator.ts";
import { listTables } from "../db/tables.ts";
import type { AnyTable } from "./types.ts";
import { ALWAYS_ON_MODULES, normalizeModule, TIERS } from "../tenants/modules.ts";

export interface OrganizationReport {
  id: number;
  name: string;
  licenseTier: string;
  isActive: boolean;
  enabledModules: Record<string, boolean>;
  trialEnds: Record<string, string>;
  /** What the organization may use: always-on + tier + enabled overrides + unexpired trials. */
  entitledModules: string[];
}

export interface VerifyReport {
  database: string;
  dialect: string;
  tables: { expected: number; missing: string[] };
  migrations: { applied: number; pending: string[]; drift: string[]; head: string | null };
  counts: {
    organizations: number;
    users: number;
    permissions: number;
    roles: number;
    rolePermissions: number;
  };
  organizations: OrganizationReport[];
  users: {
    email: string;
    role: string;
    organizationId: number | null;
    isSuperAdmin: boolean;
    isActive: boolean;
  }[];
  lastExecution:
    | { id: number; status: string; kind: string; triggeredBy: string; finishedAt: Date | null }
    | null;
  problems: string[];
}

/** Gathers the checklist. Never throws for a half-migrated database: it reports it. */
export async function verifyDatabase(db: Database): Promise<VerifyReport> {
  const expected = [...Object.values(db.t).map((t) => getTableName(t as AnyTable)), MIGRATIONS_TABLE];
  const present = new Set(await listTables(db));
  const missing = expected.filter((n) => !present.has(n));
  const status = await migrationStatus(db);
  const applied = status.filter((s) => s.state === "applied");
  const report: VerifyReport = {
    database: db.label,
    dialect: db.dialect,
    tables: { expected: expected.length, missing },
    migrations: {
      applied: applied.length,
      pending: status.filter((s) => s.state === "pending").map((s) => s.tag),
      drift: status.filter((s) => s.state === "drift" || s.state === "missing").map((s) => s.tag),
      head: applied.length ? applied[applied.length - 1].tag : null,
    },
    counts: { organizations: 0, users: 0, permissions: 0, roles: 0, rolePermissions: 0 },
    organizations: [],
    users: [],
    lastExecution: null,
    problems: [],
  };
  const p = report.problems;
  if (missing.length) p.push(`missing tables: ${missing.join(", ")} (run \`deno task migrate\`)`);
  if (report.migrations.pending.length) p.push(`pending migrations: ${report.migrations.pending.join(", ")}`);
  if (report.migrations.drift.length) p.push(`migration drift: ${report.migrations.drift.join(", ")}`);
  if (missing.length) return report;

  const { t } = db;
  const n = async (table: AnyTable) => Number((await db.db.select({ n: count() }).from(table))[0].n);
  report.counts = {
    organizations: await n(t.organizations),
    users: await n(t.users),
    permissions: await n(t.permissions),
    roles: await n(t.roles),
    rolePermissions: await n(t.rolePermissions),
  };
  const profiles = await db.db.select().from(t.entitlementProfiles);
  const now = Date.now();
  for (const o of await db.db.select().from(t.organizations).orderBy(asc(t.organizations.id))) {
    const tierModules = profiles.find((x) => x.tier === o.licenseTier)?.modules ??
      TIERS.find((x) => x.tier === o.licenseTier)?.modules ?? [];
    const entitled = new Set<string>([...ALWAYS_ON_MODULES, ...tierModules.map(normalizeModule)]);
    for (const [k, on] of Object.entries(o.enabledModules ?? {})) {
      if (on) entitled.add(normalizeModule(k));
      else entitled.delete(normalizeModule(k));
    }
    for (const [k, end] of Object.entries(o.trialEnds ?? {})) {
      if (Date.parse(end) > now) entitled.add(normalizeModule(k));
    }
    report.organizations.push({
      id: o.id,
      name: o.name,
      licenseTier: o.licenseTier,
      isActive: o.isActive,
      enabledModules: o.enabledModules,
      trialEnds: o.trialEnds,
      entitledModules: [...entitled].sort(),
    });
  }
  report.users = (await db.db.select().from(t.users).orderBy(asc(t.users.id)).limit(200)).map((u) => ({
    email: u.email,
    role: u.role,
    organizationId: u.organizationId,
    isSuperAdmin: u.isSuperAdmin,
    isActive: u.isActive,
  }));
  const [last] = await db.db.select().from(t.seederExecutions).orderBy(desc(t.seederExecutions.id)).limit(1);
  if (last) {
    report.lastExecution = {
      id: last.id,
      status: last.status,
      kind: last.kind,
      triggeredBy: last.triggeredBy,
      finishedAt: last.finishedAt,
    };
  }
  if (report.counts.permissions === 0) p.push("no permissions: run `deno task seed`");
  if (report.counts.rolePermissions === 0) p.push("no role grants: run `deno task seed`");
  if (!report.users.some((u) => u.isSuperAdmin && u.isActive)) {
    p.push("no active super admin: run `deno task seed`");
  }
  return report;
}
