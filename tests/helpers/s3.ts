/**
 * A real S3 endpoint for tests: an embedded s3rver on a free port over a
 * throw-away folder, or the server named by TEST_S3_ENDPOINT (MinIO, …)
 * when set. Each call gets its own fresh bucket, so tests never see each
 * other's objects.
 *
 *   const s3 = await startTestS3();
 *   const { app } = await testApp(db, { env: s3.env });
 *   …
 *   await s3.close();
 */
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../src/config.ts";
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from "../../src/storage/embedded_s3.ts";
import { ObjectStore } from "../../src/storage/object_store.ts";
import { createS3Client, type S3Config } from "../../src/storage/s3_client.ts";

export interface TestS3 {
  /** Environment variables that point a config at this bucket (pass to `testApp({ env })`). */
  env: Record<string, string>;
  s3: S3Config;
  client: S3Client;
  store: ObjectStore;
  endpoint: string;
  bucket: string;
  /** Deletes the bucket's objects (shared endpoint) or stops the server and removes its folder. */
  close(): Promise<void>;
}

const SHARED = Deno.env.get("TEST_S3_ENDPOINT");

/**
 * Starts (or connects to) an S3 endpoint and creates a fresh bucket on it. `on`: a server already running
 * (e.g. `startMoto()`), with its credentials; the bucket is emptied at `close`, the server left running.
 */
export async function startTestS3(
  on?: { endpoint: string; accessKeyId: string; secretAccessKey: string },
): Promise<TestS3> {
  const bucket = `test-${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  let endpoint: string;
  let stop: () => Promise<void>;
  const shared = Boolean(on || SHARED);
  if (on || SHARED) {
    endpoint = on?.endpoint ?? SHARED!;
    stop = () => Promise.resolve();
  } else {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-s3-" });
    const server = await startEmbeddedS3({ directory: dir, port: 0 });
    endpoint = server.endpoint;
    stop = async () => {
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
  }
  const env = {
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    S3_BUCKET_NAME: bucket,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: on?.accessKeyId ?? Deno.env.get("TEST_S3_ACCESS_KEY_ID") ??
      EMBEDDED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: on?.secretAccessKey ?? Deno.env.get("TEST_S3_SECRET_ACCESS_KEY") ??
      EMBEDDED_CREDENTIALS.secretAccessKey,
  };
  const s3 = loadConfig({ APP_ENV: "test", SECRET_KEY: "x".repeat(40), ...env }).s3;
  const client = createS3Client(s3);
  const store = new ObjectStore(client, s3);
  await store.ensureBucket();
  return {
    env,
    s3,
    client,
    store,
    endpoint,
    bucket,
    close: async () => {
      if (shared) {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => null);
        for (const o of listed?.Contents ?? []) {
          await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! })).catch(() => {});
        }
      }
      client.destroy();
      await stop();
    },
  };
}

/** moto's S3 server (`moto_server`, from Python's moto), when on PATH: null otherwise. */
export const MOTO_SERVER: string | null = (() => {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/moto_server`).isFile) return `${dir}/moto_server`;
    } catch { /* not here */ }
  }
  return null;
})();

/**
 * A second, independent S3 implementation for what s3rver lacks — ListMultipartUploads (and so the
 * sweep of abandoned uploads): moto's server on a free port, in its own process. Any credentials work.
 */
export async function startMoto(): Promise<
  { endpoint: string; accessKeyId: string; secretAccessKey: string; close(): Promise<void> }
> {
  if (!MOTO_SERVER) throw new Error("moto_server is not on PATH");
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(MOTO_SERVER, {
    args: ["-H", "127.0.0.1", "-p", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const endpoint = `http://127.0.0.1:${port}`;
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
  for (let i = 0;; i++) {
    try {
      const res = await fetch(endpoint);
      await res.body?.cancel();
      break;
    } catch {
      if (i >= 300) {
        await close();
        throw new Error(`moto_server did not answer on ${endpoint} within 30 s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { endpoint, accessKeyId: "moto-test", secretAccessKey: "moto-test", close };
}
