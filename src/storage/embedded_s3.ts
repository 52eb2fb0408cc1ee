/**
 * An S3-compatible server inside the process (s3rver from npm), for
 * development (`deno task dev` without S3_ENDPOINT) and tests. It is a real
 * HTTP S3 endpoint: the application talks to it through the same AWS SDK
 * code path as to AWS or MinIO — there is no file-system shortcut. Objects
 * live as files under a folder (`S3_EMBEDDED_DIR`, default `.data/s3`).
 * Story: docs/backups.md ("Configuration").
 */
import { join } from "node:path";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { createS3Client, type S3Config } from "./s3_client.ts";
import { ObjectStore } from "./object_store.ts";

/** s3rver accepts this key pair (it checks the access key id, not the signature). */
export const EMBEDDED_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  directory: string;
  close(): Promise<void>;
}

export interface EmbeddedS3Options {
  directory: string;
  /** 0 picks a free port. */
  port?: number;
  address?: string;
}

/** Starts s3rver on `address:port` with its data under `directory`. */
export async function startEmbeddedS3(options: EmbeddedS3Options): Promise<EmbeddedS3> {
  await Deno.mkdir(options.directory, { recursive: true });
  const address = options.address ?? "127.0.0.1";
  // Loaded here, not at the top: s3rver and Koa cost ~0.2 s of start-up, and most processes (every CLI
  // command, a server with S3_ENDPOINT or none) never start it.
  const { default: S3rver } = await import("s3rver");
  const server = new S3rver({
    address,
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    // Path-style only: virtual-host buckets would need DNS for <bucket>.localhost.
    vhostBuckets: false,
  });
  const koa = server as unknown as { middleware: KoaMiddleware[] };
  // s3rver's request logger (koa-logger, its output discarded with `silent`) styles each line with chalk 2,
  // which assigns `builder.__proto__`: Deno then ends every later failure with "This program assigned to
  // Object.prototype.__proto__ … --unsafe-proto", a hint that never applies here (docs/testing.md). Dropped.
  koa.middleware = koa.middleware.filter((m) => m.name !== "logger");
  // Ahead of s3rver's own middleware (Koa composes the array when the server starts).
  koa.middleware.unshift(
    guardKeys,
    abortMultipartUpload(options.directory),
    listMultipartUploads(options.directory),
  );
  // s3rver's listen reports a busy port as an 'error' event nobody listens to (an uncaught exception that
  // ends the process): with a callback it returns the http.Server at once, so the error can be caught.
  const inst = server as unknown as { listen: (...args: unknown[]) => unknown };
  const listen = inst.listen.bind(server);
  inst.listen = (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      const http = listen(...args, () => {
        http.off("error", reject);
        resolve(http);
      }) as {
        once(event: "error", fn: (err: Error) => void): void;
        off(event: "error", fn: (err: Error) => void): void;
      };
      http.once("error", reject);
    });
  const info = await server.run() as { port: number };
  let closed = false;
  return {
    endpoint: `http://${address}:${info.port}`,
    port: info.port,
    directory: options.directory,
    close: async () => {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}

/** The few parts of a Koa context the middleware below uses. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

function s3Error(ctx: KoaContext, status: number, code: string, message: string): void {
  ctx.status = status;
  ctx.type = "application/xml";
  ctx.body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** `{ bucket, key }` of a path-style request, or null for the service or a bucket. */
function bucketAndKey(ctx: KoaContext): { bucket: string; key: string } | null {
  const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
  if (!m) return null;
  try {
    return { bucket: decodeURIComponent(m[1]), key: decodeURIComponent(m[2]) };
  } catch {
    return null; // s3rver answers a malformed path itself
  }
}

const utf8Length = (s: string) => new TextEncoder().encode(s).byteLength;
/** S3's limit on a key. */
const MAX_KEY_BYTES = 1024;
/**
 * s3rver stores an object as files named `<last key segment>._S3rver_object`,
 * `…._S3rver_metadata.json`, under folders named after the other segments: a
 * segment longer than this overflows a file-system name (255 bytes), and
 * s3rver's unhandled ENAMETOOLONG would kill the whole process.
 */
const MAX_SEGMENT_BYTES = 255 - "._S3rver_metadata.json".length;

/** Refuses keys s3rver cannot store (as S3 does beyond 1024 bytes) instead of crashing on them. */
const guardKeys: KoaMiddleware = async (ctx, next) => {
  const target = bucketAndKey(ctx);
  if (
    target &&
    (utf8Length(target.key) > MAX_KEY_BYTES ||
      target.key.split("/").some((segment) => utf8Length(segment) > MAX_SEGMENT_BYTES))
  ) {
    return s3Error(
      ctx,
      400,
      "KeyTooLongError",
      `Your key is too long (at most ${MAX_KEY_BYTES} bytes, ${MAX_SEGMENT_BYTES} per segment on the embedded server)`,
    );
  }
  await next();
};

/**
 * AbortMultipartUpload (`DELETE /<bucket>/<key>?uploadId=…`), which s3rver
 * lacks (it answers MethodNotAllowed and keeps the parts forever): removes the
 * upload's parts. Like s3rver, it only checks the access key id.
 */
function abortMultipartUpload(directory: string): KoaMiddleware {
  return async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    const target = ctx.method === "DELETE" && typeof uploadId === "string" ? bucketAndKey(ctx) : null;
    if (!target) return await next();
    const auth = String(ctx.headers.authorization ?? ctx.query["X-Amz-Credential"] ?? "");
    if (!auth.includes(`${EMBEDDED_CREDENTIALS.accessKeyId}/`)) {
      return s3Error(ctx, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist.");
    }
    if (!/^[0-9a-f]{1,64}$/.test(uploadId as string) || !/^[a-z0-9][a-z0-9.-]*$/.test(target.bucket)) {
      return s3Error(ctx, 404, "NoSuchUpload", "The specified upload does not exist.");
    }
    const dir = join(directory, target.bucket, "._S3rver_uploads", uploadId as string);
    const key = await Deno.readTextFile(join(dir, "key")).catch(() => null);
    if (key !== target.key) return s3Error(ctx, 404, "NoSuchUpload", "The specified upload does not exist.");
    await Deno.remove(dir, { recursive: true });
    ctx.status = 204;
  };
}

const xml = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  );

