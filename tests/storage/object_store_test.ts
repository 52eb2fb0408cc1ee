import assert from "node:assert/strict";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { loadConfig } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";
import { createLogger, memoryLogger } from "../../src/log.ts";
import { startEmbeddedS3, withEmbeddedS3 } from "../../src/storage/embedded_s3.ts";
import { ObjectStore } from "../../src/storage/object_store.ts";
import { createS3Client, describeEndpoint, sseParams } from "../../src/storage/s3_client.ts";
import { startTestS3 } from "../helpers/s3.ts";

const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, fn });

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
}

async function bytes(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

test("object store: multipart streamed upload, metadata, download, list, delete", async () => {
  const s3 = await startTestS3();
  try {
    // 3 parts of 5 MiB + a tail: a real multipart upload.
    const part = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
    const tail = new TextEncoder().encode("tail ✓");
    await s3.store.upload("dir/big.bin", streamOf([part, part, part, tail]), {
      contentType: "application/octet-stream",
      metadata: { a: "1" },
      partSize: 5 * 1024 * 1024,
    });
    const head = await s3.store.head("dir/big.bin");
    assert.equal(head?.size, 3 * part.length + tail.length);
    assert.deepEqual(head?.metadata, { a: "1" });

    await s3.store.replaceMetadata("dir/big.bin", { a: "2", sha256: "abc" }, "application/octet-stream");
    assert.deepEqual((await s3.store.head("dir/big.bin"))?.metadata, { a: "2", sha256: "abc" });

    const dl = await s3.store.download("dir/big.bin");
    const got = await bytes(dl.body);
    assert.equal(got.length, head?.size);
    assert.deepEqual(got.subarray(got.length - tail.length), tail);
    assert.equal(got[5 * 1024 * 1024 + 7], 7);

    const listed = [];
    for await (const o of s3.store.list("dir/")) listed.push(o.key);
    assert.deepEqual(listed, ["dir/big.bin"]);

    // A plain AWS SDK client sees the same object.
    const r = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "dir/big.bin" }));
    assert.equal(r.ContentLength, head?.size);
    await r.Body?.transformToByteArray();

    await s3.store.delete("dir/big.bin");
    assert.equal(await s3.store.head("dir/big.bin"), null);
  } finally {
    await s3.close();
  }
});

test("object store: missing object is NOT_FOUND naming the key", async () => {
  const s3 = await startTestS3();
  try {
    await assert.rejects(
      s3.store.download("nope/missing.json.gz"),
      (e: AppError) => e.code === "NOT_FOUND" && e.message.includes("nope/missing.json.gz"),
    );
  } finally {
    await s3.close();
  }
});

