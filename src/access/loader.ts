/**
 * Loads what the decision needs from the database: a user's access snapshot
 * (role kind, grants, assigned modules, team) and an organization's
 * entitlement snapshot. Only the cache (`cache.ts`) calls these.
 * Story: docs/access.md.
 */
import { and, eq, inArray, or } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import type { Principal } from "../http/types.ts";
import type { Logger } from "../log.ts";
import { snapshotEntitlements } from "../tenants/entitlements.ts";
import { normalizeModule } from "../tenants/modules.ts";
import {
  type AccessOrganization,
  type AccessPrincipal,
  type RecordScope,
  type RoleKind,
  scopeFor,
} from "./decide.ts";
import { GrantSet } from "./permissions.ts";
import { loadTokenState, type TokenState } from "../auth/revocation.ts";

/** A user as authentication and the guard need it. */
export interface UserSnapshot {
  access: AccessPrincipal;
  /** What handlers receive as `c.var.auth.user`. */
  principal: Principal;
  mustChangePassword: boolean;
  /** password_changed_at in epoch ms: tokens carry it as `pwv`. */
  passwordVersion: number;
  roleId: number | null;
  roleName: string | null;
  /** Token epoch and revocations (`src/auth/revocation.ts`): checked with every token. */
  tokens: TokenState;
}

const SUPER_ROLES = new Set(["super_admin", "superadmin"]);
const SCOPES = new Set<RecordScope>(["own", "team", "all"]);

/** Which built-in rule set a user falls under. */
export function roleKindOf(u: {
  role: string;
  organizationId: number | null;
  isSuperAdmin: boolean;
  isCompanyAdmin: boolean;
}): RoleKind {
  const role = u.role.trim().toLowerCase();
  if (u.organizationId === null) {
    return u.isSuperAdmin || SUPER_ROLES.has(role) ? "super_admin" : "custom";
  }
  if (role === "admin" || u.isCompanyAdmin) return "admin";
  if (role === "manager") return "manager";
  if (role === "executive") return "executive";
  return "custom";
}

export class AccessLoader {
  constructor(private readonly db: Database, private readonly logger: Logger) {}

  /**
   * Loads a user's snapshot; null when the user does not exist. `ex`: a transaction, to see the state a
   * change is about to commit (the no-escalation check).
   */
  async loadUser(userId: number, ex: Executor = this.db.db): Promise<UserSnapshot | null> {
    const { t } = this.db;
    const db = ex;
    const [u] = await db.select().from(t.users).where(eq(t.users.id, userId)).limit(1);
    if (!u) return null;

    // The role row: by id, else by name (or alias) among global roles and the user's organization's roles.
    let role: typeof t.roles.$inferSelect | undefined;
    if (u.roleId !== null) {
      [role] = await db.select().from(t.roles).where(eq(t.roles.id, u.roleId)).limit(1);
    }
    if (!role) {
      const wanted = u.role.trim().toLowerCase();
      const candidates = await db.select().from(t.roles).where(
        inArray(t.roles.scopeKey, u.organizationId === null ? [0] : [0, u.organizationId]),
      );
      const matches = candidates.filter((r) =>
        r.name.toLowerCase() === wanted || (r.aliases ?? []).some((a) => a.toLowerCase() === wanted)
      );
      role = matches.find((r) => r.scopeKey !== 0) ?? matches[0];
    }
    // A custom role of another organization never applies.
    if (role && role.organizationId !== null && role.organizationId !== u.organizationId) role = undefined;

    const names: string[] = [];
    if (role) {
      const rows = await db.select({ name: t.permissions.name }).from(t.rolePermissions)
        .innerJoin(t.permissions, eq(t.rolePermissions.permissionId, t.permissions.id))
        .where(eq(t.rolePermissions.roleId, role.id));
      for (const r of rows) names.push(r.name);
    }
    const modules = new Set<string>();
    const teamIds = new Set<number>();
    if (u.organizationId !== null) {
      const ups = await db.select({ p: t.userPermissions.permission }).from(t.userPermissions).where(
        and(eq(t.userPermissions.userId, u.id), eq(t.userPermissions.organizationId, u.organizationId)),
      );
      for (const r of ups) names.push(r.p);
      const ums = await db.select({ m: t.userModules.module }).from(t.userModules).where(
        and(eq(t.userModules.userId, u.id), eq(t.userModules.organizationId, u.organizationId)),
      );
      for (const r of ums) modules.add(normalizeModule(r.m));
      const team = await db.select({ id: t.users.id }).from(t.users).where(
        and(eq(t.users.reportsToId, u.id), eq(t.users.organizationId, u.organizationId)),
      );
      for (const r of team) teamIds.add(r.id);
    }
    const grants = GrantSet.fromNames(
      names,
      (bad) => this.logger.warn("malformed_permission_ignored", { user_id: u.id, permission: bad }),
    );
    const kind = roleKindOf(u);
    const customScope = role && SCOPES.has(role.recordScope as RecordScope)
      ? role.recordScope as RecordScope
      : "own";
    const access: AccessPrincipal = {
      id: u.id,
      email: u.email,
      role: u.role,
      kind,
      organizationId: u.organizationId,
      isActive: u.isActive,
      grants,
      modules,
      recordScope: scopeFor(kind, customScope),
      teamIds,
    };
    return {
      access,
      principal: {
        id: u.id,
        email: u.email,
        role: u.role,
        organizationId: u.organizationId,
        isSuperAdmin: kind === "super_admin",
        isCompanyAdmin: u.isCompanyAdmin,
      },
      mustChangePassword: u.mustChangePassword,
      passwordVersion: u.passwordChangedAt.getTime(),
      roleId: role?.id ?? null,
      roleName: role?.name ?? null,
      tokens: await loadTokenState(this.db, u.id, db),
    };
  }

  /** Loads an organization's snapshot; null when it does not exist. */
  async loadOrganization(orgId: number): Promise<AccessOrganization | null> {
    const { db, t } = this.db;
    const [o] = await db.select().from(t.organizations).where(eq(t.organizations.id, orgId)).limit(1);
    if (!o) return null;
    const tier = normalizeModule(o.licenseTier);
    const [profile] = await db.select().from(t.entitlementProfiles).where(
      or(eq(t.entitlementProfiles.tier, tier), eq(t.entitlementProfiles.tier, o.licenseTier)),
    ).limit(1);
    return {
      id: o.id,
      name: o.name,
      isActive: o.isActive,
      entitlements: snapshotEntitlements({
        tier,
        tierModules: profile ? profile.modules : null,
        enabledModules: o.enabledModules,
        trialEnds: o.trialEnds,
      }),
    };
  }
}
