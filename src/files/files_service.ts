/**
 * Files on S3 (seed 002's Files module), tenant-scoped: objects live under
 * `files/org-<id>/…`, records in the `files` table, both always together.
 *
 * - Uploads stream to S3 through the shared `ObjectStore` (multipart), hashed
 *   and counted on the way. The moment the count passes `MAX_UPLOAD_BYTES`
 *   the upload fails with 413 (the caller stops reading the request) while
 *   the multipart upload is aborted behind it; nothing is recorded, and no
 *   object can be completed from a stream that errored. The record is
 *   written only after S3 has the object; if writing it fails, the object is
 *   deleted.
 * - Object keys are `files/org-<id>/<uuid>/<name>` with the name cut to
 *   KEY_NAME_BYTES, so a key stays far below S3's 1024 bytes and every
 *   segment fits a file-system name (the embedded server stores objects as
 *   files).
 * - Delete removes the record inside a transaction and the object before it
 *   commits: an S3 failure rolls the record back (no orphan either way).
 * - Reads and writes go through the same organization + record-scope filter
 *   as every tenant-scoped table (`RecordsRepository`).
 *
 * Story: docs/api.md.
 */
import { createHash } from "node:crypto";
import type { Database } from "../db/client.ts";
import { AppError, notFound } from "../errors.ts";
import type { AuthContext } from "../http/types.ts";
import type { Logger } from "../log.ts";
import { type RecordScope, RecordsRepository, type RecordTableKey } from "../modules/records_repository.ts";
import { RecordsService } from "../modules/records_service.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { sanitizeFilename } from "./sanitize.ts";

/** UTF-8 bytes of the file name kept in an object key (the record keeps up to 255). */
export const KEY_NAME_BYTES = 128;

export interface FilesConfig {
  maxUploadBytes: number;
}

export interface FileRecord {
  id: number;
  organization_id: number;
  owner_id: number;
  name: string;
  s3_key: string;
  size_bytes: number;
  content_type: string;
  sha256: string;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export interface UploadInput {
  filename: string;
  contentType: string;
  /** Resolved after the object is stored (multipart fields may follow the file part). */
  metadata: Record<string, string> | (() => Promise<Record<string, string>>);
  body: ReadableStream<Uint8Array>;
}

export interface DownloadResult {
  status: 200 | 206;
  body: ReadableStream<Uint8Array>;
  headers: Record<string, string>;
}

/** One satisfiable byte range, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Reads a `Range` header against a representation of `size` bytes (RFC 9110
 * §14). Only single byte ranges are served: a header that is absent,
 * malformed, in another unit or asks for several ranges gives `null` (the
 * whole representation, 200); a range that starts at or beyond the end, or a
 * zero-length suffix, gives "unsatisfiable" (416). `bytes=-N` is the last N
 * bytes (the whole file when N ≥ size); an end past the last byte is clamped.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!m) return null;
  // A list may carry empty elements (RFC 9110 §5.6.1); anything but exactly one range is ignored.
  const specs = m[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return null;
  const r = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (!r || (r[1] === "" && r[2] === "")) return null;
  if (r[1] === "") {
    const suffix = Number(r[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === "" ? Infinity : Number(r[2]);
  if (end < start) return null; // an invalid range-spec: the header is ignored
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

export const PRESIGN_MIN_SECONDS = 1;
export const PRESIGN_MAX_SECONDS = 3600;

type Row = Record<string, unknown> & {
  id: number;
  organizationId: number;
  ownerId: number;
  name: string;
  s3Key: string;
  sizeBytes: number;
  contentType: string;
  sha256: string;
  metadata: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
};

function toRecord(r: Row): FileRecord {
  return {
    id: r.id,
    organization_id: r.organizationId,
    owner_id: r.ownerId,
    name: r.name,
    s3_key: r.s3Key,
    size_bytes: Number(r.sizeBytes),
    content_type: r.contentType,
    sha256: r.sha256,
    metadata: r.metadata ?? {},
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/** Drops the first `skip` bytes of a stream and ends it after `take` more. */
function sliceBytes(skip: number, take: number): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      if (take <= 0) return;
      const start = Math.min(skip, chunk.byteLength);
      skip -= start;
      const part = chunk.subarray(start, start + take);
      take -= part.byteLength;
      if (part.byteLength) controller.enqueue(part);
      if (take <= 0) controller.terminate();
    },
  });
}

/** `Content-Disposition` with an ASCII fallback and the exact UTF-8 name. */
export function contentDisposition(name: string, type: "attachment" | "inline" = "attachment"): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * A storage failure as a tenant may see it: which file and whether to retry, never the bucket, the endpoint
 * or an object key. The operator's detail stays in the cause, which the 5xx log line carries.
 */
function tenantFacing(err: unknown, what: string): unknown {
  if (!(err instanceof AppError)) return err;
  switch (err.code) {
    case "NOT_FOUND":
      return new AppError("NOT_FOUND", `${what} not found`, { cause: err });
    case "STORAGE_UNAVAILABLE":
      return new AppError("STORAGE_UNAVAILABLE", "file storage is unavailable; try again shortly", {
        headers: err.headers,
        cause: err,
      });
    case "STORAGE_ERROR":
      return new AppError("STORAGE_ERROR", "file storage failed; the service's log has the cause", {
        cause: err,
      });
    default:
      return err;
  }
}

