/**
 * AuthZEN Authorization API 1.0 over HTTPS+JSON:
 * `POST /access/v1/evaluation`, `POST /access/v1/evaluations`,
 * `POST /access/v1/search/{subject,resource,action}` and the PDP metadata at
 * `GET /.well-known/authzen-configuration`. Per the specification, a missing
 * required attribute is a 400 (not 422), a denial is a 200 with
 * `"decision": false`, and `X-Request-ID` is echoed verbatim.
 * Story: docs/authzen.md.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import type { HttpEnv } from "../http/types.ts";
import {
  AuthzenError,
  type AuthzenService,
  type Caller,
  type DecisionOut,
  type EvaluationInput,
} from "./authzen_service.ts";
import type { AuthzenSearch } from "./authzen_search.ts";
import type { AccessService } from "../access/access_service.ts";
import { requireActiveOrganization } from "../access/guard.ts";
import { breaksInputRules, DEFAULT_MAX_JSON_DEPTH, inputRuleViolations } from "../http/input_rules.ts";
import { inputRuleFieldErrors } from "../http/errors.ts";
import { bearerSecret, isServiceKeySecret, type ServiceKeyService } from "../gateway/service_keys.ts";

const Props = z.record(z.string(), z.unknown());
const Subject = z.object({ type: z.string(), id: z.string(), properties: Props.optional() }).openapi(
  "AuthZENSubject",
  {
    example: { type: "user", id: "admin@testcorp.com" },
  },
);
const Resource = z.object({ type: z.string(), id: z.string(), properties: Props.optional() }).openapi(
  "AuthZENResource",
  { example: { type: "module", id: "crm" } },
);
const Action = z.object({
  name: z.string().openapi({
    description:
      "`module.action`, `module:action`, `module_submodule_action` or a bare action of the resource's module, from the action catalog (`x-action-catalog` at the top of this document); any other action is denied with reason `unknown_action`",
  }),
  properties: Props.optional(),
}).openapi("AuthZENAction", { example: { name: "crm.read" } });
const EvaluationRequest = z.object({
  subject: Subject,
  action: Action,
  resource: Resource,
  context: Props.optional(),
}).openapi("AuthZENEvaluationRequest");
const Decision = z.object({ decision: z.boolean(), context: Props.optional() }).openapi("AuthZENDecision");
const Semantic = z.enum(["execute_all", "deny_on_first_deny", "permit_on_first_permit"]);
/** In a batch, an entity may be partial: missing `type` / `id` / `name` come from the top-level default. */
const PartialEntity = z.object({
  type: z.string().optional(),
  id: z.string().optional(),
  properties: Props.optional(),
}).openapi("AuthZENPartialEntity");
const PartialAction = z.object({ name: z.string().optional(), properties: Props.optional() }).openapi(
  "AuthZENPartialAction",
);
/** A batch of at most `max` entries (AUTHZEN_MAX_EVALUATIONS); a longer one is refused whole (400). */
const evaluationsRequest = (max: number) =>
  z.object({
    subject: PartialEntity.optional(),
    action: PartialAction.optional(),
    resource: PartialEntity.optional(),
    context: Props.optional(),
    evaluations: z.array(z.object({
      subject: PartialEntity.optional(),
      action: PartialAction.optional(),
      resource: PartialEntity.optional(),
      context: Props.optional(),
    })).max(max, `at most ${max} evaluations per request (AUTHZEN_MAX_EVALUATIONS)`).optional(),
    options: z.object({ evaluations_semantic: Semantic.optional() }).passthrough().optional(),
  }).openapi("AuthZENEvaluationsRequest");
const EvaluationsResponse = z.object({
  evaluations: z.array(Decision).optional(),
  decision: z.boolean().optional(),
  context: Props.optional(),
}).openapi("AuthZENEvaluationsResponse");
const Page = z.object({ token: z.string().optional(), limit: z.number().int().min(0).optional() })
  .passthrough();
