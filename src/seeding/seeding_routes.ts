/**
 * Seed 002's seeder endpoints under `/api/v1/seeders`:
 *
 * | Endpoint                  | Permission        |
 * |---------------------------|-------------------|
 * | POST /execute             | seeders:execute   |
 * | POST /reset               | seeders:execute   |
 * | POST /restore             | seeders:execute   |
 * | GET  / (and no slash)     | seeders:read      |
 * | GET  /{id}                | seeders:read      |
 *
 * A run in progress answers 409; a failed run 500 with `run_execution_id` (its
 * record holds the error and stack trace); restore without backup storage 501.
 * Platform super admins only (`seeders` is a platform module): a tenant's admin
 * is refused whatever his role grants.
 * Story: docs/seeding.md ("HTTP endpoints").
 */
import { IdParam } from "../http/paging.ts";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import type { SeedingService } from "./seeding_service.ts";
import { requireAccess } from "../access/guard.ts";
import type { AccessService } from "../access/access_service.ts";
import { idNumber } from "../http/input_rules.ts";

/** What the routes need: the service and the access service the guard (`access/guard.ts`) runs on. */
export interface SeedingRouteDeps {
  seeding: SeedingService;
  access: AccessService;
}

const Outcome = z.object({
  status: z.string().openapi({ example: "completed" }),
  created: z.number().int(),
  updated: z.number().int(),
  deleted: z.number().int(),
});
const Counts = z.object({ created: z.number().int(), updated: z.number().int(), deleted: z.number().int() });
const SeedResult = z.object({
  success: z.boolean(),
  backup_created: z.boolean(),
  backup_s3_key: z.string().nullable().openapi({
    example: "database-backups/20250115_120000_execution_5.json.gz",
  }),
  results: z.object({ seeders: z.record(z.string(), Outcome), total: Counts }),
  execution_id: z.number().int(),
  warnings: z.array(z.string()),
  dry_run: z.boolean().optional(),
  tables_cleared: z.array(z.string()).optional(),
  sessions_revoked: z.literal(true).optional().openapi({
    description:
      "A reset that committed ended every session, the caller's included: log in again (also in `warnings`).",
  }),
}).openapi("SeedResult");

const ExecuteBody = z.object({
  create_backup: z.boolean().optional().openapi({ description: "Back up to S3 first (default true)" }),
  require_backup: z.boolean().optional().openapi({
    description: "Fail instead of continuing when the backup fails",
  }),
  dry_run: z.boolean().optional().openapi({ description: "Run, report the counts, roll back" }),
  only: z.array(z.string().min(1).max(100)).min(1).max(50).optional().openapi({
    description: "Only these seeders, with their dependencies",
    example: ["RolesSeeder"],
  }),
}).strict().openapi("SeedExecuteRequest");
const ResetBody = ExecuteBody.pick({ create_backup: true, require_backup: true }).extend({
  confirm: z.string().min(1).max(200).optional().openapi({
    description:
      "Production only: the database name, confirming that every tenant's data is replaced (the 428 error names it)",
    example: "seedbed",
  }),
}).strict().openapi("SeedResetRequest");
const RestoreBody = z.object({
  s3_key: z.string().min(1).max(1024).optional().openapi({
    example: "database-backups/20250115_120000_execution_5.json.gz",
  }),
  execution_id: idNumber().optional().openapi({ example: 5 }),
  trust: z.literal("untrusted").optional().openapi({
    description:
      "Import an object that is neither in the catalog nor signed by a key this server holds (audited; still verified row by row). Without it such an object is refused (422).",
  }),
  allow_shrink: z.boolean().optional().openapi({
    description:
      "Restore even when the backup holds 1% or less of the rows the database holds now (or no user account while the database has some) (an empty or almost empty backup); refused with 428 otherwise",
  }),
  dry_run: z.boolean().optional().openapi({
    description:
      "Only show what the restore would do, table by table (rows now → rows after), after verifying the object; nothing is touched",
  }),
  confirm: z.string().min(1).max(200).optional().openapi({
    description:
      "Production only: the database name, confirming that every tenant's data is replaced (the 428 error names it)",
    example: "seedbed",
  }),
}).strict().refine((b) => !(b.s3_key !== undefined && b.execution_id !== undefined), {
  message: "give s3_key or execution_id, not both",
}).openapi("SeedRestoreRequest");
const RestoreResult = z.object({
  success: z.boolean(),
  restored_from: z.string(),
  safety_backup_s3_key: z.string().nullable(),
  tables: z.record(z.string(), z.number().int()),
  execution_id: z.number().int(),
  sessions_revoked: z.literal(true).openapi({
    description: "A restore ends every session, the caller's included: log in again (also in `warnings`).",
  }),
  warnings: z.array(z.string()),
  trust: z.enum(["catalog", "signature", "untrusted"]).optional(),
  security_changes_since_backup: z.object({
    total: z.number().int(),
    events: z.array(z.object({ event: z.string(), target: z.string().nullable(), at: z.string() })),
  }).optional().openapi({
    description:
      "Account and access changes recorded after the backup was taken (password changes, deactivations, deletions, role changes …), rolled back by this restore: re-apply those that must stay. Revoked service keys, logouts and token revocations are never rolled back.",
  }),
}).openapi("SeedRestoreResult");
const RestorePlanResult = z.object({
  success: z.boolean(),
  dry_run: z.literal(true),
  restore_from: z.string(),
  backup_id: z.number().int().nullable(),
  trust: z.enum(["catalog", "signature", "untrusted"]),
  schema_version: z.string().nullable(),
  created_at: z.string().nullable(),
  source: z.object({ database: z.string(), dialect: z.enum(["sqlite", "postgres"]) }).nullable().openapi({
    description: "The database the backup was taken from (its manifest's label, no credentials)",
  }),
  target: z.object({ database: z.string(), dialect: z.enum(["sqlite", "postgres"]) }),
  tables: z.record(z.string(), z.object({ now: z.number().int(), after: z.number().int() })),
  total: z.object({ now: z.number().int(), after: z.number().int() }),
  verified: z.literal(true),
  warnings: z.array(z.string()),
}).openapi("SeedRestorePlan");

