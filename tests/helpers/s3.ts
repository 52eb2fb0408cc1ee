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

/** Starts (or connects to) an S3 endpoint and creates a fresh bucket on it. */
export async function startTestS3(): Promise<TestS3> {
  const bucket = `test-${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  let endpoint: string;
  let stop: () => Promise<void>;
  if (SHARED) {
    endpoint = SHARED;
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
    AWS_ACCESS_KEY_ID: Deno.env.get("TEST_S3_ACCESS_KEY_ID") ?? EMBEDDED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: Deno.env.get("TEST_S3_SECRET_ACCESS_KEY") ?? EMBEDDED_CREDENTIALS.secretAccessKey,
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
      if (SHARED) {
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
