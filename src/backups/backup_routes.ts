/**
 * Backup endpoints under `/api/v1/backups`:
 *
 * | Endpoint             | Permission       |
 * |----------------------|------------------|
 * | POST /               | seeders:execute  |
 * | GET  /               | seeders:read     |
 * | GET  /bucket         | seeders:read     |
 * | GET  /{id}           | seeders:read     |
 * | POST /{id}/verify    | seeders:read     |
 *
 * Restore is `POST /api/v1/seeders/restore` (the seeding routes), so that it
 * runs under the seeding lock and is recorded in the execution history.
 * Platform super admins only (`seeders` is a platform module): a tenant's admin
 * is refused whatever his role grants. Story: docs/backups.md ("Usage").
 */
import { IdParam } from "../http/paging.ts";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import type { BackupRecord } from "./catalog.ts";
import type { BackupService } from "./backup_service.ts";
import { requireAccess } from "../access/guard.ts";
import type { AccessService } from "../access/access_service.ts";
import { presentBucketBackup } from "./restore.ts";
import { idText } from "../http/input_rules.ts";

/** What the routes need: the service and the access service the guard (`access/guard.ts`) runs on. */
export interface BackupRouteDeps {
  backups: BackupService;
  access: AccessService;
}

const KEY_EXAMPLE = "database-backups/20250115_120000_execution_5.json.gz";

