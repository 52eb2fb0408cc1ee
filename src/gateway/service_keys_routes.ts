/**
 * `/api/v1/service-keys`: service credentials for gateways and PEPs. An
 * organization admin manages his organization's keys; a platform super admin
 * the platform's (no X-Organization-Id) or an organization's (naming it).
 * The secret is in the creation response only. Story: docs/gateway.md ("Service keys").
 */
import { IdParam } from "../http/paging.ts";
import { createRoute, z } from "@hono/zod-openapi";
import type { AccessService } from "../access/access_service.ts";
import { requireAccess } from "../access/guard.ts";
import { roleKindOf } from "../access/loader.ts";
import type { AuthContext } from "../http/types.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import { SERVICE_KEY_SCOPES, type ServiceKey, type ServiceKeyService } from "./service_keys.ts";

const Key = z.object({
  id: z.number().int(),
  name: z.string(),
  prefix: z.string().openapi({
    description: "The secret's first characters, to recognize it",
    example: "sbk_Xy3…",
  }),
  organization_id: z.number().int().nullable().openapi({ description: "null: a platform key" }),
  scopes: z.array(z.string()),
  created_by_id: z.number().int().nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
}).openapi("ServiceKey");
const Created = Key.extend({
  key: z.string().openapi({ description: "The secret: shown once, store it now (Authorization: Bearer …)" }),
}).openapi("ServiceKeyCreated");
const Create = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SERVICE_KEY_SCOPES)).min(1).openapi({
    example: ["access.evaluate", "forward-auth"],
  }),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
}).strict().openapi("ServiceKeyCreate");

const out = (k: ServiceKey) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  organization_id: k.organizationId,
  scopes: k.scopes,
  created_by_id: k.createdById,
  created_at: k.createdAt.toISOString(),
  expires_at: k.expiresAt?.toISOString() ?? null,
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
});

function actorOf(auth: AuthContext) {
  const u = auth.user;
  return { id: u.id, kind: roleKindOf(u), organizationId: u.organizationId };
}

export function serviceKeyRoutes(deps: { access: AccessService; serviceKeys: ServiceKeyService }) {
  const app = createRouter();
  const { serviceKeys } = deps;
  const guard = requireAccess(deps.access, "access", "manage", { platformWhenUnscoped: true });
  const common = { tags: ["service keys"], security: [{ bearer: [] }] };
  const WHO =
    "Organization admins manage their organization's keys; platform super admins the platform's (without X-Organization-Id) or an organization's (naming it).";

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/service-keys",
      summary: "Create a service key (the secret is shown once)",
      description:
        `${WHO} Scopes: \`access.evaluate\` (the AuthZEN API, about the users of the key's organization) and \`forward-auth\` (the gateway check). A key never logs in as a user.`,
      middleware: guard,
      request: { body: jsonBody(Create) },
      responses: { 201: jsonResponse(Created, "The key and its secret"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => {
      const auth = c.get("auth");
      const body = c.req.valid("json");
      const { key, secret } = await serviceKeys.create(actorOf(auth), auth.organizationId, {
        name: body.name,
        scopes: body.scopes,
        expiresAt: body.expires_at ? new Date(body.expires_at) : null,
      }, c.get("requestId"));
      c.header("Cache-Control", "no-store");
      return c.json({ ...out(key), key: secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/service-keys",
      summary: "List service keys (never their secrets)",
      description: WHO,
      middleware: guard,
      responses: { 200: jsonResponse(z.array(Key), "Keys, newest first"), ...errorResponses(401, 403) },
    }),
    async (c) => {
      const auth = c.get("auth");
      return c.json((await serviceKeys.list(actorOf(auth), auth.organizationId)).map(out), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/service-keys/{id}",
      summary: "Get a service key",
      middleware: guard,
      request: { params: IdParam },
      responses: { 200: jsonResponse(Key, "The key"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const auth = c.get("auth");
      return c.json(
        out(await serviceKeys.get(actorOf(auth), auth.organizationId, c.req.valid("param").id)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/api/v1/service-keys/{id}",
      summary: "Revoke a service key (every replica refuses it from its next request)",
      middleware: guard,
      request: { params: IdParam },
      responses: { 200: jsonResponse(Key, "The revoked key"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const auth = c.get("auth");
      const key = await serviceKeys.revoke(
        actorOf(auth),
        auth.organizationId,
        c.req.valid("param").id,
        c.get("requestId"),
      );
      return c.json(out(key), 200);
    },
  );
  return app;
}