/**
 * ListMultipartUploads (`GET /<bucket>?uploads`, with `prefix`), which s3rver
 * lacks (NotImplemented): the incomplete uploads it keeps under
 * `<bucket>/._S3rver_uploads/<id>/key`, so that the sweep of abandoned backups
 * works on the embedded server too (src/backups/sweep.ts). One page, every
 * upload; `Initiated` is when the upload's key file was written.
 */
function listMultipartUploads(directory: string): KoaMiddleware {
  return async (ctx, next) => {
    const m = /^\/([^/]+)\/?$/.exec(ctx.path);
    if (ctx.method !== "GET" || !m || !("uploads" in ctx.query)) return await next();
    const auth = String(ctx.headers.authorization ?? ctx.query["X-Amz-Credential"] ?? "");
    if (!auth.includes(`${EMBEDDED_CREDENTIALS.accessKeyId}/`)) {
      return s3Error(ctx, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist.");
    }
    let bucket: string;
    try {
      bucket = decodeURIComponent(m[1]);
    } catch {
      return await next();
    }
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(bucket)) return await next();
    try {
      if (!(await Deno.stat(join(directory, bucket))).isDirectory) return await next();
    } catch {
      return await next(); // s3rver answers NoSuchBucket
    }
    const prefix = typeof ctx.query.prefix === "string" ? ctx.query.prefix : "";
    const root = join(directory, bucket, "._S3rver_uploads");
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    try {
      for await (const e of Deno.readDir(root)) {
        if (!e.isDirectory) continue;
        const file = join(root, e.name, "key");
        const key = await Deno.readTextFile(file).catch(() => null);
        if (key === null || !key.startsWith(prefix)) continue;
        const initiated = (await Deno.stat(file)).mtime ?? new Date(0);
        uploads.push({ key, id: e.name, initiated });
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    ctx.status = 200;
    ctx.type = "application/xml";
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xml(bucket)}</Bucket>` +
      `<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xml(prefix)}</Prefix>` +
      `<MaxUploads>${Math.max(1000, uploads.length)}</MaxUploads><IsTruncated>false</IsTruncated>` +
      uploads.map((u) =>
        `<Upload><Key>${
          xml(u.key)
        }</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}` +
        `</Initiated><StorageClass>STANDARD</StorageClass></Upload>`
      ).join("") + `</ListMultipartUploadsResult>`;
  };
}

/** The s3 config pointed at a running embedded server. */
export function embeddedS3Config(base: S3Config, server: EmbeddedS3): S3Config {
  return {
    ...base,
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: base.accessKeyId ?? EMBEDDED_CREDENTIALS.accessKeyId,
    secretAccessKey: base.secretAccessKey ?? EMBEDDED_CREDENTIALS.secretAccessKey,
    // s3rver does not implement server-side encryption.
    sse: undefined,
    sseKmsKeyId: undefined,
  };
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** The port `deno task dev` tries first (s3rver's usual one), so the AWS CLI can find it. */
export const DEFAULT_EMBEDDED_PORT = 4568;

/**
 * When the config asks for the embedded server (development, no S3_ENDPOINT),
 * starts it over `config.s3.embeddedDir`, creates the bucket, logs what it
 * did, and returns the config pointed at it. Otherwise returns the config
 * unchanged and a no-op `close`.
 */
export async function withEmbeddedS3(
  config: Config,
  logger: Logger,
  options: { port?: number } = {},
): Promise<{ config: Config; close: () => Promise<void> }> {
  if (!config.s3.embedded || config.s3.endpoint) return { config, close: () => Promise.resolve() };
  const preferred = options.port ?? DEFAULT_EMBEDDED_PORT;
  // The usual port when it is free, else any: taken between the probe and the bind, the bind fails and
  // a free port is used instead.
  const port = preferred === 0 || portFree(preferred) ? preferred : 0;
  const server = await startEmbeddedS3({ directory: config.s3.embeddedDir, port }).catch((err) => {
    if (port === 0 || (err as { code?: string }).code !== "EADDRINUSE") throw err;
    return startEmbeddedS3({ directory: config.s3.embeddedDir, port: 0 });
  });
  const s3 = embeddedS3Config(config.s3, server);
  const store = new ObjectStore(createS3Client(s3), s3);
  try {
    const created = await store.ensureBucket();
    logger.info("embedded_s3_started", {
      endpoint: server.endpoint,
      directory: server.directory,
      bucket: s3.bucket,
      bucket_created: created,
      detail:
        `embedded S3 server at ${server.endpoint} (data in ${server.directory}); bucket "${s3.bucket}" ${
          created ? "created" : "already present"
        }`,
    });
  } catch (err) {
    await server.close();
    throw err;
  }
  return { config: { ...config, s3 }, close: () => server.close() };
}
