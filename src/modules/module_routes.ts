/**
 * Routes of the demo modules, generated from their definitions:
 * list (paginated) and get for every resource; create, update and delete
 * for crm leads and manufacturing orders. Each is guarded by
 * `requireAccess(module, action)` with the resource's submodule.
 * Story: docs/modules.md.
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { AccessService } from "../access/access_service.ts";
import type { MiddlewareHandler } from "hono";
import { createRouter, errorResponses, jsonBody, jsonResponse, validationHook } from "../http/openapi.ts";
import type { HttpEnv } from "../http/types.ts";
import type { RecordsService } from "./records_service.ts";
import { TOTAL_CAP } from "./records_repository.ts";
import type { ResourceDef } from "./resources.ts";
import { requireAccess } from "../access/guard.ts";
import { IdParam, PageQuery } from "../http/paging.ts";
import { MAX_INT32 } from "../http/input_rules.ts";

/** A record list's query: the seeds' skip/limit, or a keyset cursor; a bounded total unless asked. */
const RecordPageQuery = PageQuery.extend({
  cursor: z.string().max(200).optional().openapi({
    description: "A previous page's next_cursor: keyset paging (the same cost on every page); not with skip",
  }),
  total: z.enum(["bounded", "exact"]).default("bounded").openapi({
    description:
      `bounded (default): total is exact up to ${TOTAL_CAP} records, else ${TOTAL_CAP} with total_exact false`,
  }),
});
const ORG_HEADER_DOC = z.object({
  "x-organization-id": z.string().optional().openapi({
    description: "Platform super admins: the organization to act on (every such action is audited)",
  }),
});

type Router = ReturnType<typeof createRouter>;

/** 1–15 digits, no leading zero: an id that `IdParam` reads as `Number(text)`. */
const CANONICAL_ID = /^[1-9]\d{0,14}$/;

/**
 * `IdParam`'s validator without zod in the common case: a canonical id becomes `{ id }` at once; any other
 * text (" 7", "0x10", "1e3", "0", "-1", "abc", past 2^31 - 1) goes through `IdParam` and the router's
 * hook as before, so it gets exactly what zod's validator gave it (the same value, or the same 422).
 */
const idParam: MiddlewareHandler<HttpEnv> = async (c, next) => {
  const raw = c.req.param("id");
  const id = raw !== undefined && CANONICAL_ID.test(raw) ? Number(raw) : 0;
  if (id > 0 && id <= MAX_INT32) c.req.addValidatedData("param", { id });
  else {
    const value = c.req.param();
    const result = await IdParam.safeParseAsync(value);
    validationHook({ data: value, ...result, target: "param" }, c);
    c.req.addValidatedData("param", result.data as Record<string, unknown>);
  }
  await next();
};

/**
 * The route for `app.openapi` (`createRoute(spec)`), its inputs documented as declared but checked more cheaply.
 * It registers the route as `app.openapi` would (the same object, in the same place: the OpenAPI document
 * is unchanged) and hands back a hidden copy in which
 * - `headers` are not validated: the one header documented, X-Organization-Id, is read and checked by the
 *   guard (`targetOrganization`: a 422 naming it), and a schema of optional strings cannot refuse any
 *   header, so that validator (every header copied into an object, parsed by zod, walked by the input
 *   rules) had no effect but its cost;
 * - the `{id}` parameter is checked by `idParam`, right after the route's middleware (the guard), where
 *   zod's validator ran: before the body's.
 */
function checkedCheaply<R extends RouteConfig>(app: Router, spec: R): R {
  const route = createRoute(spec);
  const { middleware, ...documented } = route;
  app.openAPIRegistry.registerPath(documented);
  const params = route.request?.params;
  if (params !== undefined && params !== IdParam) {
    throw new Error(`${route.path}: only IdParam is checked here`);
  }
  const own = middleware === undefined ? [] : Array.isArray(middleware) ? middleware : [middleware];
  return {
    ...route,
    hide: true,
    middleware: params ? [...own, idParam] : middleware,
    request: { ...route.request, headers: undefined, params: undefined },
  };
}

function perm(def: ResourceDef, action: string) {
  return `Requires \`${def.module}.${action}\` (or \`${def.module}.*\`, \`${def.module}_admin\`, \`${def.module}_${def.submodule}_${action}\`); module \`${def.module}\` must be licensed to the organization. Records are limited to the caller's scope (own / team / all).`;
}

