/**
 * The request context: one request id (a sane incoming `X-Request-Id` kept, one
 * generated otherwise, echoed back), a logger bound to it, and one JSON
 * `http_request` line per request. `requestContext` is the one middleware
 * factory; the AuthZEN fast path, which runs before the router, uses the same
 * `resolveRequestId` and `httpRequestLine`. Must never log headers, bodies or a
 * query string (it may carry secrets). Story: docs/reliability.md ("Logs").
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import type { HttpEnv } from "./types.ts";

export const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestIdOptions {
  /**
   * Paths whose responses echo the incoming `X-Request-Id` verbatim even when
   * it is not "sane" (the AuthZEN API requires the same identifier back); the
   * id used in logs and error bodies is still the sanitized one.
   */
  echoVerbatim?: (path: string) => boolean;
}

/** The paths whose responses echo `X-Request-Id` verbatim: the AuthZEN API (`/access/…`) requires it. */
export const echoesRequestIdVerbatim = (path: string): boolean => path.startsWith("/access/");

/** The id used in logs and error bodies, and the one the response echoes. */
export function resolveRequestId(
  incoming: string | null | undefined,
  echoVerbatim: boolean,
): { id: string; echoed: string } {
  const id = incoming && SANE_ID.test(incoming) ? incoming : crypto.randomUUID();
  return { id, echoed: incoming && echoVerbatim ? incoming : id };
}

/** The fields of the `http_request` log line (no query string, headers or body). */
export function httpRequestLine(method: string, path: string, status: number, startedAt: number) {
  return { method, path, status, duration_ms: Math.round((performance.now() - startedAt) * 100) / 100 };
}

/** Request id, request-bound logger (`c.var.log`), `X-Request-Id` and `nosniff` on the response, the log line. */
export function requestContext(logger: Logger, options: RequestIdOptions = {}): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const start = performance.now();
    const { id, echoed } = resolveRequestId(
      c.req.header("x-request-id"),
      options.echoVerbatim?.(c.req.path) ?? false,
    );
    c.set("requestId", id);
    const log = logger.child({ request_id: id });
    c.set("log", log);
    await next();
    c.res.headers.set("X-Request-Id", echoed);
    // No response is ever to be sniffed into another type (uploaded text/html served as a download, JSON).
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    if (log.enabled("info")) {
      log.info("http_request", httpRequestLine(c.req.method, c.req.path, c.res.status, start));
    }
  };
}
