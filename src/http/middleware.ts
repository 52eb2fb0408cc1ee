/** Request id and request logging middleware. */
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

/** Honours a sane incoming `X-Request-Id`, generates one otherwise, echoes it back. */
export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const id = incoming && SANE_ID.test(incoming) ? incoming : crypto.randomUUID();
    const echoed = incoming && options.echoVerbatim?.(c.req.path) ? incoming : id;
    c.set("requestId", id);
    c.header("X-Request-Id", echoed);
    await next();
    c.res.headers.set("X-Request-Id", echoed);
  };
}

/**
 * One JSON log line per request: method, path (no query string: it may carry
 * secrets), status, duration and request id. Never headers or bodies.
 */
export function requestLogger(logger: Logger): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const start = performance.now();
    const log = logger.child({ request_id: c.get("requestId") });
    c.set("log", log);
    await next();
    log.info("http_request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - start) * 100) / 100,
    });
  };
}

/**
 * `requestId` and `requestLogger` in one middleware (one fewer async hop on
 * every request): what `createApp` installs.
 */
export function requestContext(logger: Logger, options: RequestIdOptions = {}): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const start = performance.now();
    const incoming = c.req.header("x-request-id");
    const id = incoming && SANE_ID.test(incoming) ? incoming : crypto.randomUUID();
    const echoed = incoming && options.echoVerbatim?.(c.req.path) ? incoming : id;
    c.set("requestId", id);
    const log = logger.child({ request_id: id });
    c.set("log", log);
    await next();
    c.res.headers.set("X-Request-Id", echoed);
    // No response is ever to be sniffed into another type (uploaded text/html served as a download, JSON).
    c.res.headers.set("X-Content-Type-Options", "nosniff");
    log.info("http_request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - start) * 100) / 100,
    });
  };
}
