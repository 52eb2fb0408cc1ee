/**
 * One error shape for every failure, compatible with FastAPI clients:
 * `{"detail": "<message>", "code": "<CODE>", "request_id": "…"}`, plus
 * client-safe extras (`errors` for validation, `execution_id`, …).
 * Unexpected errors answer 500 without internals; they are logged in full.
 * Story: docs/api.md.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { AppError, type ErrorCode } from "../errors.ts";
import { isConnectionLoss, translateDbError } from "../db/errors.ts";
import { errorMessage } from "../log.ts";
import { CONNECTION_LOST_HEADER } from "./db_outage.ts";
import { echoesRequestIdVerbatim, resolveRequestId } from "./middleware.ts";
import type { HttpEnv } from "./types.ts";
import { depthMessage, type InputRuleViolations, NUL_MESSAGE, SURROGATE_MESSAGE } from "./input_rules.ts";

export interface FieldError {
  field: string;
  message: string;
}

/** Hono's validation targets, as a client would name them. */
const WHERE_NAMES: Record<string, string> = {
  json: "request body",
  form: "form body",
  query: "query parameters",
  param: "path parameters",
  header: "headers",
};

/** Builds a 422 AppError from a zod error, naming every offending field. */
export function validationError(error: ZodError, where: string): AppError {
  const errors: FieldError[] = error.issues.map((i) => ({
    field: i.path.length ? i.path.join(".") : where === "json" ? "body" : where,
    message: i.message,
  }));
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  const what = WHERE_NAMES[where] ?? where;
  return new AppError("VALIDATION_ERROR", `invalid ${what}: ${detail}`, {
    extra: { errors },
  });
}

/** The 422 for strings holding U+0000, naming each field (`src/http/input_rules.ts`). */
export function nulError(fields: string[], where: string): AppError {
  return inputRuleError({ nul: fields, surrogate: [], tooDeep: null }, Infinity, where);
}

/**
 * The field errors of the input rules (`src/http/input_rules.ts`): too deep first, then U+0000, then lone
 * surrogates.
 */
export function inputRuleFieldErrors(
  found: InputRuleViolations,
  maxDepth: number,
  where: string,
): FieldError[] {
  const name = (f: string) => f || (where === "json" ? "body" : where);
  return [
    ...(found.tooDeep === null ? [] : [{ field: name(found.tooDeep), message: depthMessage(maxDepth) }]),
    ...found.nul.map((f) => ({ field: name(f), message: NUL_MESSAGE })),
    ...found.surrogate.map((f) => ({ field: name(f), message: SURROGATE_MESSAGE })),
  ];
}

/** The 422 for input that breaks the input rules, naming each field. */
export function inputRuleError(found: InputRuleViolations, maxDepth: number, where: string): AppError {
  const errors = inputRuleFieldErrors(found, maxDepth, where);
  return new AppError(
    "VALIDATION_ERROR",
    `invalid ${WHERE_NAMES[where] ?? where}: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`,
    { extra: { errors } },
  );
}

/** Maps anything thrown to an AppError; unknown errors become INTERNAL_ERROR. */
export function toAppError(err: unknown): AppError {
  const t = translateDbError(err);
  if (t instanceof AppError) return t;
  if (t instanceof HTTPException) {
    if (t.status === 400 && /JSON/i.test(t.message)) {
      return new AppError(
        "VALIDATION_ERROR",
        "request body is not valid JSON",
        {
          extra: { errors: [{ field: "body", message: "malformed JSON" }] },
        },
      );
    }
    if (t.status === 415) {
      return new AppError(
        "UNSUPPORTED_MEDIA_TYPE",
        "the request body must be JSON: send it with Content-Type: application/json",
      );
    }
    const code: ErrorCode = t.status === 401
      ? "UNAUTHORIZED"
      : t.status === 403
      ? "FORBIDDEN"
      : t.status === 404
      ? "NOT_FOUND"
      : t.status === 413
      ? "PAYLOAD_TOO_LARGE"
      : t.status < 500
      ? "BAD_REQUEST"
      : "INTERNAL_ERROR";
    return new AppError(
      code,
      t.message || code.toLowerCase().replaceAll("_", " "),
    );
  }
  return new AppError("INTERNAL_ERROR", "internal server error", {
    cause: err,
  });
}

/** Renders an error as the service's JSON error body. */
export function renderError(c: Context<HttpEnv>, err: unknown): Response {
  const e = toAppError(err);
  const requestId = c.get("requestId") ?? "";
  if (e.code === "INTERNAL_ERROR" || e.status >= 500) {
    const cause = e.cause ?? err;
    // The driver's own message and stack: never Drizzle's "Failed query: … params: …" (row values).
    const { message, stack } = errorMessage(cause);
    c.get("log")?.error("request_failed", { code: e.code, error: message, stack });
  }
  const body = {
    detail: e.message,
    code: e.code,
    request_id: requestId,
    ...e.extra,
  };
  const headers: Record<string, string> = { ...e.headers };
  if (e.status === 401) headers["WWW-Authenticate"] ??= "Bearer";
  // Every 503 is "unavailable for now": say when to come back.
  if (e.status === 503) headers["Retry-After"] ??= "1";
  // Read by withDatabaseRetry (db_outage.ts), which removes it: a read is retried once.
  if (e.code === "DATABASE_UNAVAILABLE" && isConnectionLoss(e.cause ?? err)) {
    headers[CONNECTION_LOST_HEADER] = "1";
  }
  return c.json(body, e.status as 400, headers);
}

/**
 * The same error body and headers as `renderError`, for what answers before Hono routes (the drainer's 503,
 * the 501 for an unknown method): the request id resolved as `requestContext` resolves it.
 */
export function plainErrorResponse(
  req: Request,
  err: AppError,
  headers: Record<string, string> = {},
): Response {
  const verbatim = echoesRequestIdVerbatim(new URL(req.url).pathname);
  const { id, echoed } = resolveRequestId(req.headers.get("x-request-id"), verbatim);
  return Response.json({ detail: err.message, code: err.code, request_id: id, ...err.extra }, {
    status: err.status,
    headers: {
      "x-request-id": echoed,
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
      ...err.headers,
      ...headers,
    },
  });
}
