/**
 * `/api/v1/files`: seed 002's Files module, guarded by `files:create`,
 * `files:read`, `files:update`, `files:delete`. Uploads are multipart and
 * streamed (parsed with busboy, never buffered whole). Story: docs/api.md.
 */
import { IdParam } from "../http/paging.ts";
import { createRoute, z } from "@hono/zod-openapi";
import { pipeline, Readable, type Writable } from "node:stream";
import busboyImport from "busboy";
import type { AccessService } from "../access/access_service.ts";
import { AppError, validation } from "../errors.ts";
import { createRouter, errorResponses, jsonBody, jsonResponse } from "../http/openapi.ts";
import { inputRuleError } from "../http/errors.ts";
import { breaksInputRules, inputRuleViolations } from "../http/input_rules.ts";
import { FilesService, PRESIGN_MAX_SECONDS } from "./files_service.ts";
import { requireAccess } from "../access/guard.ts";

/** The small part of busboy's API used here (the package ships no types). */
type MultipartParser = Writable & {
  on(event: "field", fn: (name: string, value: string) => void): MultipartParser;
  on(
    event: "file",
    fn: (field: string, stream: Readable, info: { filename?: string; mimeType?: string }) => void,
  ): MultipartParser;
  on(event: "close", fn: () => void): MultipartParser;
  on(event: "error", fn: (err: unknown) => void): MultipartParser;
};
const busboy = busboyImport as unknown as (opts: {
  headers: Record<string, string>;
  defParamCharset: string;
  limits: { files: number; fields: number; fieldSize: number };
}) => MultipartParser;

