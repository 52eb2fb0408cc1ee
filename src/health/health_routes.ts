/**
 * Liveness (`/health`) and readiness (`/ready`). `/ready` never keeps a probe waiting past READY_TIMEOUT_MS,
 * whatever the database does. Story: docs/reliability.md ("A database blip stays a blip").
 */
import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { migrationStatus } from "../db/migrator.ts";
import { createRouter, errorResponses, jsonResponse } from "../http/openapi.ts";

const Health = z.object({
  status: z.literal("ok"),
  version: z.string(),
  environment: z.string(),
}).openapi("Health");

const Ready = z.object({
  status: z.enum(["ready", "not_ready"]),
  checks: z.record(z.string(), z.string()),
  detail: z.string().optional(),
  code: z.string().optional(),
  request_id: z.string().optional(),
}).openapi("Ready");

export function healthRoutes(deps: { config: Config; db: Database }) {
  const app = createRouter();
  let inflight: Promise<{ checks: Record<string, string> }> | null = null;
  /** When the checks last passed: a slow check right after is load, not an outage. */
  let lastReady = -Infinity;

  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      tags: ["health"],
      summary: "Liveness: the process is up",
      responses: { 200: jsonResponse(Health, "Alive") },
    }),
    (c) =>
      c.json({
        status: "ok" as const,
        version: deps.config.version,
        environment: deps.config.appEnv,
      }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/ready",
      tags: ["health"],
      summary: "Readiness: database reachable and migrations applied",
      responses: {
        200: jsonResponse(Ready, "Ready"),
        503: jsonResponse(Ready, "Not ready"),
        ...errorResponses(500),
      },
    }),
    async (c) => {
      const requestId = c.get("requestId") ?? "";
      // Whatever the database does (down, hung, a restore holding locks), the probe gets an answer in time.
      const deadline = deps.config.http.readyTimeoutMs;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), deadline)));
      // Probes arriving while a check still hangs share it instead of piling up on the database.
      inflight ??= readiness(deps.db).then((r) => {
        if (r.checks.database === "ok" && r.checks.migrations === "ok") lastReady = performance.now();
        return r;
      }).finally(() => (inflight = null));
      const result = await Promise.race([inflight, timedOut]).finally(() => clearTimeout(timer));
      if (result === "timeout" && performance.now() - lastReady < 2 * deadline) {
        // Ready a moment ago and only slow now (a loaded host): still ready, and says so. A database that
        // stopped answering is not ready once that moment has passed.
        return c.json({ status: "ready" as const, checks: { database: "slow", migrations: "ok" } }, 200);
      }
      if (result === "timeout") {
        return c.json(
          {
            status: "not_ready" as const,
            checks: { database: "timeout", migrations: "unknown" },
            detail: `database: no answer within ${deadline} ms`,
            code: "SERVICE_UNAVAILABLE",
            request_id: requestId,
          },
          503,
          { "Retry-After": "1" },
        );
      }
      const { checks } = result;
      if (checks.database !== "ok" || checks.migrations !== "ok") {
        const detail = checks.database !== "ok"
          ? "database: unreachable"
          : `migrations: ${checks.migrations}`;
        return c.json(
          {
            status: "not_ready" as const,
            checks,
            detail,
            code: "SERVICE_UNAVAILABLE",
            request_id: requestId,
          },
          503,
          { "Retry-After": "1" },
        );
      }
      return c.json({ status: "ready" as const, checks }, 200);
    },
  );
  return app;
}

/** The readiness checks (no deadline of their own: the route races them against READY_TIMEOUT_MS). */
async function readiness(db: Database): Promise<{ checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  try {
    await db.rows(sql`SELECT 1 AS ok`);
    checks.database = "ok";
  } catch {
    return { checks: { database: "unreachable", migrations: "unknown" } };
  }
  try {
    const status = await migrationStatus(db);
    const bad = status.filter((s) => s.state !== "applied");
    checks.migrations = bad.length === 0 ? "ok" : bad.map((s) => `${s.tag}: ${s.state}`).join(", ");
  } catch {
    checks.migrations = "unreadable";
  }
  return { checks };
}
