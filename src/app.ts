/**
 * The HTTP application factory: `createApp(deps)` wires middleware and lists
 * EVERY feature router (one hop from here to any route). No I/O and no
 * environment reads of its own — tests call `createApp(deps).request(...)`.
 * Services are built in `deps.ts`, never here. Story: docs/architecture.md.
 */
import { catalogJson } from "./access/actions.ts";
import type { Config } from "./config.ts";
import type { Paths } from "./paths.ts";
import type { Database } from "./db/client.ts";
import type { Logger } from "./log.ts";
import { AppError } from "./errors.ts";
import { plainErrorResponse, renderError } from "./http/errors.ts";
import { OutageMonitor, withDatabaseRetry } from "./http/db_outage.ts";
import { echoesRequestIdVerbatim, requestContext } from "./http/middleware.ts";
import { createRouter } from "./http/openapi.ts";
import { docsRoutes } from "./http/docs_routes.ts";
import { lenientJson } from "./http/lenient_json.ts";
import { bodyLimit } from "./http/body_limit.ts";
import type { AccessService } from "./access/access_service.ts";
import type { AuditService } from "./audit/audit.ts";
import { auditForbidden } from "./audit/forbidden_audit.ts";
import type { AuthService } from "./auth/auth_service.ts";
import type { AuthzenSearch } from "./authzen/authzen_search.ts";
import type { AuthzenService } from "./authzen/authzen_service.ts";
import type { BackupService } from "./backups/backup_service.ts";
import type { FilesService } from "./files/files_service.ts";
import type { RecordsService } from "./modules/records_service.ts";
import type { RecordTableKey } from "./modules/records_repository.ts";
import type { RolesService } from "./roles/roles_service.ts";
import type { SeedingService } from "./seeding/seeding_service.ts";
import type { ObjectStore } from "./storage/object_store.ts";
import type { OrganizationsService } from "./tenants/organizations_service.ts";
import type { UsersService } from "./users/users_service.ts";
import { healthRoutes } from "./health/health_routes.ts";
import { authRoutes, LOGIN_PATH } from "./auth/auth_routes.ts";
import { organizationRoutes } from "./tenants/organizations_routes.ts";
import { usersRoutes } from "./users/users_routes.ts";
import { rolesRoutes } from "./roles/roles_routes.ts";
import { moduleRoutes } from "./modules/module_routes.ts";
import { authzenRoutes } from "./authzen/authzen_routes.ts";
import { evaluationFastPath } from "./authzen/evaluation_fast_path.ts";
import { seedingRoutes } from "./seeding/seeding_routes.ts";
import { filesRoutes } from "./files/files_routes.ts";
import { backupRoutes } from "./backups/backup_routes.ts";
import type { ForwardAuth } from "./gateway/forward_auth.ts";
import { forwardAuthRoutes } from "./gateway/forward_auth_routes.ts";
import type { ServiceKeyService } from "./gateway/service_keys.ts";
import { serviceKeyRoutes } from "./gateway/service_keys_routes.ts";
import { jwksRoutes } from "./auth/jwks_routes.ts";
import type { Metrics } from "./observability/metrics.ts";
import type { BackupScheduler } from "./backups/backup_schedule.ts";
import { httpMetrics, methodLabel, metricsRoutes } from "./observability/metrics_routes.ts";

/** Everything the app needs, built by `deps.ts` (or by a test). */
export interface AppDeps {
  /** Seeding runs, reset, restore and their history (`src/seeding/seeding_service.ts`). */
  seeding: SeedingService;
  config: Config;
  db: Database;
  logger: Logger;
  /** Authentication and the three-layer decision (the middleware is `access/guard.ts`). */
  access: AccessService;
  /** Security audit trail (table + JSON log). */
  audit: AuditService;
  /** The module resources' records (list, get, create, update, delete), one service per table key (`crmLeads`). */
  records: ReadonlyMap<RecordTableKey, RecordsService>;
  /** Files on S3 (seed 002's Files module). */
  files: FilesService;
  /** The backup bucket (shared S3 client, `src/storage/`). */
  storage: ObjectStore;
  /** Backups, verify, restore, retention (`src/backups/backup_service.ts`); also the seeding engine's BackupPort. */
  backups: BackupService;
  /** Login and password change. */
  auth: AuthService;
  /** Organizations, license tiers, entitlements, trials. */
  organizations: OrganizationsService;
  /** People (the no-escalation rule). */
  users: UsersService;
  /** Roles and their permissions. */
  roles: RolesService;
  /** The AuthZEN 1.0 policy decision point (evaluation) and its search API. */
  authzen: AuthzenService;
  authzenSearch: AuthzenSearch;
  /** The gateway's forward-auth check (`src/gateway/`). */
  forwardAuth: ForwardAuth;
  /** Service credentials (API keys) for gateways and PEPs. */
  serviceKeys: ServiceKeyService;
  /** Prometheus metrics (`src/observability/`). */
  metrics: Metrics;
  /** BACKUP_SCHEDULE's scheduler (started by main.ts), when a schedule is set. */
  backupScheduler?: BackupScheduler;
}

export interface AppOptions {
  /**
   * Serve `POST /access/v1/evaluation` on its fast path before the router
   * (default true; `src/authzen/evaluation_fast_path.ts`). False only in the
   * test that compares the two.
   */
  paths?: Paths;
}

