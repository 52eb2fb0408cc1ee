/**
 * Forward-auth: a gateway (nginx `auth_request`, Traefik ForwardAuth, Envoy
 * HTTP `ext_authz`) asks whether to let a request through. The original
 * method and path come from the dialect's headers (or, for Envoy, the path
 * appended to the check path); the route table maps them to a requirement;
 * the caller's bearer token is authenticated and tenant → entitlement → RBAC
 * decide. 200 carries identity headers for the upstream; 401 / 403 the usual
 * error body.
 *
 * Must never break: deny by default — an unmapped route, a non-canonical
 * path, dialect headers that disagree (a client forging one dialect's header
 * behind another gateway) or a missing target are all refusals, never an
 * allow. Story: docs/gateway.md.
 */
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import type { HttpEnv } from "../http/types.ts";
import type { AccessService } from "../access/access_service.ts";
import { ORG_HEADER, targetOrganization } from "../access/guard.ts";
import type { AuditService } from "../audit/audit.ts";
import type { UserSnapshot } from "../access/loader.ts";
import { markDenialAudited } from "../audit/forbidden_audit.ts";
import type { ServiceKey, ServiceKeyService } from "./service_keys.ts";
import { canonicalPath, HTTP_METHODS, matchRoute, type RouteEntry } from "./route_table.ts";

export const FORWARD_AUTH_PATH = "/access/v1/forward-auth";
/** The signed identity for the upstream (FORWARD_AUTH_IDENTITY_TOKEN). */
export const IDENTITY_TOKEN_HEADER = "X-Seedbed-Identity";
/** The header a gateway presents its service key in (scope `forward-auth`). */
export const GATEWAY_KEY_HEADER = "X-Seedbed-Key";
export const DIALECTS = ["auto", "nginx", "traefik", "envoy"] as const;
export type Dialect = typeof DIALECTS[number];

/** The request the gateway is about to forward. */
export interface OriginalRequest {
  dialect: Exclude<Dialect, "auto">;
  method: string;
  /** Canonical path (no query string). */
  path: string;
}

/** Headers the upstream receives on an allow (the gateway copies them; docs/gateway.md). */
export const IDENTITY_HEADERS = [
  "X-User-Id",
  "X-User-Email",
  "X-User-Role",
  "X-Organization-Id",
  "X-Permissions",
  "X-Record-Scope",
] as const;

const badTarget = (message: string) =>
  new AppError("BAD_REQUEST", `forward-auth: ${message}`, { extra: { reason: "bad_forward_target" } });

const passwordChangeRequired = () =>
  new AppError(
    "PASSWORD_CHANGE_REQUIRED",
    "this account must change its password first: POST /api/v1/auth/password/change",
  );

const notCanonical = () =>
  new AppError(
    "FORBIDDEN",
    "forward-auth: the original path is not canonical (dot segments, `;` path parameters, encoded dots, slashes, backslashes or percents, or empty segments)",
    { extra: { layer: "gateway", reason: "path_not_canonical" } },
  );

/** The request target of a URL string as received (`http://host:port/p?q` → `/p?q`), not normalised. */
function rawTarget(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  return start < 0 ? "/" : url.slice(start);
}

/**
 * Reads the original method and path in the configured dialect (`auto`: every
 * dialect whose headers are present must agree). Throws 400 naming the problem.
 */
