/** Liveness (`/health`) and readiness (`/ready`). */
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
      const checks: Record<string, string> = {};
      try {
        await deps.db.rows(sql`SELECT 1 AS ok`);
        checks.database = "ok";
      } catch {
        checks.database = "unreachable";
        checks.migrations = "unknown";
        return c.json({
          status: "not_ready" as const,
          checks,
          detail: "database: unreachable",
          code: "SERVICE_UNAVAILABLE",
          request_id: c.get("requestId") ?? "",
        }, 503);
      }
      try {
        const status = await migrationStatus(deps.db);
        const bad = status.filter((s) => s.state !== "applied");
        checks.migrations = bad.length === 0 ? "ok" : bad.map((s) => `${s.tag}: ${s.state}`).join(", ");
      } catch {
        checks.migrations = "unreadable";
      }
      if (checks.migrations !== "ok") {
        return c.json(
          {
            status: "not_ready" as const,
            checks,
            detail: `migrations: ${checks.migrations}`,
            code: "SERVICE_UNAVAILABLE",
            request_id: c.get("requestId") ?? "",
          },
          503,
        );
      }
      return c.json({ status: "ready" as const, checks }, 200);
    },
  );
  return app;
}
