/**
 * The pure access decision: (principal, organization, request) → decision
 * with the layer that decided and a reason code. No I/O, no clock reads (the
 * caller passes `now`), no exceptions — loaders and caches live around it.
 *
 * An action outside the action catalog (`actions.ts`) is denied first, to everyone (`unknown_action`).
 * Then layers run in order and the first denial wins:
 * 1. tenant      — platform-only actions, the organization the request acts on, cross-tenant resources;
 * 2. entitlement — may the organization use the module (tier, overrides, trials)?;
 * 3. rbac        — does the principal hold a permission for the action?;
 * 4. record      — is the record inside the principal's scope (own / team / all)?
 *
 * Platform super admins pass RBAC and record scope everywhere, but they do NOT
 * bypass entitlements when they act on an organization: they see what the
 * organization is licensed for (changing the tier is an explicit, audited act).
 * Story: docs/access.md ("The three layers").
 */
import { checkEntitlement, type EntitlementState } from "../tenants/entitlements.ts";
import { normalizeModule } from "../tenants/modules.ts";
import type { GrantSet } from "./permissions.ts";
import { isCatalogAction, permissionFor } from "./actions.ts";

export type Layer = "tenant" | "entitlement" | "rbac" | "record";
export type RecordScope = "own" | "team" | "all";
/** Which built-in rule set applies to a principal. */
export type RoleKind = "super_admin" | "admin" | "manager" | "executive" | "custom";

export type ReasonCode =
  | "subject_inactive"
  | "platform_only"
  | "organization_required"
  | "no_organization"
  | "cross_tenant"
  | "organization_not_found"
  | "organization_inactive"
  | "not_entitled"
  | "trial_expired"
  | "missing_permission"
  | "executive_cannot_create_users"
  | "record_out_of_scope"
  /** The action is not in the action catalog (`actions.ts`) for the module (and submodule). */
  | "unknown_action"
  /** AuthZEN only: the subject or the record is unknown (or outside the organization). */
  | "subject_not_found"
  | "resource_not_found";

/** A principal as the decision needs it (built by the loader, cached). */
export interface AccessPrincipal {
  id: number;
  email: string;
  /** Base role as stored (`admin`, `manager`, a custom role's name, …). */
  role: string;
  kind: RoleKind;
  organizationId: number | null;
  isActive: boolean;
  /** Role permissions ∪ user permissions. */
  grants: GrantSet;
  /** Modules assigned through `user_modules` (managers get full access to them). */
  modules: ReadonlySet<string>;
  recordScope: RecordScope;
  /** Ids of the users who report to this principal (a manager's team). */
  teamIds: ReadonlySet<number>;
}

export interface AccessOrganization {
  id: number;
  name: string;
  isActive: boolean;
  entitlements: EntitlementState;
}

export interface AccessRequest {
  module: string;
  action: string;
  /** For submodule permissions such as `crm_leads_read`. */
  submodule?: string;
  /** The organization the request acts on (the principal's own, or the one a super admin named); null if none. */
  organizationId: number | null;
  /** A specific record, when the request is about one. */
  resource?: { organizationId?: number | null; ownerId?: number | null };
  /** Epoch ms (trials are compared with it). */
  now: number;
  /**
   * A platform super admin who names no organization acts at platform level
   * (lists across organizations, platform users and global roles) instead of
   * being asked for X-Organization-Id.
   */
  platformWhenUnscoped?: boolean;
}

export interface TraceStep {
  layer: Layer;
  outcome: "pass" | "deny" | "skip";
  reason?: ReasonCode;
  detail: string;
}

export interface Decision {
  allowed: boolean;
  /** Set on a denial. */
  layer?: Layer;
  reason?: ReasonCode;
  /** One sentence naming the module and why. */
  message: string;
  /** The record scope the principal has on the module (for repository queries). */
  scope: RecordScope;
  trace: TraceStep[];
}

/** Actions only platform super admins may perform, whatever permissions a tenant user holds. */
const PLATFORM_ACTIONS: Record<string, "all" | ReadonlySet<string>> = {
  seeders: "all",
  backups: "all",
  organization: new Set(["create", "update", "delete"]),
};

/** True when every action of the module is a platform-level operation (`seeders`, `backups`). */
export function isPlatformModule(module: string): boolean {
  return PLATFORM_ACTIONS[module] === "all";
}

/** True when (module, action) is a platform-level operation (no organization; super admins only). */
export function isPlatformAction(module: string, action: string): boolean {
  const p = PLATFORM_ACTIONS[module];
  return p === "all" || (p !== undefined && p.has(action));
}

/** Implicit permissions of managers besides their assigned modules (who they may create is the users service's rule). */
const MANAGER_IMPLICIT = new Set(["users.read", "users.create"]);

/** The record scope that goes with a role kind (custom roles carry their own). */
export function scopeFor(kind: RoleKind, customScope: RecordScope): RecordScope {
  switch (kind) {
    case "super_admin":
    case "admin":
      return "all";
    case "manager":
      return "team";
    case "executive":
      return "own";
    default:
      return customScope;
  }
}

function deny(
  trace: TraceStep[],
  layer: Layer,
  reason: ReasonCode,
  message: string,
  scope: RecordScope,
): Decision {
  trace.push({ layer, outcome: "deny", reason, detail: message });
  return { allowed: false, layer, reason, message, scope, trace };
}