export function originalRequest(
  dialect: Dialect,
  req: { method: string; url: string; header(name: string): string | undefined },
): OriginalRequest {
  const candidates: { dialect: OriginalRequest["dialect"]; method?: string; uri?: string }[] = [];
  const h = (n: string) => req.header(n)?.trim() || undefined;
  if (dialect === "auto" || dialect === "nginx") {
    const uri = h("x-original-uri"), method = h("x-original-method");
    if (uri || method || dialect === "nginx") {
      candidates.push({ dialect: "nginx", uri, method: method ?? req.method });
    }
  }
  if (dialect === "auto" || dialect === "traefik") {
    const uri = h("x-forwarded-uri"), method = h("x-forwarded-method");
    if (uri || method || dialect === "traefik") candidates.push({ dialect: "traefik", uri, method });
  }
  if (dialect === "auto" || dialect === "envoy") {
    // The path exactly as the gateway sent it: `new URL()` would already have resolved `%2e%2e` and `..`
    // (judging `/users/%2e%2e/crm/leads` as `/crm/leads` while the upstream may see something else).
    const target = rawTarget(req.url);
    if (!target.startsWith(FORWARD_AUTH_PATH)) throw notCanonical();
    const rest = target.slice(FORWARD_AUTH_PATH.length);
    if (rest && !rest.startsWith("/") && !rest.startsWith("?") && !rest.startsWith("#")) throw notCanonical();
    const path = rest.split(/[?#]/, 1)[0];
    if (path || dialect === "envoy") {
      candidates.push({ dialect: "envoy", uri: path ? rest : undefined, method: req.method });
    }
  }
  if (candidates.length === 0) {
    throw badTarget(
      "no original request: send X-Original-URI and X-Original-Method (nginx), X-Forwarded-Uri and X-Forwarded-Method (Traefik) or append the path to the check path (Envoy)",
    );
  }
  let out: OriginalRequest | undefined;
  for (const c of candidates) {
    if (!c.uri) throw badTarget(`${c.dialect}: the original URI is missing`);
    if (!c.method) throw badTarget(`${c.dialect}: the original method is missing`);
    const method = c.method.toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(method)) {
      throw badTarget(`${c.dialect}: "${c.method.slice(0, 20)}" is not an HTTP method`);
    }
    const path = canonicalPath(c.uri);
    if (path === null) throw notCanonical();
    if (out && (out.method !== method || out.path !== path)) {
      throw badTarget(
        `the ${out.dialect} and ${c.dialect} headers name different requests; configure FORWARD_AUTH_DIALECT`,
      );
    }
    out ??= { dialect: c.dialect, method, path };
  }
  return out!;
}

/** The identity headers for an allowed request. */
export function identityHeaders(user: UserSnapshot, organizationId: number | null, scope: string) {
  const p = user.access;
  const permissions = p.kind === "admin" || p.kind === "super_admin" ? ["*"] : [
    ...p.grants.names,
    ...[...p.modules].map((m) => `${m}.*`),
  ];
  return {
    "X-User-Id": String(p.id),
    "X-User-Email": p.email,
    "X-User-Role": p.role,
    "X-Organization-Id": organizationId === null ? "" : String(organizationId),
    "X-Permissions": [...new Set(permissions)].sort().join(","),
    "X-Record-Scope": scope,
  };
}

/** What a check learned, for the decision log. */
interface Seen {
  gateway?: string;
  target?: string;
  module?: string;
  action?: string;
  userId?: number;
  organizationId?: number | null;
  layer?: string;
  reason?: string;
}

/** The check behind `/access/v1/forward-auth`; built in deps.ts. */
export class ForwardAuth {
  constructor(
    private readonly deps: {
      access: AccessService;
      audit: AuditService;
      routes: readonly RouteEntry[];
      dialect: Dialect;
      serviceKeys: ServiceKeyService;
      /** Refuse gateways without a `forward-auth` service key. */
      requireKey: boolean;
      /** Also answer a signed `X-Seedbed-Identity` token. */
      identityToken?: boolean;
    },
  ) {}

  /** The gateway's key, when it sent one (or must). An organization's key admits only its organization. */
  async #gateway(c: Context<HttpEnv>): Promise<ServiceKey | null> {
    const secret = c.req.header(GATEWAY_KEY_HEADER)?.trim();
    if (!secret) {
      if (!this.deps.requireKey) return null;
      throw new AppError(
        "UNAUTHORIZED",
        `forward-auth: the gateway must present a service key with scope forward-auth in ${GATEWAY_KEY_HEADER}`,
      );
    }
    return await this.deps.serviceKeys.authenticate(secret, "forward-auth");
  }

  /** Answers the check: a 200 with identity headers, or throws the 401 / 403 AppError. */
  async check(c: Context<HttpEnv>): Promise<Response> {
    const seen: Seen = {};
    try {
      const res = await this.#check(c, seen);
      this.#record(c, seen, true);
      return res;
    } catch (err) {
      if (err instanceof AppError && (err.status === 401 || err.status === 403)) {
        seen.layer ??= err.status === 401 ? "authentication" : String(err.extra?.layer ?? "unknown");
        seen.reason ??= err.status === 401
          ? "unauthenticated"
          : String(err.extra?.reason ?? err.code.toLowerCase());
        this.#record(c, seen, false);
      }
      throw err;
    }
  }

  #record(c: Context<HttpEnv>, seen: Seen, allowed: boolean): void {
    this.deps.access.decisions?.record({
      source: "forward_auth",
      allowed,
      subject: seen.userId !== undefined
        ? { type: "user", id: String(seen.userId) }
        : { type: "anonymous", id: null },
      organizationId: seen.organizationId ?? null,
      module: seen.module,
      action: seen.action,
      resource: seen.target,
      layer: allowed ? undefined : seen.layer,
      reason: allowed ? undefined : seen.reason,
      requestId: c.get("requestId"),
      caller: seen.gateway ? `service_key:${seen.gateway}` : undefined,
    });
  }

  async #check(c: Context<HttpEnv>, seen: Seen): Promise<Response> {
    const gateway = await this.#gateway(c);
    seen.gateway = gateway?.prefix;
    const original = originalRequest(this.deps.dialect, {
      method: c.req.method,
      url: c.get("receivedUrl") ?? c.req.url,
      header: (name) => c.req.header(name),
    });
    const route = matchRoute(this.deps.routes, original.method, original.path);
    const target = `${original.method} ${original.path}`;
    seen.target = target;
    if (!route) {
      // Not audited: anonymous traffic must not turn into database writes (the decision log has it).
      throw new AppError("FORBIDDEN", `forward-auth: no route maps ${target}; unmapped routes are denied`, {
        extra: { layer: "gateway", reason: "no_route" },
      });
    }
    const req = route.requirement;
    if (req.kind === "permission") {
      seen.module = req.module;
      seen.action = req.action;
    }
    if (req.kind === "public") return c.body(null, 200, { "X-Forward-Auth": "public" });
    const user = await this.deps.access.authenticate(c.req.header("authorization"));
    seen.userId = user.access.id;
    seen.organizationId = user.access.organizationId;
    c.set("auth", { user: user.principal, organizationId: user.principal.organizationId });
    if (req.kind === "authenticated" || req.kind === "account") {
      // The REST guard's gate: only the account's own routes (me, password change, logout) let him through.
      if (req.kind === "authenticated" && user.mustChangePassword) throw passwordChangeRequired();
      const own = user.access.organizationId;
      if (gateway && gateway.organizationId !== null && gateway.organizationId !== own) {
        throw new AppError("FORBIDDEN", `this gateway's service key belongs to another organization`, {
          extra: { layer: "tenant", reason: "cross_tenant" },
        });
      }
      if (own !== null) {
        const refusal = await this.deps.access.organizationRefusal(user, own);
        if (refusal) {
          throw new AppError("FORBIDDEN", refusal.message, {
            extra: { layer: refusal.layer, reason: refusal.reason },
          });
        }
      }
      return c.body(null, 200, await this.#identity(user, own, user.access.recordScope, original));
    }
    if (user.mustChangePassword) throw passwordChangeRequired();
    const org = targetOrganization(c.req.header(ORG_HEADER), user);
    seen.organizationId = org;
    if (gateway && gateway.organizationId !== null && gateway.organizationId !== org) {
      const details = { module: req.module, action: req.action, layer: "tenant", reason: "cross_tenant" };
      await this.#audit(c, user.access.id, org, target, { ...details, gateway_key: gateway.prefix });
      throw new AppError(
        "FORBIDDEN",
        `this gateway's service key belongs to organization ${gateway.organizationId}, not ${
          org ?? "the platform"
        }`,
        { extra: details },
      );
    }
    const d = await this.deps.access.authorize(user, org, req.module, req.action, {
      submodule: req.submodule,
      platformWhenUnscoped: req.platformWhenUnscoped,
    });
    if (!d.allowed) {
      if (d.reason === "organization_required") {
        throw new AppError("BAD_REQUEST", d.message, { extra: { layer: d.layer, reason: d.reason } });
      }
      const details = { module: req.module, action: req.action, layer: d.layer, reason: d.reason };
      await this.#audit(c, user.access.id, org, target, { ...details, message: d.message });
      throw new AppError("FORBIDDEN", d.message, { extra: details });
    }
    return c.body(null, 200, await this.#identity(user, org, d.scope, original));
  }

  /** The identity headers, and with FORWARD_AUTH_IDENTITY_TOKEN the same signed for the upstream. */
  async #identity(
    user: UserSnapshot,
    organizationId: number | null,
    scope: string,
    original: OriginalRequest,
  ): Promise<Record<string, string>> {
    const headers: Record<string, string> = identityHeaders(user, organizationId, scope);
    if (this.deps.identityToken) {
      headers[IDENTITY_TOKEN_HEADER] = await this.deps.access.tokens.issueIdentity(String(user.access.id), {
        org: organizationId,
        email: user.access.email,
        role: user.access.role,
        perms: headers["X-Permissions"] ? headers["X-Permissions"].split(",") : [],
        scope,
        htm: original.method,
        htu: original.path,
      });
    }
    return headers;
  }

  async #audit(
    c: Context<HttpEnv>,
    actor: number | null,
    org: number | null,
    target: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    markDenialAudited(c);
    await this.deps.audit.recordSafely({
      event: "access.denied",
      actorUserId: actor,
      organizationId: org,
      target,
      requestId: c.get("requestId"),
      details: { via: "forward-auth", ...details },
    });
  }
}