const Backup = z.object({
  id: z.number().int(),
  s3_key: z.string().openapi({ example: KEY_EXAMPLE }),
  bucket: z.string(),
  status: z.enum(["pending", "completed", "failed", "pruned"]),
  kind: z.enum(["execution", "manual", "scheduled", "safety", "reset", "imported"]),
  execution_id: z.number().int().nullable(),
  created_by: z.string().openapi({ example: "user:1" }),
  size_bytes: z.number().int().nullable(),
  sha256: z.string().nullable(),
  row_counts: z.record(z.string(), z.number().int()).nullable(),
  total_rows: z.number().int().nullable(),
  schema_version: z.string().nullable(),
  dialect: z.string(),
  error_message: z.string().nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
}).openapi("Backup");
const BackupDetail = Backup.extend({
  manifest: z.record(z.string(), z.unknown()).nullable(),
}).openapi("BackupDetail");
const BackupList = z.object({
  items: z.array(Backup),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("BackupList");
const VerifyResult = z.object({
  valid: z.literal(true),
  backup_id: z.number().int().nullable(),
  s3_key: z.string(),
  sha256: z.string(),
  size_bytes: z.number().int(),
  row_counts: z.record(z.string(), z.number().int()),
  total_rows: z.number().int(),
  schema_version: z.string().nullable(),
  format_version: z.number().int(),
  checked_against: z.enum(["catalog", "signature", "untrusted"]).openapi({
    description:
      "What the object was checked against: the catalog, its signed manifest (not catalogued), or only its own content (imported as untrusted)",
  }),
  signed_by: z.string().nullable().openapi({
    description: "Key id of the signed manifest, when it checks out",
  }),
  encrypted: z.boolean(),
}).openapi("BackupVerifyResult");

const CreateBody = z.object({}).strict().openapi("BackupCreateRequest");
const ListQuery = z.object({
  skip: z.coerce.number().int().min(0).default(0).openapi({
    param: { name: "skip", in: "query" },
    example: 0,
  }),
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({
    param: { name: "limit", in: "query" },
    example: 50,
  }),
  status: z.enum(["pending", "completed", "failed", "pruned"]).optional().openapi({
    param: { name: "status", in: "query" },
  }),
  kind: z.enum(["execution", "manual", "scheduled", "safety", "reset", "imported"]).optional().openapi({
    param: { name: "kind", in: "query" },
  }),
  execution_id: idText().optional().openapi({
    param: { name: "execution_id", in: "query" },
  }),
});
const BucketObject = z.object({
  s3_key: z.string().openapi({ example: KEY_EXAMPLE }),
  size_bytes: z.number().int(),
  last_modified: z.string().nullable(),
  signed: z.boolean().openapi({
    description: "Its signed manifest checks out with a key this server holds (restorable by key as is)",
  }),
  key_id: z.string().nullable().openapi({ description: "The signing key's id, when signed" }),
  problem: z.string().nullable().openapi({
    description:
      'Why it is not trusted by signature (restore it with "trust": "untrusted" only if you know where it came from)',
  }),
  catalogued: z.boolean(),
  kind: z.string().nullable(),
  created_at: z.string().nullable(),
  total_rows: z.number().int().nullable(),
  schema_version: z.string().nullable(),
  encrypted: z.boolean().nullable(),
}).openapi("BucketBackup");
const BucketList = z.object({
  bucket: z.string(),
  items: z.array(BucketObject),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("BucketBackupList");
const PageQuery = z.object({
  skip: z.coerce.number().int().min(0).default(0).openapi({
    param: { name: "skip", in: "query" },
    example: 0,
  }),
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({
    param: { name: "limit", in: "query" },
    example: 50,
  }),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function present(r: BackupRecord, bucket: string) {
  return {
    id: r.id,
    s3_key: r.s3Key,
    bucket,
    status: r.status,
    kind: r.kind,
    execution_id: r.executionId,
    created_by: r.createdBy,
    size_bytes: r.sizeBytes,
    sha256: r.sha256,
    row_counts: r.rowCounts,
    total_rows: r.manifest?.total_rows ?? null,
    schema_version: r.schemaVersion,
    dialect: r.dialect,
    error_message: r.errorMessage,
    created_at: r.createdAt.toISOString(),
    completed_at: iso(r.completedAt),
  };
}

const common = { tags: ["backups"], security: [{ bearer: [] }] };

/** Mounted by `createApp` at the root (paths are absolute). */
export function backupRoutes(deps: BackupRouteDeps) {
  const app = createRouter();
  const { backups } = deps;
  const bucket = backups.store.bucket;
  const canExecute = requireAccess(deps.access, "seeders", "execute");
  const canRead = requireAccess(deps.access, "seeders", "read");

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/backups",
      summary: "Back up every application table to S3 now",
      description:
        'Requires `seeders:execute`. Streams a gzip JSON backup (`{"users": [...], ...}` plus a manifest) to `database-backups/{timestamp}_manual_{id}.json.gz`, records its SHA-256 and row counts in the catalog, then applies retention. 502/503 when S3 fails (the catalog records the failure).',
      middleware: canExecute,
      request: { body: jsonBody(CreateBody, false) },
      responses: {
        201: jsonResponse(BackupDetail, "The completed backup"),
        ...errorResponses(401, 403, 422, 500, 502, 503),
      },
    }),
    async (c) => {
      const r = await backups.create({ kind: "manual", createdBy: `user:${c.get("auth").user.id}` });
      return c.json({ ...present(r, bucket), manifest: r.manifest as Record<string, unknown> | null }, 201);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/backups",
      summary: "The backup catalog, newest first",
      description: "Requires `seeders:read`. Filters: `status`, `kind`, `execution_id`.",
      middleware: canRead,
      request: { query: ListQuery },
      responses: { 200: jsonResponse(BackupList, "A page of backups"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await backups.list({
        limit: q.limit,
        offset: q.skip,
        status: q.status,
        kind: q.kind,
        executionId: q.execution_id,
      });
      return c.json({
        items: page.items.map((r) => present(r, bucket)),
        total: page.total,
        skip: q.skip,
        limit: q.limit,
      }, 200);
    },
  );

  // Before /{id}: "bucket" is no id.
  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/backups/bucket",
      summary: "What the bucket holds (disaster recovery: no catalog needed)",
      description:
        'Requires `seeders:read`. Every backup object under `database-backups/`, newest first, whether or not this database\'s catalog knows it, each with what its signed manifest says (kind, time, rows, schema version, signing key) or why it is not trusted. Restore one with `POST /api/v1/seeders/restore {"s3_key": …}` (an unsigned one needs `"trust": "untrusted"`; try `"dry_run": true` first). The same as `deno task backup list --bucket`.',
      middleware: canRead,
      request: { query: PageQuery },
      responses: {
        200: jsonResponse(BucketList, "A page of the bucket's backup objects"),
        ...errorResponses(401, 403, 422, 502, 503),
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await backups.bucketPage(q.skip, q.limit);
      return c.json({
        bucket,
        items: page.items.map(presentBucketBackup),
        total: page.total,
        skip: q.skip,
        limit: q.limit,
      }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/backups/{id}",
      summary: "One backup, with its manifest",
      description: "Requires `seeders:read`.",
      middleware: canRead,
      request: { params: IdParam },
      responses: { 200: jsonResponse(BackupDetail, "The backup"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => {
      const r = await backups.get(c.req.valid("param").id);
      return c.json({ ...present(r, bucket), manifest: r.manifest as Record<string, unknown> | null }, 200);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/backups/{id}/verify",
      summary: "Re-read a backup from S3 and check it",
      description:
        "Requires `seeders:read` (nothing changes). Downloads the object and checks its SHA-256 and size against the catalog, its manifest against the catalog's copy, and that every row parses and has its column's type. 422 `BACKUP_INVALID` naming the first problem; 404 when the backup is unknown or was pruned.",
      middleware: canRead,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(VerifyResult, "The backup is intact"),
        ...errorResponses(401, 403, 404, 422, 502, 503),
      },
    }),
    async (c) => c.json(await backups.verify({ id: c.req.valid("param").id }), 200),
  );

  return app;
}