const SearchSubjectRequest = z.object({
  subject: z.object({ type: z.string(), id: z.string().optional(), properties: Props.optional() }),
  action: Action,
  resource: Resource,
  context: Props.optional(),
  page: Page.optional(),
}).openapi("AuthZENSubjectSearchRequest");
const SearchResourceRequest = z.object({
  subject: Subject,
  action: Action,
  resource: z.object({ type: z.string(), id: z.string().optional(), properties: Props.optional() }),
  context: Props.optional(),
  page: Page.optional(),
}).openapi("AuthZENResourceSearchRequest");
const SearchActionRequest = z.object({
  subject: Subject,
  resource: Resource,
  context: Props.optional(),
  page: Page.optional(),
}).openapi("AuthZENActionSearchRequest");
const SearchResponse = z.object({
  page: z.object({
    next_token: z.string(),
    count: z.number().int().optional(),
    total: z.number().int().optional(),
  }),
  results: z.array(Props),
}).openapi("AuthZENSearchResponse");
const Metadata = z.object({
  policy_decision_point: z.string(),
  access_evaluation_endpoint: z.string(),
  access_evaluations_endpoint: z.string(),
  search_subject_endpoint: z.string(),
  search_resource_endpoint: z.string(),
  search_action_endpoint: z.string(),
  max_evaluations: z.number().int().openapi({
    description:
      "Seedbed extension: most entries one `POST /access/v1/evaluations` may hold (AUTHZEN_MAX_EVALUATIONS); PEPs ignore metadata they do not know",
  }),
}).openapi("AuthZENMetadata");

type PartialTuple = {
  subject?: { type?: string; id?: string; properties?: Record<string, unknown> };
  action?: { name?: string; properties?: Record<string, unknown> };
  resource?: { type?: string; id?: string; properties?: Record<string, unknown> };
  context?: Record<string, unknown>;
};

/**
 * One entry of a batch with the top-level defaults applied. An entry's key
 * replaces the default as a whole (entity-level, as the certification
 * scenario reads the specification), except that a required sub-field the
 * entry leaves out (`type`, `id`, `name`) falls back to the default's.
 */
function withDefaults(item: PartialTuple, defaults: PartialTuple): PartialTuple {
  const entity = <T extends Record<string, unknown>>(
    own: T | undefined,
    def: T | undefined,
    keys: string[],
  ) => {
    if (!own) return def;
    if (!def) return own;
    const out: Record<string, unknown> = { ...own };
    for (const k of keys) if (out[k] === undefined && def[k] !== undefined) out[k] = def[k];
    return out as T;
  };
  return {
    subject: entity(item.subject, defaults.subject, ["type", "id"]),
    action: entity(item.action, defaults.action, ["name"]),
    resource: entity(item.resource, defaults.resource, ["type", "id"]),
    context: item.context ?? defaults.context,
  };
}

/** The required fields a (merged) evaluation lacks, per the specification's schema. */
function missingFields(e: PartialTuple): string[] {
  const out: string[] = [];
  if (e.subject?.type === undefined) out.push("subject.type");
  if (e.subject?.id === undefined) out.push("subject.id");
  if (e.action?.name === undefined) out.push("action.name");
  if (e.resource?.type === undefined) out.push("resource.type");
  if (e.resource?.id === undefined) out.push("resource.id");
  return out;
}

/** 400 for anything wrong with the payload, as the specification requires. */
const badRequest = (
  result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } },
  c: Context<HttpEnv>,
): undefined => {
  if (!result.success) {
    const issues = result.error!.issues.map((i) =>
      `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`
    );
    throw new AppError("BAD_REQUEST", `invalid request: ${issues.join("; ")}`);
  }
  // The input rules every route shares (src/http/input_rules.ts), answered as the binding wants: 400.
  const max = c.get("maxJsonDepth") ?? DEFAULT_MAX_JSON_DEPTH;
  const found = inputRuleViolations((result as { data?: unknown }).data, max);
  if (breaksInputRules(found)) {
    const errors = inputRuleFieldErrors(found, max, "json");
    throw new AppError(
      "BAD_REQUEST",
      `invalid request: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`,
    );
  }
  return undefined;
};