test("object store: missing bucket, wrong credentials and unreachable endpoint are clear errors", async () => {
  const s3 = await startTestS3();
  try {
    const noBucket = { ...s3.s3, bucket: "no-such-bucket-here" };
    const store = new ObjectStore(createS3Client(noBucket), noBucket);
    await assert.rejects(store.checkBucket(), (e: AppError) => {
      assert.equal(e.code, "STORAGE_UNAVAILABLE");
      assert.match(e.message, /"no-such-bucket-here" at http:\/\/127\.0\.0\.1:\d+ does not exist/);
      return true;
    });
    await assert.rejects(
      store.upload("k", streamOf([new Uint8Array(10)])),
      (e: AppError) => e.code === "STORAGE_UNAVAILABLE" && e.message.includes("no-such-bucket-here"),
    );

    const badCreds = { ...s3.s3, accessKeyId: "WRONG-KEY-ID", secretAccessKey: "very-secret-value" };
    const bad = new ObjectStore(createS3Client(badCreds), badCreds);
    await assert.rejects(bad.checkBucket(), (e: AppError) => {
      assert.equal(e.code, "STORAGE_ERROR");
      assert.match(e.message, /refused the credentials/);
      assert.ok(!e.message.includes("very-secret-value") && !e.message.includes("WRONG-KEY-ID"));
      return true;
    });
    await assert.rejects(bad.download("x"), (e: AppError) => e.code === "STORAGE_ERROR");

    const deadCfg = { ...s3.s3, endpoint: "http://127.0.0.1:9" };
    const dead = new ObjectStore(createS3Client(deadCfg), deadCfg);
    await assert.rejects(dead.checkBucket(), (e: AppError) => {
      assert.equal(e.code, "STORAGE_UNAVAILABLE");
      assert.match(e.message, /unreachable at http:\/\/127\.0\.0\.1:9 \(bucket "test-/);
      return true;
    });
  } finally {
    await s3.close();
  }
});

test("object store: embedded mode without a started server fails fast instead of calling AWS", async () => {
  const cfg = loadConfig({ APP_ENV: "test", SECRET_KEY: "x".repeat(40) }).s3;
  assert.equal(cfg.embedded, true);
  const store = new ObjectStore(createS3Client(cfg), cfg);
  await assert.rejects(store.checkBucket(), (e: AppError) => {
    assert.equal(e.code, "STORAGE_UNAVAILABLE");
    assert.match(e.message, /embedded S3 server was not started/);
    return true;
  });
});

test("sse parameters and endpoint descriptions", () => {
  const base = loadConfig({ APP_ENV: "test", SECRET_KEY: "x".repeat(40) }).s3;
  assert.deepEqual(sseParams(base), {});
  assert.deepEqual(sseParams({ ...base, sse: "AES256" }), { ServerSideEncryption: "AES256" });
  assert.deepEqual(sseParams({ ...base, sse: "aws:kms", sseKmsKeyId: "key-1" }), {
    ServerSideEncryption: "aws:kms",
    SSEKMSKeyId: "key-1",
  });
  assert.equal(describeEndpoint({ ...base, endpoint: undefined, region: "eu-west-1" }), "AWS S3 (eu-west-1)");
  assert.equal(describeEndpoint({ ...base, endpoint: "http://user:pw@minio:9000/" }), "http://minio:9000");
  return Promise.resolve();
});

test("withEmbeddedS3 starts the server, creates the bucket once and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-embedded-" });
  try {
    const config = loadConfig({
      APP_ENV: "development",
      S3_EMBEDDED_DIR: dir,
      S3_BUCKET_NAME: "dev-bucket",
    });
    const logger = memoryLogger();
    const first = await withEmbeddedS3(config, logger, { port: 0 });
    assert.match(first.config.s3.endpoint ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    const started = logger.records.find((r) => r.event === "embedded_s3_started");
    assert.equal(started?.bucket_created, true);
    assert.match(String(started?.detail), /bucket "dev-bucket" created/);
    const store = new ObjectStore(createS3Client(first.config.s3), first.config.s3);
    await store.upload("persist.txt", streamOf([new TextEncoder().encode("kept")]));
    await first.close();

    // A second start over the same folder finds the bucket and the object.
    const second = await withEmbeddedS3(config, logger, { port: 0 });
    assert.equal(logger.records.filter((r) => r.event === "embedded_s3_started")[1]?.bucket_created, false);
    const store2 = new ObjectStore(createS3Client(second.config.s3), second.config.s3);
    assert.equal(new TextDecoder().decode(await bytes((await store2.download("persist.txt")).body)), "kept");
    await second.close();

    // Not embedded (S3_ENDPOINT given): nothing starts.
    const external = loadConfig({ APP_ENV: "development", S3_ENDPOINT: "http://minio:9000" });
    const r = await withEmbeddedS3(external, createLogger("silent"));
    assert.equal(r.config, external);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

test("object store: incomplete multipart uploads are listed (by prefix) and aborted on the embedded server", async () => {
  const { CreateMultipartUploadCommand, UploadPartCommand } = await import("@aws-sdk/client-s3");
  const s3 = await startTestS3();
  try {
    const start = async (key: string) => {
      const { UploadId } = await s3.client.send(
        new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }),
      );
      await s3.client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: new Uint8Array(1024),
        }),
      );
      return UploadId!;
    };
    const before = Date.now() - 2_000;
    const a = await start("database-backups/a & <b>.json.gz");
    await start("elsewhere/c.bin");
    const listed = await s3.store.incompleteUploads("database-backups/");
    if (Deno.env.get("TEST_S3_ENDPOINT") && listed === null) return; // a shared server that cannot list
    assert.ok(listed, "the embedded server lists incomplete uploads");
    assert.deepEqual(listed.map((u) => [u.key, u.uploadId]), [["database-backups/a & <b>.json.gz", a]]);
    assert.ok(listed[0].initiated && listed[0].initiated.getTime() >= before, String(listed[0].initiated));
    await s3.store.abortUpload(listed[0].key, listed[0].uploadId);
    assert.deepEqual(await s3.store.incompleteUploads("database-backups/"), []);
    assert.equal((await s3.store.incompleteUploads(""))?.length, 1, "the other prefix's upload is untouched");
  } finally {
    await s3.close();
  }
});

Deno.test({
  name:
    "embedded S3: a port taken at bind time is an error to handle (and dev falls back to a free port), not a crash",
  fn: async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    const dir = await Deno.makeTempDir({ prefix: "seedbed-s3-busy-" });
    try {
      await assert.rejects(startEmbeddedS3({ directory: dir, port }), (e: Error & { code?: string }) => {
        assert.equal(e.code, "EADDRINUSE");
        return true;
      });
      // dev's start-up with that port preferred: another one, and it serves.
      const config = loadConfig({ APP_ENV: "development", DATABASE_URL: ":memory:", S3_EMBEDDED_DIR: dir });
      const s3 = await withEmbeddedS3(config, memoryLogger(), { port });
      assert.notEqual(new URL(s3.config.s3.endpoint!).port, String(port));
      await s3.close();
    } finally {
      taken.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
