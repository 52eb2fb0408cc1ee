/**
 * `/api/v1/roles` and `/api/v1/permissions`, guarded as seed 002's tables say. Must never serve a route
 * without its guard (`requireAccess`). Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { AccessService } from "../access/access_service.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import { IdParam, PageQuery } from "../http/paging.ts";
import type { RolesService } from "./roles_service.ts";
import { requireAccess } from "../access/guard.ts";

const Role = z.object({
  id: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  organization_id: z.number().int().nullable(),
  is_system: z.boolean(),
  aliases: z.array(z.string()),
  record_scope: z.string(),
  permissions: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Role");
const RoleList = z.object({
  items: z.array(Role),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
})
  .openapi("RoleList");

const permissionList = z.array(z.string().min(1).max(100)).max(500).openapi({
  example: ["crm.read", "crm_leads_create", "users:read"],
  description: "module.action, module.*, module_admin or module_submodule_action; the colon form is accepted",
});
const RoleCreate = z.object({
  name: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, _ . -"),
  description: z.string().max(500).nullable().optional(),
  record_scope: z.enum(["own", "team", "all"]).optional(),
  permissions: permissionList.optional(),
}).strict().openapi("RoleCreate");
const RoleUpdate = RoleCreate.partial().strict().refine((o) => Object.keys(o).length > 0, {
  message: "at least one field is required",
}).openapi("RoleUpdate");
const PermissionsBody = z.object({ permissions: permissionList.min(1) }).strict().openapi(
  "RolePermissionsChange",
);

const Permission = z.object({
  id: z.number().int(),
  name: z.string(),
  module: z.string(),
  action: z.string(),
  description: z.string().nullable(),
}).openapi("Permission");
const PermissionList = z.object({
  items: z.array(Permission),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("PermissionList");

const PermParam = IdParam.extend({
  permission: z.string().min(1).max(100).openapi({
    param: { name: "permission", in: "path" },
    example: "crm.read",
  }),
});

export function rolesRoutes(deps: { access: AccessService; roles: RolesService }) {
  const app = createRouter();
  const { access, roles: svc } = deps;
  const g = (action: string) => requireAccess(access, "roles", action, { platformWhenUnscoped: true });
  const common = { tags: ["roles"], security: [{ bearer: [] }] };
  const sys = "System roles cannot be modified or deleted; global roles only by platform super admins.";

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/roles",
      summary: "List roles (global and the organization's)",
      description: "Requires `roles:read`.",
      middleware: g("read"),
      request: { query: PageQuery },
      responses: { 200: jsonResponse(RoleList, "Roles"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => c.json(await svc.list(c.get("auth"), c.req.valid("query")), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/roles",
      summary: "Create a custom role",
      description:
        "Requires `roles:create`. The role belongs to the caller's organization (a platform super admin without X-Organization-Id creates a global role). Only admins may grant permissions they do not hold.",
      middleware: g("create"),
      request: { body: jsonBody(RoleCreate) },
      responses: { 201: jsonResponse(Role, "Created"), ...errorResponses(401, 403, 409, 422) },
    }),
    async (c) => c.json(await svc.create(c.get("auth"), c.req.valid("json"), c.get("requestId")), 201),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/roles/{id}",
      summary: "Get a role",
      description: "Requires `roles:read`.",
      middleware: g("read"),
      request: { params: IdParam },
      responses: { 200: jsonResponse(Role, "The role"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await svc.get(c.get("auth"), c.req.valid("param").id), 200),
  );

  for (const method of ["patch", "put"] as const) {
    app.openapi(
      createRoute({
        ...common,
        method,
        path: "/api/v1/roles/{id}",
        summary: "Update a role (permissions, when given, replace the set)",
        description: `Requires \`roles:update\`. ${sys}`,
        middleware: g("update"),
        request: { params: IdParam, body: jsonBody(RoleUpdate) },
        responses: { 200: jsonResponse(Role, "Updated"), ...errorResponses(401, 403, 404, 409, 422) },
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
      method: "delete",
      path: "/api/v1/roles/{id}",
      summary: "Delete a role",
      description: `Requires \`roles:delete\`. ${sys} A role still held by users cannot be deleted (409).`,
      middleware: g("delete"),
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 409, 422) },
    }),
    async (c) => {
      await svc.delete(c.get("auth"), c.req.valid("param").id, c.get("requestId"));
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/roles/{id}/permissions",
      summary: "Add permissions to a role",
      description: `Requires \`roles:update\`. ${sys}`,
      middleware: g("update"),
      request: { params: IdParam, body: jsonBody(PermissionsBody) },
      responses: { 200: jsonResponse(Role, "The role"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) =>
      c.json(
        await svc.changePermissions(
          c.get("auth"),
          c.req.valid("param").id,
          c.req.valid("json").permissions,
          true,
          c.get("requestId"),
        ),
        200,
      ),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/api/v1/roles/{id}/permissions",
      summary: "Remove permissions from a role",
      description: `Requires \`roles:update\`. ${sys}`,
      middleware: g("update"),
      request: { params: IdParam, body: jsonBody(PermissionsBody) },
      responses: { 200: jsonResponse(Role, "The role"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) =>
      c.json(
        await svc.changePermissions(
          c.get("auth"),
          c.req.valid("param").id,
          c.req.valid("json").permissions,
          false,
          c.get("requestId"),
        ),
        200,
      ),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/api/v1/roles/{id}/permissions/{permission}",
      summary: "Remove one permission from a role",
      description: `Requires \`roles:update\`. ${sys}`,
      middleware: g("update"),
      request: { params: PermParam },
      responses: { 200: jsonResponse(Role, "The role"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json(
        await svc.changePermissions(c.get("auth"), p.id, [p.permission], false, c.get("requestId")),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/permissions",
      tags: ["roles"],
      security: [{ bearer: [] }],
      summary: "The permission catalog",
      description: "Requires `permissions:read`.",
      middleware: requireAccess(access, "permissions", "read", { platformWhenUnscoped: true }),
      request: { query: PageQuery },
      responses: { 200: jsonResponse(PermissionList, "Permissions"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => c.json(await svc.catalog(c.req.valid("query")), 200),
  );

  return app;
}
