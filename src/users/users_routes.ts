/**
 * `/api/v1/users`, guarded as seed 002 says (users:read / create / update / delete). Must never serve a route
 * without its guard (`requireAccess`). Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { AccessService } from "../access/access_service.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import { IdParam, PageQuery } from "../http/paging.ts";
import type { UsersService } from "./users_service.ts";
import { requireAccess } from "../access/guard.ts";
import { idNumber } from "../http/input_rules.ts";

const User = z.object({
  id: z.number().int(),
  email: z.string(),
  username: z.string().nullable(),
  full_name: z.string().nullable(),
  role: z.string(),
  role_id: z.number().int().nullable(),
  organization_id: z.number().int().nullable(),
  reports_to_id: z.number().int().nullable(),
  is_super_admin: z.boolean(),
  is_company_admin: z.boolean(),
  is_active: z.boolean(),
  is_verified: z.boolean(),
  must_change_password: z.boolean(),
  modules: z.array(z.string()),
  permissions: z.array(z.string()),
  last_login_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("User");
const UserList = z.object({
  items: z.array(User),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
})
  .openapi("UserList");

const fields = {
  email: z.email().max(320),
  password: z.string().min(1).max(128).openapi({ description: "12+ characters, three character classes" }),
  role: z.string().trim().min(1).max(100).openapi({
    description:
      "admin | manager | executive | a custom role's name (super_admin: platform super admins only)",
    example: "executive",
  }),
  full_name: z.string().max(200).nullable().optional(),
  username: z.string().regex(/^[A-Za-z0-9_.-]{2,64}$/, "2-64 letters, digits, _ . -").nullable().optional(),
  reports_to_id: idNumber().nullable().optional().openapi({
    description: "Required for executives: their manager",
  }),
  modules: z.array(z.string().min(1).max(50)).max(50).optional().openapi({
    description: "Managers: assigned modules",
  }),
  permissions: z.array(z.string().min(1).max(100)).max(200).optional().openapi({
    description: "Direct permissions, e.g. submodule permissions such as crm_leads_read",
  }),
  must_change_password: z.boolean().optional(),
};
const UserCreate = z.object({
  ...fields,
  organization_id: idNumber().nullable().optional().openapi({
    description: "Platform super admins only (else the caller's organization)",
  }),
}).strict().openapi("UserCreate");
const UserUpdate = z.object({
  email: fields.email.optional(),
  password: fields.password.optional(),
  role: fields.role.optional(),
  full_name: fields.full_name,
  username: fields.username,
  reports_to_id: fields.reports_to_id,
  modules: fields.modules,
  permissions: fields.permissions,
  is_active: z.boolean().optional(),
  must_change_password: fields.must_change_password,
  current_password: z.string().min(1).max(128).optional().openapi({
    description: "Your current password: required when you change your own e-mail address",
  }),
}).strict().refine((o) => Object.keys(o).length > 0, { message: "at least one field is required" })
  .openapi("UserUpdate");

const ListQuery = PageQuery.extend({
  is_active: z.enum(["true", "false"]).optional().transform((v) =>
    v === undefined ? undefined : v === "true"
  ),
  role: z.string().max(100).optional(),
});

const WHO =
  "Admins manage managers, executives and custom-role users of their organization; managers manage the executives of their team and modules; executives manage nobody.";

export function usersRoutes(deps: { access: AccessService; users: UsersService }) {
  const app = createRouter();
  const { access, users: svc } = deps;
  const g = (action: string) => requireAccess(access, "users", action, { platformWhenUnscoped: true });
  const common = { tags: ["users"], security: [{ bearer: [] }] };

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/users",
      summary: "List users",
      description:
        "Requires `users:read`. Admins see the organization, managers their team, others themselves.",
      middleware: g("read"),
      request: { query: ListQuery },
      responses: { 200: jsonResponse(UserList, "Users"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(
        await svc.list(c.get("auth"), { skip: q.skip, limit: q.limit }, {
          isActive: q.is_active,
          role: q.role,
        }),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/users",
      summary: "Create a user",
      description: `Requires \`users:create\`. ${WHO}`,
      middleware: g("create"),
      request: { body: jsonBody(UserCreate) },
      responses: { 201: jsonResponse(User, "Created"), ...errorResponses(401, 403, 409, 422) },
    }),
    async (c) => c.json(await svc.create(c.get("auth"), c.req.valid("json"), c.get("requestId")), 201),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/users/{id}",
      summary: "Get a user",
      description: "Requires `users:read`.",
      middleware: g("read"),
      request: { params: IdParam },
      responses: { 200: jsonResponse(User, "The user"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await svc.get(c.get("auth"), c.req.valid("param").id), 200),
  );

  for (const method of ["patch", "put"] as const) {
    app.openapi(
      createRoute({
        ...common,
        method,
        path: "/api/v1/users/{id}",
        summary: "Update a user",
        description: `Requires \`users:update\`. ${WHO}`,
        middleware: g("update"),
        request: { params: IdParam, body: jsonBody(UserUpdate) },
        responses: { 200: jsonResponse(User, "Updated"), ...errorResponses(401, 403, 404, 409, 422) },
      }),
      async (c) =>
        c.json(
          await svc.update(c.get("auth"), c.req.valid("param").id, c.req.valid("json"), c.get("requestId")),
          200,
        ),
    );
  }

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/users/{id}/revoke-tokens",
      summary: "Revoke every token of a user",
      description:
        `Requires \`users:update\`. Every token the user holds now is refused from the moment this answers, on every path and every replica; he can log in again. ${WHO}`,
      middleware: g("update"),
      request: { params: IdParam },
      responses: {
        200: jsonResponse(
          z.object({ detail: z.string(), user_id: z.number().int() }).openapi("TokensRevoked"),
          "Revoked",
        ),
        ...errorResponses(401, 403, 404, 422),
      },
    }),
    async (c) =>
      c.json(await svc.revokeTokens(c.get("auth"), c.req.valid("param").id, c.get("requestId")), 200),
  );

  for (const [verb, active] of [["deactivate", false], ["activate", true]] as const) {
    app.openapi(
      createRoute({
        ...common,
        method: "post",
        path: `/api/v1/users/{id}/${verb}`,
        summary: `${verb === "deactivate" ? "Deactivate" : "Reactivate"} a user`,
        description: `Requires \`users:update\`. ${
          active ? "" : "The user's tokens are refused from the next request on, on every replica. "
        }${WHO}`,
        middleware: g("update"),
        request: { params: IdParam },
        responses: { 200: jsonResponse(User, "Done"), ...errorResponses(401, 403, 404, 422) },
      }),
      async (c) =>
        c.json(
          await svc.update(c.get("auth"), c.req.valid("param").id, { is_active: active }, c.get("requestId")),
          200,
        ),
    );
  }

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/api/v1/users/{id}",
      summary: "Delete a user",
      description:
        `Requires \`users:delete\`. A user who owns records cannot be deleted (409): deactivate him. ${WHO}`,
      middleware: g("delete"),
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 409, 422) },
    }),
    async (c) => {
      await svc.delete(c.get("auth"), c.req.valid("param").id, c.get("requestId"));
      return c.body(null, 204);
    },
  );

  return app;
}