export class FilesService {
  readonly repo: RecordsRepository;
  constructor(
    private readonly db: Database,
    /** The bucket, shared with backups (presigned URLs signed for S3_PUBLIC_ENDPOINT). */
    private readonly store: ObjectStore,
    private readonly cfg: FilesConfig,
    private readonly logger: Logger,
  ) {
    this.repo = new RecordsRepository(db, "files" as RecordTableKey);
  }

  #scope(auth: AuthContext): RecordScope {
    return RecordsService.scopeOf(auth);
  }

  async #find(auth: AuthContext, id: number): Promise<Row> {
    const row = await this.repo.get(this.#scope(auth), id) as Row | null;
    if (!row) throw notFound(`file ${id}`);
    return row;
  }

  /** A fresh object key for `name` (already sanitised) in the organization's prefix. */
  #key(organizationId: number, name: string): string {
    return `files/org-${organizationId}/${crypto.randomUUID()}/${sanitizeFilename(name, KEY_NAME_BYTES)}`;
  }

  /**
   * Streams an upload to S3, then records it. Nothing is recorded when
   * anything fails; over `MAX_UPLOAD_BYTES` this rejects with 413 at once,
   * without waiting for parts already in flight (their multipart upload is
   * aborted behind it).
   */
  async upload(auth: AuthContext, input: UploadInput): Promise<FileRecord> {
    const scope = this.#scope(auth);
    const name = sanitizeFilename(input.filename);
    const key = this.#key(scope.organizationId, name);
    const hash = createHash("sha256");
    let size = 0;
    const max = this.cfg.maxUploadBytes;
    let overflow: (err: AppError) => void = () => {};
    const tooLarge = new Promise<never>((_, reject) => (overflow = reject));
    tooLarge.catch(() => {}); // observed through the race below
    const counted = input.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength;
          if (size > max) {
            const err = new AppError(
              "PAYLOAD_TOO_LARGE",
              `the file is larger than MAX_UPLOAD_BYTES (${max} bytes)`,
            );
            overflow(err);
            // Errors the S3 side too: lib-storage stops, aborts the multipart upload, completes nothing.
            controller.error(err);
            return;
          }
          hash.update(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    const done = this.store.upload(key, counted, {
      contentType: input.contentType,
      partSize: 5 * 1024 * 1024,
    });
    try {
      await Promise.race([done, tooLarge]);
    } catch (err) {
      if (err instanceof AppError && err.code === "PAYLOAD_TOO_LARGE") {
        // The multipart upload finishes failing (and is aborted) in the background.
        done.then(
          () => this.#deleteQuietly(key, "upload over the limit completed"),
          (e) => {
            if (e !== err) this.logger.warn("file_upload_abort_failed", { key, error: String(e) });
          },
        );
      }
      throw tenantFacing(err, "file");
    }
    try {
      const metadata = typeof input.metadata === "function" ? await input.metadata() : input.metadata;
      const row = await this.repo.insert(scope, {
        ownerId: auth.user.id,
        name,
        s3Key: key,
        sizeBytes: size,
        contentType: input.contentType,
        sha256: hash.digest("hex"),
        metadata,
      });
      this.logger.info("file_uploaded", { file_id: row.id, organization_id: scope.organizationId, size });
      return toRecord(row as unknown as Row);
    } catch (err) {
      await this.#deleteQuietly(key, "the record could not be written");
      throw err;
    }
  }

  /** Deletes an object that must not outlive a failed operation; a failure is logged, not thrown. */
  async #deleteQuietly(key: string, why: string): Promise<void> {
    try {
      await this.store.delete(key);
    } catch (err) {
      this.logger.warn("file_object_cleanup_failed", { key, reason: why, error: String(err) });
    }
  }

  /** A page of the caller's files, optionally filtered by name (substring) and content type. */
  async list(
    auth: AuthContext,
    q: { skip: number; limit: number; name?: string; content_type?: string },
  ): Promise<{ items: FileRecord[]; total: number; skip: number; limit: number }> {
    const { items, total } = await this.repo.search(this.#scope(auth), q, {
      contains: { name: q.name || undefined },
      equals: { contentType: q.content_type || undefined },
    });
    return {
      items: items.map((r) => toRecord(r as unknown as Row)),
      total,
      skip: q.skip,
      limit: q.limit,
    };
  }

  async get(auth: AuthContext, id: number): Promise<FileRecord> {
    return toRecord(await this.#find(auth, id));
  }

  /**
   * Streams the object, honouring a single `Range` (see `parseRange`): 206
   * with the bytes asked for, 416 when the range lies outside the file, the
   * whole file (200) when the header is malformed or asks for several ranges.
   */
  async download(auth: AuthContext, id: number, rangeHeader?: string): Promise<DownloadResult> {
    const row = await this.#find(auth, id);
    const size = Number(row.sizeBytes);
    const unsatisfiable = () =>
      new AppError(
        "RANGE_NOT_SATISFIABLE",
        `Range "${rangeHeader}" is outside the file (${size} bytes)`,
        { headers: { "Content-Range": `bytes */${size}` } },
      );
    const range = parseRange(rangeHeader, size);
    if (range === "unsatisfiable") throw unsatisfiable();
    let out;
    try {
      out = await this.store.download(row.s3Key, range ?? undefined);
    } catch (err) {
      if (err instanceof AppError && err.code === "RANGE_NOT_SATISFIABLE") throw unsatisfiable();
      throw tenantFacing(err, `file ${id}`);
    }
    const headers: Record<string, string> = {
      "Content-Type": row.contentType,
      "Content-Disposition": contentDisposition(row.name),
      "Accept-Ranges": "bytes",
      "Content-Length": String(range ? range.end - range.start + 1 : out.size || size),
      "ETag": `"${row.sha256}"`,
    };
    let body = out.body;
    if (range) {
      headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
      // Exactly the bytes announced, even from a store that answers a range loosely
      // (s3rver reads `bytes=0-0` as `bytes=0-`).
      const from = Number(/^bytes (\d+)-/.exec(out.contentRange ?? "")?.[1] ?? 0);
      if (from > range.start) {
        await body.cancel().catch(() => {});
        throw new AppError(
          "STORAGE_ERROR",
          `S3 answered ${out.contentRange} for bytes ${range.start}-${range.end}`,
        );
      }
      if (from !== range.start || out.size !== range.end - range.start + 1) {
        body = body.pipeThrough(sliceBytes(range.start - from, range.end - range.start + 1));
      }
    }
    return { status: range ? 206 : 200, body, headers };
  }

  /** A presigned S3 GET URL valid for `expiresIn` seconds (1…3600). */
  async presign(
    auth: AuthContext,
    id: number,
    expiresIn: number,
  ): Promise<{ url: string; expires_in: number; expires_at: string }> {
    if (!Number.isInteger(expiresIn) || expiresIn < PRESIGN_MIN_SECONDS || expiresIn > PRESIGN_MAX_SECONDS) {
      throw new AppError(
        "VALIDATION_ERROR",
        `expires_in must be a whole number of seconds between ${PRESIGN_MIN_SECONDS} and ${PRESIGN_MAX_SECONDS}`,
        { extra: { errors: [{ field: "expires_in", message: "out of range" }] } },
      );
    }
    const row = await this.#find(auth, id);
    const url = await this.store.presignGet(row.s3Key, {
      expiresIn,
      contentDisposition: contentDisposition(row.name),
      contentType: row.contentType,
    }).catch((err) => Promise.reject(tenantFacing(err, `file ${id}`)));
    return { url, expires_in: expiresIn, expires_at: new Date(Date.now() + expiresIn * 1000).toISOString() };
  }

  /** Renames a file and/or replaces its custom metadata. */
  async update(
    auth: AuthContext,
    id: number,
    patch: { name?: string; metadata?: Record<string, string> },
  ): Promise<FileRecord> {
    await this.#find(auth, id);
    const values: Record<string, unknown> = {};
    if (patch.name !== undefined) values.name = sanitizeFilename(patch.name);
    if (patch.metadata !== undefined) values.metadata = patch.metadata;
    const row = await this.repo.update(this.#scope(auth), id, values);
    if (!row) throw notFound(`file ${id}`);
    return toRecord(row as unknown as Row);
  }

  /** Copies the object to a new key and records the copy (owned by the caller). */
  async copy(auth: AuthContext, id: number, opts: { name?: string }): Promise<FileRecord> {
    const src = await this.#find(auth, id);
    const scope = this.#scope(auth);
    const name = opts.name !== undefined ? sanitizeFilename(opts.name) : src.name;
    const key = this.#key(scope.organizationId, name);
    await this.store.copy(src.s3Key, key).catch((err) => Promise.reject(tenantFacing(err, `file ${id}`)));
    try {
      const row = await this.repo.insert(scope, {
        ownerId: auth.user.id,
        name,
        s3Key: key,
        sizeBytes: src.sizeBytes,
        contentType: src.contentType,
        sha256: src.sha256,
        metadata: src.metadata,
      });
      return toRecord(row as unknown as Row);
    } catch (err) {
      await this.#deleteQuietly(key, "the copy's record could not be written");
      throw err;
    }
  }

  /** Deletes record and object together: an S3 failure keeps the record. */
  async delete(auth: AuthContext, id: number): Promise<void> {
    const row = await this.#find(auth, id);
    const scope = this.#scope(auth);
    await this.db.transaction(async (tx) => {
      if ((await this.repo.delete(scope, id, undefined, tx)) !== "deleted") throw notFound(`file ${id}`);
      await this.store.delete(row.s3Key).catch((err) => Promise.reject(tenantFacing(err, `file ${id}`)));
    });
    this.logger.info("file_deleted", { file_id: id, organization_id: scope.organizationId });
  }
}