function resourceRoutes(svc: RecordsService, access: AccessService) {
  const app = createRouter();
  const { def } = svc;
  const guard = (action: string) => requireAccess(access, def.module, action, { submodule: def.submodule });
  const List = z.object({
    items: z.array(def.output),
    total: z.number().int(),
    total_exact: z.boolean(),
    skip: z.number().int(),
    limit: z.number().int(),
    next_cursor: z.string().nullable(),
  }).openapi(`${def.output.meta()?.id ?? def.type}List`);
  const common = { tags: [def.tag], security: [{ bearer: [] }] };

  app.openapi(
    checkedCheaply(app, {
      ...common,
      method: "get",
      path: def.path,
      summary: `List ${def.noun}s`,
      description: perm(def, "read"),
      middleware: guard("read"),
      request: { query: RecordPageQuery, headers: ORG_HEADER_DOC },
      responses: {
        200: jsonResponse(List, `A page of ${def.noun}s`),
        ...errorResponses(400, 401, 403, 404, 422),
      },
    }),
    async (c) => c.json(await svc.list(c.get("auth"), c.req.valid("query")) as z.infer<typeof List>, 200),
  );

  app.openapi(
    checkedCheaply(app, {
      ...common,
      method: "get",
      path: `${def.path}/{id}`,
      summary: `Get a ${def.noun}`,
      description: perm(def, "read"),
      middleware: guard("read"),
      request: { params: IdParam, headers: ORG_HEADER_DOC },
      responses: {
        200: jsonResponse(def.output, `The ${def.noun}`),
        ...errorResponses(400, 401, 403, 404, 422),
      },
    }),
    async (c) => c.json(await svc.get(c.get("auth"), c.req.valid("param").id) as never, 200),
  );

  if (def.create && def.update) {
    app.openapi(
      checkedCheaply(app, {
        ...common,
        method: "post",
        path: def.path,
        summary: `Create a ${def.noun}`,
        description: perm(def, "create"),
        middleware: guard("create"),
        request: { body: jsonBody(def.create), headers: ORG_HEADER_DOC },
        responses: {
          201: jsonResponse(def.output, `The new ${def.noun}`),
          ...errorResponses(400, 401, 403, 409, 422),
        },
      }),
      async (c) =>
        c.json(await svc.create(c.get("auth"), c.req.valid("json") as Record<string, unknown>) as never, 201),
    );

    for (const method of ["patch", "put"] as const) {
      app.openapi(
        checkedCheaply(app, {
          ...common,
          method,
          path: `${def.path}/{id}`,
          summary: `Update a ${def.noun}${method === "put" ? " (same as PATCH)" : ""}`,
          description: perm(def, "update"),
          middleware: guard("update"),
          request: { params: IdParam, body: jsonBody(def.update), headers: ORG_HEADER_DOC },
          responses: {
            200: jsonResponse(def.output, `The updated ${def.noun}`),
            ...errorResponses(400, 401, 403, 404, 409, 422),
          },
        }),
        async (c) =>
          c.json(
            await svc.update(
              c.get("auth"),
              c.req.valid("param").id,
              c.req.valid("json") as Record<string, unknown>,
            ) as never,
            200,
          ),
      );
    }

    app.openapi(
      checkedCheaply(app, {
        ...common,
        method: "delete",
        path: `${def.path}/{id}`,
        summary: `Delete a ${def.noun}`,
        description: `${
          perm(def, "delete")
        } Records that reference it are deleted with it (or lose the reference) only where the caller could delete (or update) them himself; otherwise 409.`,
        middleware: guard("delete"),
        request: { params: IdParam, headers: ORG_HEADER_DOC },
        responses: { 204: { description: "Deleted" }, ...errorResponses(400, 401, 403, 404, 409, 422) },
      }),
      async (c) => {
        await svc.delete(c.get("auth"), c.req.valid("param").id);
        return c.body(null, 204);
      },
    );
  }
  return app;
}

/** Every module resource's routes, one records service each (built in `deps.ts`), in registry order. */
export function moduleRoutes(deps: { access: AccessService; records: ReadonlyMap<string, RecordsService> }) {
  const app = createRouter();
  for (const svc of deps.records.values()) app.route("/", resourceRoutes(svc, deps.access));
  return app;
}
