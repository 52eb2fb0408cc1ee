/**
 * The access service: authentication of bearer tokens, the route guard
 * `guard(module, action)` (a.k.a. requireAccess) running tenant → entitlement
 * → RBAC, and the evaluation entry point the AuthZEN API uses.
 */
import { awaitReplicas, LeaseReplica } from "./lease.ts";
import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { HttpEnv } from "../http/types.ts";
import type { Logger } from "../log.ts";
import type { AuditService } from "../audit/audit.ts";
import { InvalidTokenError, type TokenService } from "../auth/tokens.ts";
import { markDenialAudited } from "../audit/forbidden_audit.ts";
import { AccessCache } from "./cache.ts";
import { type AccessOrganization, type AccessRequest, decide, type Decision } from "./decide.ts";
import type { UserSnapshot } from "./loader.ts";
import { entitledModules } from "../tenants/entitlements.ts";
import { ALL_MODULES } from "../tenants/modules.ts";

/** The one 401 body: whatever was wrong with the credentials, the answer is the same. */
export const UNAUTHENTICATED_MESSAGE = "Could not validate credentials";
export const unauthenticated = () => new AppError("UNAUTHORIZED", UNAUTHENTICATED_MESSAGE);

export interface GuardOptions {
  /** Submodule for submodule permissions (`crm_leads_read` → module crm, submodule leads). */
  submodule?: string;
  /** A platform super admin without X-Organization-Id acts at platform level (organizations, users, roles lists). */
  platformWhenUnscoped?: boolean;
}

/** The header a platform super admin names the organization he acts on with. */
export const ORG_HEADER = "X-Organization-Id";

export class AccessService {
  readonly cache: AccessCache;

  constructor(
    private readonly deps: {
      config: Config;
      db: Database;
      logger: Logger;
      tokens: TokenService;
      audit: AuditService;
    },
  ) {
    this.cache = new AccessCache(deps.db, deps.logger);
    const { freshness, leaseMs, pollMs } = deps.config.access;
    if (freshness === "lease") {
      this.cache.lease = new LeaseReplica(
        deps.db,
        (v) => this.cache.apply(v),
        { leaseMs, pollMs },
        deps.logger,
      );
    }
  }

  /** ACCESS_FRESHNESS=lease: registers this process as a replica and starts polling (servers only). */
  async startLease(): Promise<void> {
    await this.cache.lease?.start();
  }

  /** Leaves the replicas (no writer waits for this process any more). */
  async stopLease(): Promise<void> {
    await this.cache.lease?.stop();
  }

  get tokens(): TokenService {
    return this.deps.tokens;
  }

  /**
   * Authenticates a bearer token: signature, algorithm, expiry, then the
   * user's current state (exists, active, same organization, password not
   * changed since the token was issued). Throws the one 401.
   */
  async authenticate(authorization: string | undefined): Promise<UserSnapshot> {
    const m = authorization ? /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(authorization) : null;
    if (!m) throw unauthenticated();
    let claims;
    try {
      claims = this.deps.tokens.cached(m[1]) ?? await this.deps.tokens.verify(m[1]);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw unauthenticated();
      throw err;
    }
    await this.cache.sync();
    const loaded = this.cache.loadedUser(claims.userId);
    const user = loaded !== undefined ? loaded : await this.cache.user(claims.userId);
    if (
      !user || !user.access.isActive ||
      user.passwordVersion !== claims.passwordVersion ||
      user.access.organizationId !== claims.organizationId
    ) throw unauthenticated();
    return user;
  }

  /** Middleware: authenticates and sets `c.var.auth`, without the password-change gate (for me / password change). */
  authenticated(): MiddlewareHandler<HttpEnv> {
    return async (c, next) => {
      const user = await this.authenticate(c.req.header("authorization"));
      c.set("auth", {
        user: user.principal,
        organizationId: user.principal.organizationId,
        scope: user.access.recordScope,
      });
      // A deactivated organization's tokens are refused here too, by the guard's own tenant rule
      // (the tenant layer decides before any module or action is looked at).
      const orgId = user.access.organizationId;
      if (orgId !== null) {
        const org = await this.cache.organization(orgId);
        if (!org || !org.isActive) {
          const d = decide(user.access, org, {
            module: "users",
            action: "read",
            organizationId: orgId,
            now: Date.now(),
          });
          if (!d.allowed) await this.#refuse(c, user, orgId, "users", "read", d);
        }
      }
      await next();
    };
  }