const FileSchema = z.object({
  id: z.number().int(),
  organization_id: z.number().int(),
  owner_id: z.number().int(),
  name: z.string(),
  s3_key: z.string(),
  size_bytes: z.number().int(),
  content_type: z.string(),
  sha256: z.string(),
  metadata: z.record(z.string(), z.string()),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi("File");

const FileList = z.object({
  items: z.array(FileSchema),
  total: z.number().int(),
  skip: z.number().int(),
  limit: z.number().int(),
}).openapi("FileList");

const Metadata = z.record(z.string().min(1).max(128), z.string().max(1024)).refine(
  (m) => Object.keys(m).length <= 50,
  { message: "at most 50 metadata keys" },
);

const ListQuery = z.object({
  skip: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  name: z.string().max(255).optional().openapi({
    description: "Substring of the file name, as written (case-sensitive; `%` and `_` are plain characters)",
  }),
  content_type: z.string().max(255).optional(),
});
const PresignQuery = z.object({
  expires_in: z.coerce.number().int().min(1).max(PRESIGN_MAX_SECONDS).default(900).openapi({
    description: `Seconds the URL stays valid (1…${PRESIGN_MAX_SECONDS})`,
  }),
});
const Presigned = z.object({ url: z.string(), expires_in: z.number().int(), expires_at: z.string() })
  .openapi("PresignedUrl");
const PatchBody = z.object({
  name: z.string().min(1).max(1024).optional(),
  metadata: Metadata.optional(),
}).refine((b) => b.name !== undefined || b.metadata !== undefined, {
  message: "give name and/or metadata",
});
const CopyBody = z.object({ name: z.string().min(1).max(1024).optional() });
const UploadForm = z.object({
  metadata: z.string().optional().openapi({
    description: 'Optional JSON object of string values, e.g. {"project": "apollo"}',
  }),
  file: z.string().openapi({ type: "string", format: "binary" }),
}).openapi("FileUpload");

/**
 * Parses the `metadata` form field (a JSON object of strings). Read outside the router's hook, so it
 * applies the input rules itself (src/http/input_rules.ts: no U+0000, no lone surrogate, keys included).
 */
function parseMetadata(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw validation("invalid body: metadata: must be a JSON object", {
      errors: [{ field: "metadata", message: "must be a JSON object" }],
    });
  }
  const r = Metadata.safeParse(parsed);
  if (!r.success) {
    throw validation(`invalid body: metadata: ${r.error.issues[0].message}`, {
      errors: [{ field: "metadata", message: r.error.issues[0].message }],
    });
  }
  const found = inputRuleViolations({ metadata: r.data }, Infinity);
  if (breaksInputRules(found)) throw inputRuleError(found, Infinity, "form");
  return r.data;
}

const perm = (p: string) =>
  `Requires \`files:${p}\`. Files are scoped to the caller's organization and record scope.`;

export function filesRoutes(deps: { access: AccessService; files: FilesService; maxUploadBytes: number }) {
  const app = createRouter();
  const { files, access } = deps;
  const common = { tags: ["files"], security: [{ bearer: [] }] };
  const guard = (action: string) => requireAccess(access, "files", action);

  // Upload: a plain handler (the body is streamed, not validated as a whole), documented by hand.
  app.openAPIRegistry.registerPath({
    ...common,
    method: "post",
    path: "/api/v1/files",
    summary: "Upload a file (multipart/form-data, streamed to S3)",
    description: `${perm("create")} The \`file\` part is streamed; over MAX_UPLOAD_BYTES answers 413.`,
    request: { body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } } },
    responses: {
      201: jsonResponse(FileSchema, "The stored file"),
      ...errorResponses(401, 403, 413, 422, 502, 503),
    },
  });
  app.post("/api/v1/files", guard("create"), async (c) => {
    const max = deps.maxUploadBytes;
    const declared = Number(c.req.header("content-length") ?? NaN);
    // Multipart framing adds a little; anything beyond a generous allowance is refused unread.
    if (Number.isFinite(declared) && declared > max + 64 * 1024) {
      throw new AppError("PAYLOAD_TOO_LARGE", `the upload is larger than MAX_UPLOAD_BYTES (${max} bytes)`);
    }
    const type = c.req.header("content-type") ?? "";
    if (!/^multipart\/form-data;\s*boundary=/i.test(type) || !c.req.raw.body) {
      throw validation("invalid body: Content-Type must be multipart/form-data with a `file` part", {
        errors: [{ field: "file", message: "missing multipart body" }],
      });
    }
    const fields: Record<string, string> = {};
    let bb: MultipartParser;
    try {
      bb = busboy({
        headers: { "content-type": type },
        defParamCharset: "utf8",
        limits: { files: 1, fields: 20, fieldSize: 64 * 1024 },
      });
    } catch (err) {
      throw validation(`invalid body: ${(err as Error).message}`);
    }
    const closed = new Promise<void>((resolve, reject) => {
      bb.on("close", resolve);
      bb.on("error", (e) => reject(validation(`invalid body: ${(e as Error).message}`)));
    });
    closed.catch(() => {}); // observed by `uploaded` and the metadata step
    const uploaded = new Promise<ReturnType<FilesService["upload"]>>((resolve, reject) => {
      let seen = false;
      bb.on("field", (name, value) => (fields[name] = value));
      bb.on("file", (field, stream, info) => {
        if (field !== "file" || seen) {
          stream.resume();
          return;
        }
        seen = true;
        const body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
        resolve(files.upload(c.get("auth"), {
          filename: info.filename ?? "file",
          contentType: info.mimeType || "application/octet-stream",
          metadata: async () => {
            await closed;
            return parseMetadata(fields.metadata);
          },
          body,
        }));
      });
      closed.then(() => {
        if (!seen) {
          reject(validation("invalid body: file: a `file` part is required", {
            errors: [{ field: "file", message: "required" }],
          }));
        }
      }, reject);
    });
    // `pipeline`, not `pipe`: an error on either side (the client going away, a
    // malformed body) destroys both and reaches a handler instead of becoming
    // an uncaught 'error' event.
    const source = Readable.fromWeb(c.req.raw.body as never);
    pipeline(source, bb, () => {});
    try {
      const record = await (await uploaded);
      return c.json(record, 201);
    } catch (err) {
      // Stop reading what is left of the request (over the limit, S3 down, …).
      source.destroy();
      throw err;
    }
  });

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/files",
      summary: "List files",
      description: perm("read"),
      middleware: guard("read"),
      request: { query: ListQuery },
      responses: { 200: jsonResponse(FileList, "A page of files"), ...errorResponses(401, 403, 422) },
    }),
    async (c) => c.json(await files.list(c.get("auth"), c.req.valid("query")), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/files/{id}",
      summary: "File metadata",
      description: perm("read"),
      middleware: guard("read"),
      request: { params: IdParam },
      responses: { 200: jsonResponse(FileSchema, "The file"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await files.get(c.get("auth"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/files/{id}/download",
      summary: "Download a file (streamed; supports a single Range)",
      description: perm("read"),
      middleware: guard("read"),
      request: { params: IdParam },
      responses: {
        200: {
          description: "The whole file",
          content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
        },
        206: {
          description: "The requested range",
          content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
        },
        ...errorResponses(401, 403, 404, 416, 502, 503),
      },
    }),
    async (c) => {
      const r = await files.download(c.get("auth"), c.req.valid("param").id, c.req.header("range"));
      return c.body(r.body, r.status, r.headers) as never;
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/api/v1/files/{id}/presigned-url",
      summary: "A presigned S3 GET URL",
      description: perm("read"),
      middleware: guard("read"),
      request: { params: IdParam, query: PresignQuery },
      responses: { 200: jsonResponse(Presigned, "The URL"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) =>
      c.json(
        await files.presign(c.get("auth"), c.req.valid("param").id, c.req.valid("query").expires_in),
        200,
      ),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "patch",
      path: "/api/v1/files/{id}",
      summary: "Rename a file or replace its metadata",
      description: perm("update"),
      middleware: guard("update"),
      request: { params: IdParam, body: jsonBody(PatchBody) },
      responses: { 200: jsonResponse(FileSchema, "The updated file"), ...errorResponses(401, 403, 404, 422) },
    }),
    async (c) => c.json(await files.update(c.get("auth"), c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/api/v1/files/{id}/copy",
      summary: "Copy a file (new object, new record)",
      description: perm("create"),
      middleware: guard("create"),
      request: { params: IdParam, body: jsonBody(CopyBody, false) },
      responses: {
        201: jsonResponse(FileSchema, "The copy"),
        ...errorResponses(401, 403, 404, 422, 502, 503),
      },
    }),
    async (c) => {
      const body = c.req.header("content-length") === "0" ? {} : c.req.valid("json") ?? {};
      return c.json(await files.copy(c.get("auth"), c.req.valid("param").id, body), 201);
    },
  );

  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/api/v1/files/{id}",
      summary: "Delete a file (object and record together)",
      description: perm("delete"),
      middleware: guard("delete"),
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses(401, 403, 404, 502, 503) },
    }),
    async (c) => {
      await files.delete(c.get("auth"), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
  return app;
}