/** Decides one request. Pure and total: every input yields a decision. */
export function decide(
  principal: AccessPrincipal,
  org: AccessOrganization | null,
  request: AccessRequest,
): Decision {
  const module = normalizeModule(request.module);
  const action = request.action.toLowerCase();
  const submodule = request.submodule?.toLowerCase();
  const scope = principal.recordScope;
  const trace: TraceStep[] = [];
  const what = `${permissionFor(module, action)}${submodule ? ` (${submodule})` : ""}`;
  const superAdmin = principal.kind === "super_admin";

  // Nothing outside the action catalog is ever allowed, to anyone (a typo or an unplanned verb is no
  // question a permission or a wildcard answers). Reported as RBAC: there is no permission for it.
  if (!isCatalogAction(module, action, submodule)) {
    return deny(
      trace,
      "rbac",
      "unknown_action",
      `${what} is not an action of the catalog${
        submodule ? ` (module ${module}, submodule ${submodule})` : ` (module ${module})`
      }`,
      scope,
    );
  }

  // ── Layer 1: tenant ────────────────────────────────────────────────
  if (!principal.isActive) {
    return deny(trace, "tenant", "subject_inactive", `user ${principal.id} is deactivated`, scope);
  }
  const platform = isPlatformAction(module, action) ||
    (superAdmin && request.platformWhenUnscoped === true && request.organizationId === null);
  if (platform) {
    if (!superAdmin) {
      return deny(
        trace,
        "tenant",
        "platform_only",
        `${what} is a platform operation: only platform super admins may perform it`,
        scope,
      );
    }
    trace.push({ layer: "tenant", outcome: "pass", detail: "platform operation by a platform super admin" });
    trace.push({
      layer: "entitlement",
      outcome: "skip",
      detail: "platform operations are not license-gated",
    });
    trace.push({ layer: "rbac", outcome: "pass", detail: "platform super admin" });
    trace.push({ layer: "record", outcome: "skip", detail: "platform super admins see all records" });
    return { allowed: true, message: `${what} allowed`, scope: "all", trace };
  }

  const target = request.organizationId;
  if (target === null) {
    if (superAdmin) {
      return deny(
        trace,
        "tenant",
        "organization_required",
        `${what} acts on an organization: a platform super admin must name one with X-Organization-Id`,
        scope,
      );
    }
    return deny(trace, "tenant", "no_organization", `user ${principal.id} belongs to no organization`, scope);
  }
  if (!superAdmin && principal.organizationId !== target) {
    return deny(
      trace,
      "tenant",
      "cross_tenant",
      `user ${principal.id} belongs to organization ${principal.organizationId}, not ${target}`,
      scope,
    );
  }
  if (!org || org.id !== target) {
    return deny(trace, "tenant", "organization_not_found", `organization ${target} not found`, scope);
  }
  if (!org.isActive) {
    return deny(trace, "tenant", "organization_inactive", `organization ${org.id} is deactivated`, scope);
  }
  const res = request.resource;
  if (
    res && res.organizationId !== undefined && res.organizationId !== null && res.organizationId !== target
  ) {
    return deny(
      trace,
      "tenant",
      "cross_tenant",
      `the resource belongs to another organization than ${target}`,
      scope,
    );
  }
  trace.push({
    layer: "tenant",
    outcome: "pass",
    detail: superAdmin
      ? `platform super admin acting on organization ${target}`
      : `member of organization ${target}`,
  });

  // ── Layer 2: entitlement ───────────────────────────────────────────
  const ent = checkEntitlement(org.entitlements, module, request.now);
  if (!ent.entitled) {
    const words = ent.reason === "trial_expired" ? "trial expired" : "not entitled";
    return deny(trace, "entitlement", ent.reason, `module ${module}: ${words} (${ent.detail})`, scope);
  }
  trace.push({ layer: "entitlement", outcome: "pass", detail: `module ${module} via ${ent.source}` });

  // ── Layer 3: RBAC ──────────────────────────────────────────────────
  const kind = principal.kind;
  let via: string | null = null;
  if (kind === "super_admin") via = "platform super admin";
  else if (kind === "admin") via = "organization admin (every permission within the organization)";
  else {
    if (kind === "executive" && module === "users" && action === "create") {
      return deny(trace, "rbac", "executive_cannot_create_users", "executives cannot create users", scope);
    }
    if (kind === "manager" && principal.modules.has(module)) via = `manager assigned to module ${module}`;
    else if (kind === "manager" && MANAGER_IMPLICIT.has(`${module}.${action}`)) {
      via = `manager rule (${module}.${action} within the team)`;
    } else if (principal.grants.allows(module, action, submodule)) {
      via = `permission ${principal.grants.matching(module, action, submodule).join(", ")}`;
    }
  }
  if (via === null) {
    return deny(
      trace,
      "rbac",
      "missing_permission",
      `permission ${permissionFor(module, action)} required${
        submodule && submodule !== module ? ` (or ${module}_${submodule}_${action})` : ""
      }`,
      scope,
    );
  }
  trace.push({ layer: "rbac", outcome: "pass", detail: via });

  // ── Layer 4: record scope ──────────────────────────────────────────
  const effective: RecordScope = superAdmin ? "all" : scope;
  if (res && res.ownerId !== undefined && res.ownerId !== null) {
    const owner = res.ownerId;
    const inScope = effective === "all" ||
      owner === principal.id ||
      (effective === "team" && principal.teamIds.has(owner));
    if (!inScope) {
      return deny(
        trace,
        "record",
        "record_out_of_scope",
        `record owned by user ${owner} is outside the ${effective} scope of user ${principal.id}`,
        effective,
      );
    }
    trace.push({ layer: "record", outcome: "pass", detail: `owner ${owner} within ${effective} scope` });
  } else {
    trace.push({
      layer: "record",
      outcome: "skip",
      detail: `no specific record; lists are filtered to ${effective} scope`,
    });
  }
  return { allowed: true, message: `${what} allowed`, scope: effective, trace };
}