  /**
   * The route guard (`requireAccess(module, action)`): authenticates the
   * bearer token, refuses accounts that must change their password, resolves
   * the organization the request acts on, runs tenant → entitlement → RBAC
   * and hands the handler `c.var.auth = {user, organizationId, scope}`.
   * For RBAC-only modules (users, roles, seeders, …) the entitlement layer passes.
   */
  guard(module: string, action: string, options: GuardOptions = {}): MiddlewareHandler<HttpEnv> {
    return async (c, next) => {
      const user = await this.authenticate(c.req.header("authorization"));
      if (user.mustChangePassword) {
        // Known caller: the 403's audit entry names him.
        c.set("auth", { user: user.principal, organizationId: user.principal.organizationId });
        throw new AppError(
          "PASSWORD_CHANGE_REQUIRED",
          "this account must change its password first: POST /api/v1/auth/password/change",
        );
      }
      const target = this.targetOrganization(c, user);
      const org = target === null ? null : await this.cache.organization(target);
      const d = decide(user.access, org, {
        module,
        action,
        submodule: options.submodule,
        platformWhenUnscoped: options.platformWhenUnscoped,
        organizationId: target,
        now: Date.now(),
      });
      if (!d.allowed) await this.#refuse(c, user, target, module, action, d);
      if (user.access.kind === "super_admin" && target !== null) {
        c.get("log")?.info("cross_organization_action", {
          actor_user_id: user.access.id,
          organization_id: target,
          method: c.req.method,
          path: c.req.path,
        });
        await this.deps.audit.record({
          event: "access.cross_organization",
          actorUserId: user.access.id,
          organizationId: target,
          target: `${c.req.method} ${c.req.path}`,
          requestId: c.get("requestId"),
          details: { module, action },
        });
      }
      c.set("auth", { user: user.principal, organizationId: target, scope: d.scope });
      await next();
    };
  }

  /** The organization a request acts on: a super admin's `X-Organization-Id`, else the user's own. */
  targetOrganization(c: Context<HttpEnv>, user: UserSnapshot): number | null {
    const raw = c.req.header(ORG_HEADER);
    if (raw === undefined || raw.trim() === "") return user.access.organizationId;
    if (!/^\d{1,15}$/.test(raw.trim()) || Number(raw) <= 0) {
      throw new AppError(
        "VALIDATION_ERROR",
        `${ORG_HEADER}: "${raw}" is not an organization id (a positive integer)`,
        {
          extra: { errors: [{ field: ORG_HEADER, message: "must be a positive integer" }] },
        },
      );
    }
    return Number(raw.trim());
  }

  /** Evaluates a request for a loaded user (AuthZEN, services). Syncs the cache first. */
  evaluate(
    user: UserSnapshot,
    request: Omit<AccessRequest, "now"> & { now?: number },
  ): Promise<Decision> {
    const run = (org: AccessOrganization | null) =>
      decide(user.access, org, { ...request, now: request.now ?? Date.now() });
    if (request.organizationId === null) return Promise.resolve(run(null));
    const loaded = this.cache.loadedOrganization(request.organizationId);
    if (loaded !== undefined) return Promise.resolve(run(loaded));
    return this.cache.organization(request.organizationId).then(run);
  }

  /** The modules an organization may use now (tier, overrides, live trials, always-on and RBAC-only), sorted. */
  async entitledModules(organizationId: number): Promise<string[]> {
    await this.cache.sync();
    const org = await this.cache.organization(organizationId);
    if (!org) return [];
    return entitledModules(org.entitlements, ALL_MODULES, Date.now())
      .filter((e) => e.entitled).map((e) => e.module).sort();
  }

  /** A user's snapshot at the current security version (null when unknown). */
  async user(id: number): Promise<UserSnapshot | null> {
    await this.cache.sync();
    return await this.cache.user(id);
  }

  /**
   * Call after a security-relevant change has committed: forgets this process's snapshots, then waits
   * until every replica under a lease has applied the change (the version bump covers the others).
   */
  async changed(): Promise<void> {
    this.cache.invalidate();
    await awaitReplicas(this.deps.db, this.deps.logger, { fallbackMs: this.deps.config.access.leaseMs });
  }

  async #refuse(
    c: Context<HttpEnv>,
    user: UserSnapshot,
    target: number | null,
    module: string,
    action: string,
    d: Decision,
  ): Promise<never> {
    const requestId = c.get("requestId");
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
    await this.deps.audit.recordSafely({
      event: "access.denied",
      actorUserId: user.access.id,
      organizationId: target,
      target: `${c.req.method} ${c.req.path}`,
      requestId,
      details: { module, action, layer: d.layer, reason: d.reason, message: d.message },
    });
    throw new AppError("FORBIDDEN", d.message, {
      extra: { module, action, layer: d.layer, reason: d.reason },
    });
  }
}