export function createApp(deps: AppDeps, options: AppOptions = {}) {
  const app = createRouter();
  // Kept before anything re-makes the request (body limit, lenient JSON): a new Request normalises its URL.
  app.use("*", async (c, next) => {
    c.set("receivedUrl", c.req.raw.url);
    c.set("maxJsonDepth", deps.config.http.maxJsonDepth);
    await next();
  });
  app.use("*", requestContext(deps.logger, { echoVerbatim: echoesRequestIdVerbatim }));
  app.use("*", httpMetrics(deps.metrics));
  app.use("*", auditForbidden(deps.audit));
  // Before any route reads a body: 413 past MAX_BODY_BYTES (uploads stream under MAX_UPLOAD_BYTES).
  app.use("*", bodyLimit({ maxBytes: deps.config.http.maxBodyBytes, exempt: isUpload }));
  app.onError((err, c) => renderError(c, err));
  // A known path with another method is 405 with `Allow` (as FastAPI answers); anything else 404.
  let allowed: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    allowed ??= methodsByPath(app.routes);
    const methods = allowed(c.req.path);
    if (methods.length) {
      return renderError(
        c,
        new AppError("METHOD_NOT_ALLOWED", `method ${c.req.method} not allowed on ${c.req.path}`, {
          headers: { Allow: methods.join(", ") },
          extra: { allowed_methods: methods },
        }),
      );
    }
    return renderError(c, new AppError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`));
  });

  // Every route group, in one list.
  const { access } = deps;
  app.route("/", healthRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", docsRoutes());
  app.use("*", lenientJson({ publicBodies: [LOGIN_PATH] }));
  app.route("/", authRoutes(deps));
  app.route("/", organizationRoutes({ access, organizations: deps.organizations }));
  app.route("/", usersRoutes({ access, users: deps.users }));
  app.route("/", rolesRoutes({ access, roles: deps.roles }));
  app.route("/", moduleRoutes({ access, records: deps.records }));
  app.route("/", authzenRoutes(deps));
  app.route("/", seedingRoutes(deps));
  app.route("/", filesRoutes({ access, files: deps.files, maxUploadBytes: deps.config.http.maxUploadBytes }));
  app.route("/", backupRoutes(deps));
  app.route("/", forwardAuthRoutes(deps));
  app.route("/", serviceKeyRoutes(deps));
  app.route("/", jwksRoutes({ tokens: deps.access.tokens }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    // The action catalog every guard, permission and AuthZEN answer is held to (src/access/actions.ts).
    "x-action-catalog": catalogJson(),
    info: {
      title: "Seedbed",
      version: deps.config.version,
      description: "Database seeding, backups and three-layer access control for multi-tenant SaaS backends.",
    },
  });
  if ((options.paths ?? "fast") === "fast") {
    // `app.request()` (the tests) and `app.fetch` (the server) both go through it.
    app.fetch = evaluationFastPath({ ...deps, maxJsonDepth: deps.config.http.maxJsonDepth }, app.fetch);
  }
  // A read that lost its database connection is retried once; outages are logged start and end.
  app.fetch = withDatabaseRetry(new OutageMonitor(deps.db, deps.logger), app.fetch);
  // Outermost: a method outside HTTP's own never reaches the router (Hono's looks methods up in plain
  // objects, so `constructor` or `__proto__` threw a 500), and is counted as OTHER.
  app.fetch = refuseUnknownMethods(deps.metrics, app.fetch);
  return app;
}

export type App = ReturnType<typeof createApp>;

// deno-lint-ignore no-explicit-any
type Fetch = (req: Request, ...rest: any[]) => Response | Promise<Response>;

/** 501 for any method but GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS (RFC 9110 §15.6.2). */
function refuseUnknownMethods<F extends Fetch>(metrics: Metrics, inner: F): F {
  // deno-lint-ignore no-explicit-any
  return ((req: Request, ...rest: any[]) => {
    if (methodLabel(req.method) !== "OTHER") return inner(req, ...rest);
    metrics.httpRequests.inc({ method: "OTHER", route: "unmatched", status: "501" });
    return plainErrorResponse(
      req,
      new AppError(
        "NOT_IMPLEMENTED",
        "method not implemented: use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS",
      ),
    );
  }) as F;
}

/** The one route that streams its body under a limit of its own (MAX_UPLOAD_BYTES). */
// `c.req.path` is the path as the router reads it (one trailing slash already dropped: the router is not strict).
const isUpload = (method: string, path: string) => method === "POST" && path === "/api/v1/files";

/**
 * Route patterns (`/api/v1/users/:id`, `*`) → a lookup of the methods served at a concrete path: `c.req.path`,
 * the path as the router reads it (`/api/v1/auth/login/` is `/api/v1/auth/login`; `…/login//` is no route).
 */
function methodsByPath(routes: readonly { method: string; path: string }[]): (path: string) => string[] {
  const patterns = routes.filter((r) => r.method !== "ALL" && !r.path.includes("*")).map((r) => ({
    method: r.method,
    re: new RegExp(
      "^" +
        r.path.split(/(:\w+(?:\{[^}]*\})?\??)/).map((part) =>
          part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        ).join("") +
        "$",
    ),
  }));
  return (path) => {
    const out = new Set<string>();
    for (const p of patterns) if (p.re.test(path)) out.add(p.method);
    if (out.has("GET")) out.add("HEAD");
    return [...out].sort();
  };
}
