/**
 * The route guard as Hono middleware (`requireAccess(access, module, action)`)
 * and `authenticated(access)` for routes that only need a caller. The
 * decision itself is `AccessService.authorize` → `decide()`; this file only
 * reads the request, logs, audits and throws. Must never let a request past
 * without a bearer token that `AccessService.authenticate` accepted.
 * Story: docs/access.md.
 */
import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../errors.ts";
import type { HttpEnv } from "../http/types.ts";
import { markDenialAudited } from "../audit/forbidden_audit.ts";
import type { AccessService } from "./access_service.ts";
import type { Decision } from "./decide.ts";
import { isCatalogAction } from "./actions.ts";
import type { UserSnapshot } from "./loader.ts";
import { isInt32Id, MAX_INT32 } from "../http/input_rules.ts";

export interface GuardOptions {
  /** Submodule for submodule permissions (`crm_leads_read` → module crm, submodule leads). */
  submodule?: string;
  /** A platform super admin without X-Organization-Id acts at platform level (organizations, users, roles lists). */
  platformWhenUnscoped?: boolean;
}

/** Every (module, action[, submodule]) a guard was built for in this process (tests compare it with the catalog). */
export const GUARDED_ACTIONS = new Set<string>();

/** The header a platform super admin names the organization he acts on with. */
export const ORG_HEADER = "X-Organization-Id";

/** Middleware: authenticates and sets `c.var.auth`, without the password-change gate (for me / password change). */
export function authenticated(access: AccessService): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const user = await access.authenticate(c.req.header("authorization"));
    c.set("auth", {
      user: user.principal,
      organizationId: user.principal.organizationId,
      scope: user.access.recordScope,
    });
    await requireActiveOrganization(access, c, user);
    await next();
  };
}

/**
 * Refuses (403, audited) a caller whose own organization is deactivated or gone, by the guard's own tenant
 * rule (the tenant layer decides before any module or action is looked at). Used by `authenticated` and
 * by the AuthZEN API, so a deactivated organization's tokens are refused on every path.
 */
export async function requireActiveOrganization(
  access: AccessService,
  c: Context<HttpEnv>,
  user: UserSnapshot,
): Promise<void> {
  const orgId = user.access.organizationId;
  if (orgId === null) return;
  const d = await access.organizationRefusal(user, orgId);
  if (d) await refuse(access, c, user, orgId, "users", "read", d);
}

/**
 * The route guard: authenticates the bearer token, refuses accounts that must
 * change their password, resolves the organization the request acts on, runs
 * tenant → entitlement → RBAC and hands the handler
 * `c.var.auth = {user, organizationId, scope}`. For RBAC-only modules (users,
 * roles, seeders, …) the entitlement layer passes.
 */
export function requireAccess(
  access: AccessService,
  module: string,
  action: string,
  options: GuardOptions = {},
): MiddlewareHandler<HttpEnv> {
  // A route can only be guarded by an action of the catalog: anything else fails when the app is built.
  if (!isCatalogAction(module, action, options.submodule)) {
    throw new Error(
      `guard: ${module}.${action}${
        options.submodule ? ` (${options.submodule})` : ""
      } is not in the action catalog (src/access/actions.ts)`,
    );
  }
  GUARDED_ACTIONS.add(`${module}.${action}${options.submodule ? `.${options.submodule}` : ""}`);
  return async (c, next) => {
    const user = await access.authenticate(c.req.header("authorization"));
    if (user.mustChangePassword) {
      // Known caller: the 403's audit entry names him.
      c.set("auth", { user: user.principal, organizationId: user.principal.organizationId });
      throw new AppError(
        "PASSWORD_CHANGE_REQUIRED",
        "this account must change its password first: POST /api/v1/auth/password/change",
      );
    }
    const target = targetOrganization(c.req.header(ORG_HEADER), user);
    const d = await access.authorize(user, target, module, action, options);
    access.decisions?.record({
      source: "guard",
      allowed: d.allowed,
      subject: { type: "user", id: String(user.access.id) },
      organizationId: target,
      module,
      action,
      resource: `${c.req.method} ${c.req.path}`,
      layer: d.layer,
      reason: d.reason,
      requestId: c.get("requestId"),
    });
    if (!d.allowed) await refuse(access, c, user, target, module, action, d);
    if (user.access.kind === "super_admin" && target !== null) {
      c.get("log")?.info("cross_organization_action", {
        actor_user_id: user.access.id,
        organization_id: target,
        method: c.req.method,
        path: c.req.path,
      });
      await access.audit.record(auditEntry(c, user, target, "access.cross_organization", { module, action }));
    }
    c.set("auth", { user: user.principal, organizationId: target, scope: d.scope });
    await next();
  };
}

/** The organization a request acts on: a super admin's `X-Organization-Id`, else the user's own. */
export function targetOrganization(raw: string | undefined, user: UserSnapshot): number | null {
  if (raw === undefined || raw.trim() === "") return user.access.organizationId;
  if (!/^\d{1,15}$/.test(raw.trim()) || !isInt32Id(Number(raw))) {
    throw new AppError(
      "VALIDATION_ERROR",
      `${ORG_HEADER}: "${raw}" is not an organization id (a positive integer up to ${MAX_INT32})`,
      {
        extra: { errors: [{ field: ORG_HEADER, message: "must be a positive integer" }] },
      },
    );
  }
  return Number(raw.trim());
}

/** Logs and audits a denial, then throws the error the client sees (400, 404 or 403). */
async function refuse(
  access: AccessService,
  c: Context<HttpEnv>,
  user: UserSnapshot,
  target: number | null,
  module: string,
  action: string,
  d: Decision,
): Promise<never> {
  c.get("log")?.warn("access_denied", {
    actor_user_id: user.access.id,
    organization_id: target,
    module,
    action,
    layer: d.layer,
    reason: d.reason,
    method: c.req.method,
    path: c.req.path,
  });
  if (d.reason === "organization_required") {
    throw new AppError("BAD_REQUEST", `${d.message}`, { extra: { layer: d.layer, reason: d.reason } });
  }
  if (d.reason === "organization_not_found" && user.access.kind === "super_admin") {
    throw new AppError("NOT_FOUND", `organization ${target} not found`);
  }
  markDenialAudited(c);
  await access.audit.recordSafely(
    auditEntry(c, user, target, "access.denied", {
      module,
      action,
      layer: d.layer,
      reason: d.reason,
      message: d.message,
    }),
  );
  throw new AppError("FORBIDDEN", d.message, {
    extra: { module, action, layer: d.layer, reason: d.reason },
  });
}

/** An audit entry about this request by `user` on organization `target`. */
function auditEntry(
  c: Context<HttpEnv>,
  user: UserSnapshot,
  target: number | null,
  event: string,
  details: Record<string, unknown>,
) {
  return {
    event,
    actorUserId: user.access.id,
    organizationId: target,
    target: `${c.req.method} ${c.req.path}`,
    requestId: c.get("requestId"),
    details,
  };
}
