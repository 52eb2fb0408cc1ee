/**
 * The access service: authentication of bearer tokens, the guard's decision
 * (tenant → entitlement → RBAC, `authorize`), and the evaluation entry point
 * the AuthZEN API uses. Knows no HTTP: the Hono middleware is `guard.ts`.
 * Must never answer a token differently from the one 401 when it is refused.
 * Story: docs/access.md.
 */
import { awaitReplicas, LeaseReplica } from "./lease.ts";
import type { Config } from "../config.ts";
import type { Database, Executor } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DecisionLog } from "../observability/decision_log.ts";
import type { AuditService } from "../audit/audit.ts";
import { InvalidTokenError, type TokenClaims, type TokenService } from "../auth/tokens.ts";
import { revocationRefusal, SESSIONS_ENDED_MESSAGE } from "../auth/revocation.ts";
import { AccessCache } from "./cache.ts";
import {
  type AccessOrganization,
  type AccessPrincipal,
  type AccessRequest,
  decide,
  type Decision,
} from "./decide.ts";
import type { UserSnapshot } from "./loader.ts";
import { entitledModules } from "../tenants/entitlements.ts";
import { ALL_MODULES } from "../tenants/modules.ts";

/** The one 401 body: whatever was wrong with the credentials, the answer is the same. */
export const UNAUTHENTICATED_MESSAGE = "Could not validate credentials";
export const unauthenticated = () => new AppError("UNAUTHORIZED", UNAUTHENTICATED_MESSAGE);

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(authorization: string | undefined | null): string | null {
  const m = authorization ? /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(authorization) : null;
  return m ? m[1] : null;
}

export class AccessService {
  readonly cache: AccessCache;
  /** Counts and logs every decision (src/observability/decision_log.ts); set by deps.ts. */
  decisions: DecisionLog | undefined;

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

  /** The security audit trail (the guard records denials and cross-organization actions in it). */
  get audit(): AuditService {
    return this.deps.audit;
  }

  /**
   * Authenticates a bearer token: signature, algorithm, expiry, then the
   * user's current state (exists, active, same organization, password not
   * changed since the token was issued). Throws the one 401.
   */
  async authenticate(authorization: string | undefined): Promise<UserSnapshot> {
    const token = bearerToken(authorization);
    if (!token) throw unauthenticated();
    let claims;
    try {
      claims = this.deps.tokens.cached(token) ?? await this.deps.tokens.verify(token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw unauthenticated();
      throw err;
    }
    await this.cache.sync();
    const loaded = this.cache.loadedUser(claims.userId);
    const user = loaded !== undefined ? loaded : await this.cache.user(claims.userId);
    // A signed token from before the last reset or restore: say why, so the caller logs in again (the epoch is
    // the whole database's: the answer tells nothing about this user).
    if (user && claims.epoch < user.tokens.epoch) throw new AppError("UNAUTHORIZED", SESSIONS_ENDED_MESSAGE);
    if (
      !user || !user.access.isActive ||
      user.passwordVersion !== claims.passwordVersion ||
      user.access.organizationId !== claims.organizationId ||
      // Logged out, revoked, or issued before a reset or restore: the same 401, on every path.
      revocationRefusal(claims, user.tokens) !== null
    ) throw unauthenticated();
    return user;
  }

  /** The claims of a bearer token this service accepts (after `authenticate`: no second verification). */
  async claims(authorization: string | undefined): Promise<TokenClaims> {
    await this.authenticate(authorization);
    const token = bearerToken(authorization)!;
    return this.deps.tokens.cached(token) ?? await this.deps.tokens.verify(token);
  }

  /**
   * The guard's decision (tenant → entitlement → RBAC) for `user` acting on organization `target`
   * (`src/access/guard.ts` turns a denial into the HTTP answer).
   */
  async authorize(
    user: UserSnapshot,
    target: number | null,
    module: string,
    action: string,
    options: { submodule?: string; platformWhenUnscoped?: boolean } = {},
  ): Promise<Decision> {
    const org = target === null ? null : await this.cache.organization(target);
    return decide(user.access, org, {
      module,
      action,
      submodule: options.submodule,
      platformWhenUnscoped: options.platformWhenUnscoped,
      organizationId: target,
      now: Date.now(),
    });
  }

  /**
   * The tenant layer's refusal of a user's own organization (missing or deactivated), or null when it
   * is usable: tokens of a deactivated organization are refused even where no module is guarded.
   */
  async organizationRefusal(user: UserSnapshot, organizationId: number): Promise<Decision | null> {
    const org = await this.cache.organization(organizationId);
    if (org && org.isActive) return null;
    const d = decide(user.access, org, { module: "users", action: "read", organizationId, now: Date.now() });
    return d.allowed ? null : d;
  }

  /**
   * Whether the user's own organization exists and is active (always true for a platform super admin):
   * the fast path's check, without an await when the organization is loaded. The invariant: a deactivated
   * organization's tokens are refused on every path (`/api/v1/*` by `authenticated`/`requireAccess`,
   * `/access/v1/*` by the AuthZEN `pep` and the evaluation fast path).
   */
  async organizationActive(user: UserSnapshot): Promise<boolean> {
    const orgId = user.access.organizationId;
    if (orgId === null) return true;
    const loaded = this.cache.loadedOrganization(orgId);
    const org = loaded !== undefined ? loaded : await this.cache.organization(orgId);
    return org !== null && org.isActive;
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
   * Users' access as a transaction sees them (uncached): the before and after of a change that the
   * no-escalation check (`escalation.ts`) compares. Unknown ids are left out.
   */
  async principalsIn(
    ex: Executor,
    ids: Iterable<number | null | undefined>,
  ): Promise<Map<number, AccessPrincipal>> {
    const out = new Map<number, AccessPrincipal>();
    for (const id of new Set(ids)) {
      if (id === null || id === undefined) continue;
      const snap = await this.cache.loader.loadUser(id, ex);
      if (snap) out.set(id, snap.access);
    }
    return out;
  }

  /**
   * Call after a security-relevant change has committed: forgets this process's snapshots, then waits
   * until every replica under a lease has applied the change (the version bump covers the others).
   */
  async changed(): Promise<void> {
    this.cache.invalidate();
    await awaitReplicas(this.deps.db, this.deps.logger, { fallbackMs: this.deps.config.access.leaseMs });
  }

  /**
   * Call after a revocation (logout, "revoke all") has committed: like `changed()`, but no replica empties
   * its caches — each re-reads token states at its next request (`cache.ts`), this one included.
   */
  async revoked(): Promise<void> {
    await awaitReplicas(this.deps.db, this.deps.logger, { fallbackMs: this.deps.config.access.leaseMs });
  }
}
