/**
 * An S3-compatible server inside the process (s3rver from npm), for
 * development (`deno task dev` without S3_ENDPOINT) and tests. It is a real
 * HTTP S3 endpoint: the application talks to it through the same AWS SDK
 * code path as to AWS or MinIO — there is no file-system shortcut. Objects
 * live as files under a folder (`S3_EMBEDDED_DIR`, default `.data/s3`).
 */
import S3rver from "s3rver";
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
  const server = new S3rver({
    address,
    port: options.port ?? 0,
    directory: options.directory,
    silent: true,
    // Path-style only: virtual-host buckets would need DNS for <bucket>.localhost.
    vhostBuckets: false,
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
  // s3rver reports a busy port as an uncaught error event, not a rejection: probe first.
  const port = preferred === 0 || portFree(preferred) ? preferred : 0;
  const server = await startEmbeddedS3({ directory: config.s3.embeddedDir, port });
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