export function authzenRoutes(
  deps: {
    config: Config;
    access: AccessService;
    authzen: AuthzenService;
    authzenSearch: AuthzenSearch;
    serviceKeys: ServiceKeyService;
  },
) {
  const app = createRouter();
  const { access, authzen, authzenSearch: search } = deps;
  const common = { tags: ["access (AuthZEN)"], security: [{ bearer: [] }] };

  /** The authenticated caller as `pep` resolved it (so the handler needs no second version read). */
  const callers = new WeakMap<Context<HttpEnv>, Caller>();
  /**
   * Authenticate the PEP; refuse a body that is not `application/json` or not
   * valid JSON with 400 (X-Request-ID is echoed verbatim by the app's
   * request-id middleware).
   */
  const pep: MiddlewareHandler<HttpEnv> = async (c, next) => {
    const secret = bearerSecret(c.req.header("authorization"));
    if (secret !== null && isServiceKeySecret(secret)) {
      // A service key (scope access.evaluate): a PEP, no user (src/gateway/service_keys.ts).
      const key = await deps.serviceKeys.authenticate(secret, "access.evaluate");
      callers.set(c, authzen.serviceCaller(key));
    } else {
      const user = await access.authenticate(c.req.header("authorization"));
      c.set("auth", { user: user.principal, organizationId: user.principal.organizationId });
      if (user.mustChangePassword) {
        throw new AppError("PASSWORD_CHANGE_REQUIRED", "this account must change its password first");
      }
      // A deactivated organization's tokens are refused here as on /api/v1/* (403, audited).
      await requireActiveOrganization(access, c, user);
      callers.set(c, authzen.caller(user));
    }
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "application/json") {
      throw new AppError(
        "BAD_REQUEST",
        `the request body must be JSON sent with Content-Type: application/json (got ${
          type ? JSON.stringify(type) : "no Content-Type"
        })`,
      );
    }
    try {
      await c.req.json();
    } catch {
      throw new AppError("BAD_REQUEST", "request body is not valid JSON");
    }
    await next();
  };
  const callerOf = (c: Context<HttpEnv>): Caller => callers.get(c)!;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof AuthzenError) {
        throw new AppError(
          err.status === 400 ? "BAD_REQUEST" : err.status === 403 ? "FORBIDDEN" : "NOT_FOUND",
          err.message,
        );
      }
      throw err;
    }
  };
  const errors = errorResponses(400, 401, 403, 500);

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/access/v1/evaluation",
      summary: "Access Evaluation (AuthZEN 1.0)",
      description:
        "Is the subject allowed the action on the resource? Runs tenant → entitlement → RBAC → record scope. An existing record is judged by its real organization and owner (`properties` describe only a record that does not exist). A subject or resource type the PDP does not model is a denial, not an error. A denial's `context` carries `layer` and `reason`; admins also get `reason_admin` and the `trace` (on an allow, when `context.trace` is true). Any authenticated user may ask about himself; asking about others needs an admin role or `access.evaluate`.",
      middleware: pep,
      request: { body: jsonBody(EvaluationRequest) },
      responses: { 200: jsonResponse(Decision, "The decision"), ...errors },
    }),
    async (c) => {
      const caller = callerOf(c);
      return c.json(
        await run(() =>
          authzen.evaluate(caller, c.req.valid("json") as EvaluationInput, { requestId: c.get("requestId") })
        ),
        200,
      );
    },
    badRequest,
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/access/v1/evaluations",
      summary: "Access Evaluations (AuthZEN 1.0, boxcarred)",
      description:
        `Top-level subject/action/resource/context are defaults for each entry of \`evaluations\`: an entry's key replaces the default, except that a required field it leaves out (\`type\`, \`id\`, \`name\`) comes from the default. \`options.evaluations_semantic\`: \`execute_all\` (default), \`deny_on_first_deny\`, \`permit_on_first_permit\`. An entry that cannot be evaluated answers \`decision: false\` with \`context.error\`. Without \`evaluations\`, behaves as a single evaluation. At most ${deps.config.access.maxEvaluations} entries (AUTHZEN_MAX_EVALUATIONS, also in the metadata as \`max_evaluations\`): a longer batch is refused whole with 400.`,
      middleware: pep,
      request: { body: jsonBody(evaluationsRequest(deps.config.access.maxEvaluations)) },
      responses: { 200: jsonResponse(EvaluationsResponse, "The decisions, in request order"), ...errors },
    }),
    async (c) => {
      const caller = callerOf(c);
      const body = c.req.valid("json");
      const items = body.evaluations;
      if (!items || items.length === 0) {
        const missing = missingFields(body);
        if (missing.length) {
          throw new AppError(
            "BAD_REQUEST",
            `invalid request: without evaluations, ${missing.join(", ")} ${
              missing.length > 1 ? "are" : "is"
            } required`,
          );
        }
        return c.json(
          await run(() =>
            authzen.evaluate(caller, body as EvaluationInput, { requestId: c.get("requestId") })
          ),
          200,
        );
      }
      const semantic = body.options?.evaluations_semantic ?? "execute_all";
      const out: DecisionOut[] = [];
      for (const item of items) {
        const merged = withDefaults(item, body);
        let d: DecisionOut;
        try {
          const missing = missingFields(merged);
          if (missing.length) {
            throw new AuthzenError(
              400,
              `${missing.join(", ")} ${
                missing.length > 1 ? "are" : "is"
              } required (in the entry or as defaults)`,
            );
          }
          d = await authzen.evaluate(caller, merged as EvaluationInput, { requestId: c.get("requestId") });
        } catch (err) {
          if (!(err instanceof AuthzenError)) throw err;
          d = { decision: false, context: { error: { status: err.status, message: err.message } } };
        }
        out.push(d);
        if (semantic === "deny_on_first_deny" && !d.decision) break;
        if (semantic === "permit_on_first_permit" && d.decision) break;
      }
      return c.json({ evaluations: out }, 200);
    },
    badRequest,
  );

  const searches = [
    [
      "subject",
      SearchSubjectRequest,
      "Subject Search: users allowed the action on the resource (admins / access.evaluate)",
      search.subjects.bind(search),
    ],
    [
      "resource",
      SearchResourceRequest,
      "Resource Search: modules or records of a type the subject may act on",
      search.resources.bind(search),
    ],
    [
      "action",
      SearchActionRequest,
      "Action Search: permissions the subject holds on the resource",
      search.actions.bind(search),
    ],
  ] as const;
  for (const [kind, schema, summary, fn] of searches) {
    app.openapi(
      createRoute({
        ...common,
        method: "post",
        path: `/access/v1/search/${kind}`,
        summary,
        description:
          `${summary}. Paginated with \`page.limit\` (at most 200; 0 answers an empty last page) and the opaque \`page.token\` from \`page.next_token\`; a token is valid only with the very same request, \`page.limit\` included (else 400).`,
        middleware: pep,
        request: { body: jsonBody(schema as z.ZodType) },
        responses: { 200: jsonResponse(SearchResponse, "Results"), ...errors },
      }),
      async (c) => {
        const caller = callerOf(c);
        return c.json(await run(() => fn(caller, c.req.valid("json") as Record<string, unknown>)), 200);
      },
      badRequest,
    );
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/.well-known/authzen-configuration",
      tags: ["access (AuthZEN)"],
      summary: "Policy Decision Point metadata (AuthZEN 1.0)",
      responses: { 200: jsonResponse(Metadata, "PDP metadata") },
    }),
    (c) => {
      // PUBLIC_URL when set: the identifier a PEP must see (behind a TLS gateway the request's own origin
      // may be an internal http:// address, which a PEP rejects). Else the request's origin.
      const url = new URL(c.req.url);
      let base = deps.config.http.publicUrl ?? url.origin;
      if (!deps.config.http.publicUrl && deps.config.http.trustProxy) {
        const proto = c.req.header("x-forwarded-proto")?.split(",")[0].trim();
        const host = c.req.header("x-forwarded-host")?.split(",")[0].trim();
        if (proto && /^https?$/.test(proto) && host && /^[A-Za-z0-9.:-]+$/.test(host)) {
          base = `${proto}://${host}`;
        }
      }
      return c.json(
        {
          policy_decision_point: base,
          access_evaluation_endpoint: `${base}/access/v1/evaluation`,
          access_evaluations_endpoint: `${base}/access/v1/evaluations`,
          search_subject_endpoint: `${base}/access/v1/search/subject`,
          search_resource_endpoint: `${base}/access/v1/search/resource`,
          search_action_endpoint: `${base}/access/v1/search/action`,
          max_evaluations: deps.config.access.maxEvaluations,
        },
        200,
        // Built from the request (Host, or X-Forwarded-* behind a trusted proxy), the answer is never
        // stored by a shared cache: one poisoned Host would send every PEP, with its key, elsewhere.
        deps.config.http.publicUrl
          ? { "cache-control": "public, max-age=300" }
          : { "cache-control": "no-store", vary: "Host, X-Forwarded-Host, X-Forwarded-Proto" },
      );
    },
  );
  return app;
}