const Execution = z.object({
  id: z.number().int(),
  status: z.enum(["pending", "running", "completed", "failed"]),
  kind: z.enum(["execute", "reset", "restore", "dry_run"]),
  triggered_by: z.string(),
  triggered_by_user_id: z.number().int().nullable(),
  environment: z.string(),
  dry_run: z.boolean(),
  options: z.record(z.string(), z.unknown()),
  results: z.record(z.string(), z.unknown()),
  total_created: z.number().int(),
  total_updated: z.number().int(),
  total_deleted: z.number().int(),
  backup_created: z.boolean(),
  backup_s3_key: z.string().nullable(),
  warnings: z.array(z.string()),
  error_message: z.string().nullable(),
  error_traceback: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
  created_at: z.string().nullable(),
}).openapi("SeederExecution");
const ExecutionList = z.object({
  items: z.array(Execution),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("SeederExecutionList");

const ListQuery = z.object({
  skip: z.coerce.number().int().min(0).default(0).openapi({
    param: { name: "skip", in: "query" },
    example: 0,
  }),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({
    param: { name: "limit", in: "query" },
    example: 50,
  }),
});

const common = { tags: ["seeders"], security: [{ bearer: [] }] };
const RUN_ERRORS = errorResponses(401, 403, 409, 422, 428, 500);

/** Mounted by `createApp` at the root (paths are absolute). */
export function seedingRoutes(deps: SeedingRouteDeps) {
  const app = createRouter();
  const { seeding } = deps;
  const canExecute = requireAccess(deps.access, "seeders", "execute");
  const canRead = requireAccess(deps.access, "seeders", "read");
  const actor = (id: number) => ({ triggeredBy: `user:${id}`, triggeredByUserId: id });

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/seeders/execute",
      summary: "Run the seeders (backup first by default)",
      description:
        "Requires `seeders:execute`. Runs every seeder for the server's environment in one transaction. A failed backup gives a warning and seeding continues, unless `require_backup` is true. 409 while another run is in progress; 500 with `run_execution_id` (the failed run's record) when a seeder fails (nothing is kept).",
      middleware: canExecute,
      request: { body: jsonBody(ExecuteBody, false) },
      responses: { 200: jsonResponse(SeedResult, "The run's results"), ...RUN_ERRORS },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const r = await seeding.execute({
        createBackup: body.create_backup,
        requireBackup: body.require_backup,
        dryRun: body.dry_run,
        only: body.only,
        requestId: c.get("requestId"),
        ...actor(c.get("auth").user.id),
      });
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/seeders/reset",
      summary: "Back up, empty the application tables, re-run migrations and seed",
      description:
        "Requires `seeders:execute`. The execution history and backup catalog are kept. In production a failed backup stops the reset unless `create_backup` is false.",
      middleware: canExecute,
      request: { body: jsonBody(ResetBody, false) },
      responses: { 200: jsonResponse(SeedResult, "The reset's results"), ...RUN_ERRORS },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const r = await seeding.reset({
        createBackup: body.create_backup,
        requireBackup: body.require_backup,
        confirm: body.confirm,
        requestId: c.get("requestId"),
        ...actor(c.get("auth").user.id),
      });
      return c.json(r, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/seeders/restore",
      summary: "Restore a backup: the latest, an S3 key, or an execution's",
      description:
        'Requires `seeders:execute`. `{}` restores the latest backup, `{"s3_key": …}` that object, `{"execution_id": N}` the backup taken by execution N. An object outside the catalog must carry a valid signed manifest, or be imported with `"trust": "untrusted"`. `"dry_run": true` shows the plan (rows now → after) without touching anything. In production `"confirm": "<database name>"` is required (428 otherwise); a restore that would leave 1% or less of the rows (or no user account) needs `"allow_shrink": true` (428). 501 when no backup storage is configured.',
      middleware: canExecute,
      request: { body: jsonBody(RestoreBody, false) },
      responses: {
        200: jsonResponse(
          z.union([RestoreResult, RestorePlanResult]),
          "Restored (or, with dry_run, the plan)",
        ),
        ...errorResponses(401, 403, 404, 409, 422, 428, 500, 501),
      },
    }),
    async (c) => {
      const body = c.req.valid("json") ?? {};
      const request = {
        s3Key: body.s3_key,
        executionId: body.execution_id,
        trust: body.trust,
        allowShrink: body.allow_shrink,
        confirm: body.confirm,
        requestId: c.get("requestId"),
        ...actor(c.get("auth").user.id),
      };
      if (body.dry_run) return c.json(await seeding.planRestore(request), 200);
      return c.json(await seeding.restore(request), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/seeders",
      summary: "Execution history, newest first",
      description: "Requires `seeders:read`.",
      middleware: canRead,
      request: { query: ListQuery },
      responses: { 200: jsonResponse(ExecutionList, "Executions"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(await seeding.listExecutions(q.skip, q.limit), 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/seeders/{id}",
      summary: "One execution, with per-seeder results and any error",
      description: "Requires `seeders:read`.",
      middleware: canRead,
      request: { params: IdParam },
      responses: { 200: jsonResponse(Execution, "The execution"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await seeding.getExecution(c.req.valid("param").id), 200),
  );

  return app;
}
