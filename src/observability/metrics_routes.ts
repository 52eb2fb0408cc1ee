/**
 * `GET /metrics` (Prometheus text format) and the middleware that counts
 * every request by method, route pattern and status.
 *
 * Must never break: the endpoint is never public by accident. On the main
 * port it exists only with METRICS_TOKEN, and then only for that bearer
 * token (compared in constant time); with neither METRICS_TOKEN nor
 * METRICS_PORT it is 404. On METRICS_PORT (main.ts) it is served alone,
 * with the token too when one is set. Story: docs/operations.md ("Metrics").
 */
import type { Context, MiddlewareHandler } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses } from "../http/openapi.ts";
import { routePath } from "hono/route";
import { timingSafeEqual } from "node:crypto";
import { AppError } from "../errors.ts";
import { renderError } from "../http/errors.ts";
import type { HttpEnv } from "../http/types.ts";
import type { Metrics } from "./metrics.ts";

/** Counts and times every request; the route label is the matched pattern (bounded), never the raw path. */
export function httpMetrics(metrics: Metrics): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const start = performance.now();
    try {
      await next();
    } finally {
      const status = String(c.res.status);
      const matched = routePath(c, -1);
      // Only middleware matched (`*`): no route — the notFound / 405 answer.
      const route = !matched || matched === "*" || matched === "/*" ? "unmatched" : matched;
      const labels = { method: methodLabel(c.req.method), route, status };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - start) / 1000);
    }
  };
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The method label, from a fixed set: any other token is `OTHER` (a client must not mint series). */
export function methodLabel(method: string): string {
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : "OTHER";
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = header ? /^Bearer[ ]+(\S+)[ ]*$/i.exec(header) : null;
  if (!m) return false;
  const a = new TextEncoder().encode(m[1]);
  const b = new TextEncoder().encode(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The `/metrics` handler. `token`: required bearer token (undefined: none required — only for the
 * separate metrics port, which the operator exposes on purpose).
 */
export function metricsHandler(metrics: Metrics, token: string | undefined) {
  return async (req: Request): Promise<Response> => {
    if (token !== undefined && !tokenMatches(req.headers.get("authorization") ?? undefined, token)) {
      return Response.json(
        {
          detail: "a valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)",
          code: "UNAUTHORIZED",
        },
        { status: 401, headers: { "WWW-Authenticate": "Bearer" } },
      );
    }
    const { contentType, body } = await metrics.render();
    return new Response(body, {
      status: 200,
      headers: { "content-type": contentType, "cache-control": "no-store" },
    });
  };
}

/** `/metrics` on the main port: only with METRICS_TOKEN (and not when METRICS_PORT serves it). */
export function metricsRoutes(deps: {
  metrics: Metrics;
  config: { observability: { metricsToken?: string; metricsPort?: number } };
}) {
  const app = createRouter();
  const { metricsToken, metricsPort } = deps.config.observability;
  const handler = metricsHandler(deps.metrics, metricsToken);
  const route = createRoute({
    method: "get",
    path: "/metrics",
    tags: ["operations"],
    summary: "Prometheus metrics (METRICS_TOKEN as the bearer token; off without it)",
    description:
      "The Prometheus text format. Off (404) unless METRICS_TOKEN is set; then only for `Authorization: Bearer <METRICS_TOKEN>`. With METRICS_PORT, served on that port instead. Series: docs/operations.md.",
    security: [{ bearer: [] }],
    responses: {
      200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } },
      ...errorResponses(401, 404),
    },
  });
  app.openapi(
    route,
    // A text response, which the typed route helpers do not model.
    ((c: Context<HttpEnv>) => {
      if (metricsToken === undefined || metricsPort !== undefined) {
        return renderError(
          c,
          new AppError(
            "NOT_FOUND",
            metricsPort !== undefined
              ? `metrics are served on the metrics port (METRICS_PORT=${metricsPort})`
              : "metrics are off on this port: set METRICS_TOKEN (or METRICS_PORT) to serve them",
          ),
        );
      }
      return handler(c.req.raw);
    }) as never,
  );
  return app;
}
