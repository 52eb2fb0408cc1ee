/**
 * `/api/v1/organizations`: organizations and their entitlements. Must never serve a route without its guard
 * (`requireAccess`). Story: docs/access.md ("Layer 1 — tenants").
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { AccessService } from "../access/access_service.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import { IdParam, PageQuery } from "../http/paging.ts";
import { organizationJson, type OrganizationsService } from "./organizations_service.ts";
import { requireAccess } from "../access/guard.ts";

const Organization = z.object({
  id: z.number().int(),
  name: z.string(),
  slug: z.string(),
  license_tier: z.string(),
  enabled_modules: z.record(z.string(), z.boolean()),
  trial_ends: z.record(z.string(), z.string()),
  is_active: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("Organization");

const OrganizationList = z.object({
  items: z.array(Organization),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("OrganizationList");

const iso = z.iso.datetime({ offset: true });
const OrganizationCreate = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lower-case letters, digits and hyphens").optional(),
  license_tier: z.string().min(1).max(50).optional().openapi({ example: "starter" }),
  enabled_modules: z.record(z.string(), z.boolean()).optional().openapi({ example: { CRM: true } }),
  trial_ends: z.record(z.string(), iso).optional(),
}).strict().openapi("OrganizationCreate");

const OrganizationUpdate = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lower-case letters, digits and hyphens").optional(),
}).strict().refine((o) => Object.keys(o).length > 0, { message: "at least one field is required" })
  .openapi("OrganizationUpdate");

const EntitlementsPatch = z.object({
  license_tier: z.string().min(1).max(50).optional(),
  enabled_modules: z.record(z.string(), z.boolean().nullable()).optional().openapi({
    description: "module → true (on) / false (off, wins over tier and trial) / null (remove the override)",
  }),
  trial_ends: z.record(z.string(), iso.nullable()).optional().openapi({
    description: "module → trial end / null (remove)",
  }),
  start_trials: z.record(z.string(), z.number().int().min(1).max(3650)).optional().openapi({
    description: "module → days: start a trial ending that many days from now",
  }),
}).strict().refine((o) => Object.keys(o).length > 0, { message: "at least one field is required" })
  .openapi("EntitlementsUpdate");

const Entitlements = z.object({
  organization_id: z.number().int(),
  license_tier: z.string(),
  tier_profile_found: z.boolean(),
  tier_modules: z.array(z.string()),
  enabled_modules: z.record(z.string(), z.boolean()),
  trial_ends: z.record(z.string(), z.string()),
  modules: z.array(z.object({
    module: z.string(),
    kind: z.enum(["always_on", "rbac_only", "licensed"]),
    entitled: z.boolean(),
    source: z.string().nullable(),
    reason: z.string().nullable(),
    trial_ends_at: z.string().nullable(),
  })),
}).openapi("Entitlements");

const ListQuery = PageQuery.extend({
  is_active: z.enum(["true", "false"]).optional().transform((v) =>
    v === undefined ? undefined : v === "true"
  ),
});

const READ =
  "Requires `organization.read`. Platform super admins see every organization; an org admin sees only his own.";
const PLATFORM = "Platform super admins only (`organization.{action}` is a platform operation). Audited.";

export function organizationRoutes(deps: { access: AccessService; organizations: OrganizationsService }) {
  const app = createRouter();
  const { access, organizations: svc } = deps;
  const read = requireAccess(access, "organization", "read", { platformWhenUnscoped: true });
  const common = { tags: ["organizations"], security: [{ bearer: [] }] };

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/organizations",
      summary: "List organizations",
      description: READ,
      middleware: read,
      request: { query: ListQuery },
      responses: { 200: jsonResponse(OrganizationList, "Organizations"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(await svc.list(c.get("auth"), { skip: q.skip, limit: q.limit }, q.is_active), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/organizations",
      summary: "Create an organization",
      description: PLATFORM.replace("{action}", "create") +
        " The tier's trial modules start their trials now.",
      middleware: requireAccess(access, "organization", "create"),
      request: { body: jsonBody(OrganizationCreate) },
      responses: { 201: jsonResponse(Organization, "Created"), ...errorResponses(401, 403, 409, 422) },
    }),
    async (c) => c.json(await svc.create(c.get("auth"), c.req.valid("json"), c.get("requestId")), 201),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/organizations/{id}",
      summary: "Get an organization",
      description: READ,
      middleware: read,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(Organization, "The organization"),
        ...errorResponses(401, 403, 404, 422),
      },
    }),
    async (c) => c.json(organizationJson(await svc.visible(c.get("auth"), c.req.valid("param").id)), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "patch",
      path: "/api/v1/organizations/{id}",
      summary: "Update an organization's name or slug",
      description: PLATFORM.replace("{action}", "update"),
      middleware: requireAccess(access, "organization", "update"),
      request: { params: IdParam, body: jsonBody(OrganizationUpdate) },
      responses: { 200: jsonResponse(Organization, "Updated"), ...errorResponses(401, 403, 404, 409, 422) },
    }),
    async (c) =>
      c.json(
        await svc.update(c.get("auth"), c.req.valid("param").id, c.req.valid("json"), c.get("requestId")),
        200,
      ),
  );

  for (const [verb, active] of [["deactivate", false], ["activate", true]] as const) {
    app.openapi(
      createRoute({
        ...common,
        method: "post",
        path: `/api/v1/organizations/{id}/${verb}`,
        summary: `${verb === "deactivate" ? "Deactivate" : "Reactivate"} an organization`,
        description: PLATFORM.replace("{action}", "update") +
          (active
            ? ""
            : " Its users can no longer log in, and their tokens are refused at the tenant layer."),
        middleware: requireAccess(access, "organization", "update"),
        request: { params: IdParam },
        responses: { 200: jsonResponse(Organization, "Done"), ...errorResponses(401, 403, 404, 422) },
      }),
      async (c) =>
        c.json(await svc.setActive(c.get("auth"), c.req.valid("param").id, active, c.get("requestId")), 200),
    );
  }

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/organizations/{id}/entitlements",
      summary: "An organization's tier, module overrides, trials and the resulting module access",
      description: READ,
      middleware: read,
      request: { params: IdParam },
      responses: { 200: jsonResponse(Entitlements, "Entitlements"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await svc.entitlements(c.get("auth"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "patch",
      path: "/api/v1/organizations/{id}/entitlements",
      summary: "Change an organization's tier, module overrides or trials",
      description: PLATFORM.replace("{action}", "update") +
        " Effective on the next request on every replica.",
      middleware: requireAccess(access, "organization", "update"),
      request: { params: IdParam, body: jsonBody(EntitlementsPatch) },
      responses: {
        200: jsonResponse(Entitlements, "The new entitlements"),
        ...errorResponses(401, 403, 404, 422),
      },
    }),
    async (c) =>
      c.json(
        await svc.changeEntitlements(
          c.get("auth"),
          c.req.valid("param").id,
          c.req.valid("json"),
          c.get("requestId"),
        ),
        200,
      ),
  );

  return app;
}
