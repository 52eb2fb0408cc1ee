/**
 * Route building blocks. Every route is declared with `createRoute` from the
 * same zod schemas it validates with, so `/openapi.json` cannot drift.
 * Story: docs/api.md.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { inputRuleError, validationError } from "./errors.ts";
import { breaksInputRules, DEFAULT_MAX_JSON_DEPTH, inputRuleViolations } from "./input_rules.ts";
import type { HttpEnv } from "./types.ts";
import { SplitRouter } from "./router.ts";

/**
 * What every validated input goes through after zod (`createRouter`'s default hook): a zod failure is the
 * service's 422, then the rules for every validated input — not too deep, no U+0000, no lone surrogate
 * (src/http/input_rules.ts).
 */
export function validationHook(
  result: { success: true; data: unknown; target: string } | {
    success: false;
    error: z.ZodError;
    target: string;
  },
  c: Context<HttpEnv>,
): void {
  if (!result.success) throw validationError(result.error, result.target);
  const max = c.get("maxJsonDepth") ?? DEFAULT_MAX_JSON_DEPTH;
  const found = inputRuleViolations(result.data, max);
  if (breaksInputRules(found)) throw inputRuleError(found, max, result.target);
}

/**
 * A router whose validation failures become the service's 422 body (routing: src/http/router.ts). Not strict:
 * one trailing slash names the same route (`/api/v1/seeders/`, as seed 002 writes it, is `/api/v1/seeders`),
 * as the gateway's canonical path has it (src/gateway/route_table.ts).
 */
export function createRouter(): OpenAPIHono<HttpEnv> {
  return new OpenAPIHono<HttpEnv>({
    strict: false,
    router: new SplitRouter(),
    defaultHook: (result, c) => validationHook(result, c),
  });
}

/** The error body every failure uses. */
export const ErrorSchema = z.object({
  detail: z.string().openapi({ example: "organization 7 not found" }),
  code: z.string().openapi({ example: "NOT_FOUND" }),
  request_id: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() }))
    .optional(),
}).passthrough().openapi("Error");

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad request",
  401: "Missing, invalid or expired token",
  403: "Denied by a tenant, entitlement or RBAC rule",
  404: "Not found (or belongs to another organization)",
  409: "Conflict",
  413: "Payload too large",
  415: "The body is not JSON (send Content-Type: application/json)",
  416: "Range not satisfiable",
  422: "Validation failed; the offending field is named",
  428: "Confirmation required: repeat with the confirmation the message names",
  429: "Too many attempts",
  500: "Internal error",
  501: "Not implemented",
  502: "Storage error",
  503: "Unavailable",
};

/** OpenAPI response entries for the given error statuses. */
export function errorResponses(...statuses: number[]) {
  const out: Record<
    number,
    {
      description: string;
      content: { "application/json": { schema: typeof ErrorSchema } };
    }
  > = {};
  for (const s of statuses) {
    out[s] = {
      description: ERROR_DESCRIPTIONS[s] ?? "Error",
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return out;
}

/** A JSON response entry. */
export function jsonResponse<T extends z.ZodType>(
  schema: T,
  description: string,
) {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body entry. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { "application/json": { schema } } };
}
