/**
 * `/api/v1/auth`: login, logout, current user, password change. Every answer is sent
 * `Cache-Control: no-store`: a token or a user is never cached on the way.
 * Story: docs/access.md ("Authentication").
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import type { AccessService } from "../access/access_service.ts";
import type { AuthService } from "./auth_service.ts";
import { clientAddress } from "./client_address.ts";
import { MAX_PASSWORD_LENGTH } from "./passwords.ts";
import { authenticated } from "../access/guard.ts";

const LoginBody = z.object({
  email: z.string().trim().min(3).max(320).openapi({ example: "admin@testcorp.com" }),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH).openapi({ example: "password123" }),
}).openapi("LoginRequest");

const TokenSchema = z.object({
  access_token: z.string(),
  token_type: z.literal("bearer"),
  expires_in: z.number().int().openapi({ description: "Seconds until the token expires" }),
}).openapi("Token");

const PasswordChangeBody = z.object({
  current_password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  new_password: z.string().min(1).max(MAX_PASSWORD_LENGTH).openapi({
    description: "12-128 characters, at least three of lower case, upper case, digits, symbols",
    example: "NewSecurePassword123!",
  }),
}).openapi("PasswordChangeRequest");

const LogoutQuery = z.object({
  everywhere: z.enum(["true", "false"]).optional().openapi({
    description: "`true`: revoke every token of the caller, not only this one",
  }),
});
const LoggedOut = z.object({ detail: z.string() }).openapi("LoggedOut");

const PasswordChanged = TokenSchema.extend({ detail: z.string() }).openapi("PasswordChanged");

const Me = z.object({
  id: z.number().int(),
  email: z.string(),
  username: z.string().nullable(),
  full_name: z.string().nullable(),
  role: z.string(),
  role_kind: z.enum(["super_admin", "admin", "manager", "executive", "custom"]),
  organization_id: z.number().int().nullable(),
  reports_to_id: z.number().int().nullable(),
  is_super_admin: z.boolean(),
  is_company_admin: z.boolean(),
  is_active: z.boolean(),
  is_verified: z.boolean(),
  must_change_password: z.boolean(),
  record_scope: z.enum(["own", "team", "all"]),
  permissions: z.array(z.string()),
  modules: z.array(z.string()).openapi({
    description: "Modules assigned to this user (user_modules); managers get full access to these",
  }),
  entitled_modules: z.array(z.string()).nullable().openapi({
    description:
      "Modules the user's organization may use now (tier, overrides, live trials, always-on, RBAC-only); null for a platform super admin, who names an organization per request",
  }),
  last_login_at: z.string().nullable(),
}).openapi("CurrentUser");

/** Token responses are never cached, by the browser or by any proxy (RFC 6749 §5.1). */
const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

/** The one route that takes a body without credentials. */
export const LOGIN_PATH = "/api/v1/auth/login";

export function authRoutes(deps: { config: Config; auth: AuthService; access: AccessService }) {
  const app = createRouter();
  const { auth, access, config } = deps;

  app.openapi(
    createRoute({
      method: "post",
      path: LOGIN_PATH,
      tags: ["auth"],
      summary: "Log in with email and password",
      description:
        "Returns a bearer token. Unknown email, wrong password and inactive accounts get the same 401. Attempts are counted before the password is checked, per client address (IPv6: its /64), per account from that address and per account: past a few, each key admits the next attempt only after a delay that doubles (429 with Retry-After); see docs/access.md.",
      request: { body: jsonBody(LoginBody) },
      responses: {
        200: jsonResponse(TokenSchema, "Logged in"),
        ...errorResponses(401, 422, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const token = await auth.login(body.email, body.password, {
        requestId: c.get("requestId"),
        address: clientAddress(c, config.http.trustProxy),
      });
      return c.json(token, 200, NO_STORE);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/v1/auth/me",
      tags: ["auth"],
      summary: "The current user",
      description: "Any valid token (also while a password change is required).",
      security: [{ bearer: [] }],
      middleware: [authenticated(access)] as const,
      responses: { 200: jsonResponse(Me, "The current user"), ...errorResponses(401) },
    }),
    async (c) => {
      const id = c.get("auth").user.id;
      const snap = (await access.user(id))!;
      const row = (await auth.users.findAnyById(id))!;
      return c.json(
        {
          id: row.id,
          email: row.email,
          username: row.username,
          full_name: row.fullName,
          role: row.role,
          role_kind: snap.access.kind,
          organization_id: row.organizationId,
          reports_to_id: row.reportsToId,
          is_super_admin: snap.access.kind === "super_admin",
          is_company_admin: row.isCompanyAdmin,
          is_active: row.isActive,
          is_verified: row.isVerified,
          must_change_password: row.mustChangePassword,
          record_scope: snap.access.recordScope,
          permissions: [...snap.access.grants.names],
          modules: [...snap.access.modules].sort(),
          entitled_modules: row.organizationId === null
            ? null
            : await access.entitledModules(row.organizationId),
          last_login_at: row.lastLoginAt ? row.lastLoginAt.toISOString() : null,
        },
        200,
        NO_STORE,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/auth/password/change",
      tags: ["auth"],
      summary: "Change the current user's password",
      description:
        "Any valid token (this is how an account that must change its password unlocks itself). Tokens issued before the change are refused afterwards; the response carries a fresh one.",
      security: [{ bearer: [] }],
      middleware: [authenticated(access)] as const,
      request: { body: jsonBody(PasswordChangeBody) },
      responses: {
        200: jsonResponse(PasswordChanged, "Password changed"),
        ...errorResponses(400, 401, 422, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const snap = (await access.user(c.get("auth").user.id))!;
      const out = await auth.changePassword(snap, body.current_password, body.new_password, {
        requestId: c.get("requestId"),
        address: clientAddress(c, config.http.trustProxy),
      });
      return c.json(out, 200, NO_STORE);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/auth/logout",
      tags: ["auth"],
      summary: "Log out: revoke the token this request carries",
      description:
        "Revokes the bearer token of the request (with `?everywhere=true`: every token of the caller). From the moment this answers, the token is refused on every path (REST, AuthZEN, the evaluation fast path, forward-auth) and on every replica. Any valid token, also one that must change its password. No body.",
      security: [{ bearer: [] }],
      request: { query: LogoutQuery },
      responses: { 200: jsonResponse(LoggedOut, "Logged out"), ...errorResponses(401, 422) },
    }),
    async (c) => {
      const everywhere = c.req.valid("query").everywhere === "true";
      const claims = await access.claims(c.req.header("authorization"));
      await auth.logout(claims, everywhere, { requestId: c.get("requestId"), address: null });
      return c.json(
        {
          detail: everywhere
            ? "logged out everywhere; every token issued before now is refused"
            : "logged out; this token is refused from now on",
        },
        200,
        NO_STORE,
      );
    },
  );

  return app;
}
