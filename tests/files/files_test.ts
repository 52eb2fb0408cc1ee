import assert from "node:assert/strict";
import fc from "fast-check";
import { createHash } from "node:crypto";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { count } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { json, testApp, testConfig } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { startTestS3, type TestS3 } from "../helpers/s3.ts";
import type { Database } from "../../src/db/client.ts";
import { sanitizeFilename } from "../../src/files/sanitize.ts";
import { memoryLogger } from "../../src/log.ts";
import { RecordsRepository, type RecordTableKey } from "../../src/modules/records_repository.ts";
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from "../../src/storage/embedded_s3.ts";
import { ObjectStore } from "../../src/storage/object_store.ts";
import { createS3Client } from "../../src/storage/s3_client.ts";

type FileBody = {
  id: number;
  name: string;
  s3_key: string;
  size_bytes: number;
  sha256: string;
  content_type: string;
  organization_id: number;
  owner_id: number;
  metadata: Record<string, string>;
};

async function setup(db: Database, env: Record<string, string> = {}) {
  const s3 = await startTestS3();
  const { app } = await testApp(db, { env: { ...s3.env, ...env } });
  const world = await createWorld(db);
  const admin = await login(app, world.admin.email);
  return { s3, app, world, admin };
}

function form(
  content: Uint8Array | string,
  filename: string,
  type = "text/plain",
  metadata?: string,
): FormData {
  const f = new FormData();
  if (metadata !== undefined) f.append("metadata", metadata);
  f.append("file", new File([content as BlobPart], filename, { type }));
  return f;
}

async function objectKeys(s3: TestS3): Promise<string[]> {
  const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "files/" }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

dbTest(
  "files: upload, list, metadata, range download, presigned URL, update, copy and delete",
  async (db) => {
    const { s3, app, world, admin } = await setup(db);
    try {
      const bytes = new TextEncoder().encode("hello, seedbed files — ünïcödé\n".repeat(100));
      const up = await app.request("/api/v1/files", {
        method: "POST",
        headers: bearer(admin),
        body: form(bytes, "report.txt", "text/plain", JSON.stringify({ project: "apollo" })),
      });
      assert.equal(up.status, 201, await up.clone().text());
      const file = await json<FileBody>(up);
      assert.equal(file.name, "report.txt");
      assert.equal(file.size_bytes, bytes.byteLength);
      assert.equal(file.sha256, createHash("sha256").update(bytes).digest("hex"));
      assert.equal(file.organization_id, world.acme.id);
      assert.equal(file.owner_id, world.admin.id);
      assert.deepEqual(file.metadata, { project: "apollo" });
      assert.match(file.s3_key, new RegExp(`^files/org-${world.acme.id}/`));

      const list = await json<{ items: FileBody[]; total: number }>(
        await app.request("/api/v1/files?name=report&content_type=text/plain", { headers: bearer(admin) }),
      );
      assert.equal(list.total, 1);
      assert.equal(list.items[0].id, file.id);
      const none = await json<{ total: number }>(
        await app.request("/api/v1/files?name=nothing-like-it", { headers: bearer(admin) }),
      );
      assert.equal(none.total, 0);

      const meta = await app.request(`/api/v1/files/${file.id}`, { headers: bearer(admin) });
      assert.equal((await json<FileBody>(meta)).sha256, file.sha256);

      const full = await app.request(`/api/v1/files/${file.id}/download`, { headers: bearer(admin) });
      assert.equal(full.status, 200);
      assert.equal(full.headers.get("content-type"), "text/plain");
      assert.equal(full.headers.get("content-length"), String(bytes.byteLength));
      assert.match(full.headers.get("content-disposition")!, /attachment; filename="report.txt"/);
      assert.deepEqual(new Uint8Array(await full.arrayBuffer()), bytes);

      const part = await app.request(`/api/v1/files/${file.id}/download`, {
        headers: { ...bearer(admin), Range: "bytes=7-13" },
      });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get("content-range"), `bytes 7-13/${bytes.byteLength}`);
      assert.equal(part.headers.get("content-length"), "7");
      assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(7, 14));

      const badRange = await app.request(`/api/v1/files/${file.id}/download`, {
        headers: { ...bearer(admin), Range: "bytes=999999-" },
      });
      assert.equal(badRange.status, 416);
      assert.equal((await json(badRange)).code, "RANGE_NOT_SATISFIABLE");

      const pre = await json<{ url: string; expires_in: number }>(
        await app.request(`/api/v1/files/${file.id}/presigned-url?expires_in=120`, {
          headers: bearer(admin),
        }),
      );
      assert.equal(pre.expires_in, 120);
      const fetched = await fetch(pre.url);
      assert.equal(fetched.status, 200);
      assert.deepEqual(new Uint8Array(await fetched.arrayBuffer()), bytes);
      for (const bad of ["0", "3601", "abc"]) {
        const r = await app.request(`/api/v1/files/${file.id}/presigned-url?expires_in=${bad}`, {
          headers: bearer(admin),
        });
        assert.equal(r.status, 422, bad);
        assert.match((await json(r)).detail as string, /expires_in/);
      }

      const patched = await app.request(`/api/v1/files/${file.id}`, {
        method: "PATCH",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: "../renamed.txt", metadata: { project: "gemini", owner: "ops" } }),
      });
      assert.equal(patched.status, 200);
      const p = await json<FileBody>(patched);
      assert.equal(p.name, "renamed.txt");
      assert.deepEqual(p.metadata, { project: "gemini", owner: "ops" });

      const copied = await app.request(`/api/v1/files/${file.id}/copy`, {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: "copy.txt" }),
      });
      assert.equal(copied.status, 201);
      const copy = await json<FileBody>(copied);
      assert.notEqual(copy.id, file.id);
      assert.notEqual(copy.s3_key, file.s3_key);
      assert.equal(copy.sha256, file.sha256);
      const copyBytes = await app.request(`/api/v1/files/${copy.id}/download`, { headers: bearer(admin) });
      assert.deepEqual(new Uint8Array(await copyBytes.arrayBuffer()), bytes);

      const del = await app.request(`/api/v1/files/${file.id}`, { method: "DELETE", headers: bearer(admin) });
      assert.equal(del.status, 204);
      assert.equal((await app.request(`/api/v1/files/${file.id}`, { headers: bearer(admin) })).status, 404);
      await assert.rejects(() =>
        s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: file.s3_key }))
      );
      assert.deepEqual(await objectKeys(s3), [copy.s3_key]);
    } finally {
      await s3.close();
    }
  },
);

dbTest("files: organizations are kept apart; super admins name the organization", async (db) => {
  const { s3, app, world, admin } = await setup(db);
  try {
    const up = await json<FileBody>(
      await app.request("/api/v1/files", {
        method: "POST",
        headers: bearer(admin),
        body: form("secret", "a.txt"),
      }),
    );
    const other = await login(app, world.otherAdmin.email);
    for (
      const path of [
        `/api/v1/files/${up.id}`,
        `/api/v1/files/${up.id}/download`,
        `/api/v1/files/${up.id}/presigned-url`,
      ]
    ) {
      assert.equal((await app.request(path, { headers: bearer(other) })).status, 404, path);
    }
    const del = await app.request(`/api/v1/files/${up.id}`, { method: "DELETE", headers: bearer(other) });
    assert.equal(del.status, 404);
    const list = await json<{ total: number }>(
      await app.request("/api/v1/files", { headers: bearer(other) }),
    );
    assert.equal(list.total, 0);

    const root = await login(app, world.superAdmin.email);
    const seen = await app.request(`/api/v1/files/${up.id}`, { headers: bearer(root, world.acme.id) });
    assert.equal(seen.status, 200);
    const elsewhere = await app.request(`/api/v1/files/${up.id}`, { headers: bearer(root, world.globex.id) });
    assert.equal(elsewhere.status, 404);

    assert.equal((await app.request("/api/v1/files")).status, 401);
    assert.equal((await app.request("/api/v1/files", { headers: bearer("not-a-token") })).status, 401);
  } finally {
    await s3.close();
  }
});

dbTest("files: bad input is refused and leaves neither record nor object", async (db) => {
  const { s3, app, admin } = await setup(db, { MAX_UPLOAD_BYTES: "1000" });
  try {
    // Declared too large: refused before the body is read.
    const big = await app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(admin),
      body: form(new Uint8Array(200_000), "big.bin", "application/octet-stream"),
    });
    assert.equal(big.status, 413);
    assert.equal((await json(big)).code, "PAYLOAD_TOO_LARGE");

    // No Content-Length (streamed): cut off once past the limit.
    const f = form(new Uint8Array(5000), "stream.bin", "application/octet-stream");
    const encoded = new Response(f);
    const streamed = await app.request("/api/v1/files", {
      method: "POST",
      headers: { ...bearer(admin), "content-type": encoded.headers.get("content-type")! },
      body: encoded.body,
      // @ts-ignore: Deno needs duplex for streamed request bodies
      duplex: "half",
    });
    assert.equal(streamed.status, 413);

    const noFile = new FormData();
    noFile.append("metadata", "{}");
    const missing = await app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(admin),
      body: noFile,
    });
    assert.equal(missing.status, 422);
    assert.match((await json(missing)).detail as string, /file/);

    const badMeta = await app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(admin),
      body: form("x", "x.txt", "text/plain", "not json"),
    });
    assert.equal(badMeta.status, 422);
    assert.match((await json(badMeta)).detail as string, /metadata/);

    const notMultipart = await app.request("/api/v1/files", {
      method: "POST",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(notMultipart.status, 422);

    const list = await json<{ total: number }>(
      await app.request("/api/v1/files", { headers: bearer(admin) }),
    );
    assert.equal(list.total, 0);
    assert.deepEqual(await objectKeys(s3), []);

    // Path parts and control characters are stripped from names.
    const odd = await app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(admin),
      body: form("ok", "../../etc/pa\u202ess\u202dwd.txt"),
    });
    assert.equal(odd.status, 201, await odd.clone().text());
    const oddBody = await json<FileBody>(odd);
    assert.equal(oddBody.name, "passwd.txt");
    assert.ok(!oddBody.s3_key.includes(".."));
    // U+0000 is refused outright, as in every JSON body (src/http/input_rules.ts), and changes nothing.
    const nul = await app.request(`/api/v1/files/${oddBody.id}`, {
      method: "PATCH",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ name: "evil\u0000.txt" }),
    });
    assert.equal(nul.status, 422, await nul.clone().text());
    assert.match(await nul.text(), /name/);
    // Other raw control characters in JSON names are stripped.
    const renamed = await app.request(`/api/v1/files/${oddBody.id}`, {
      method: "PATCH",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ name: "C:\\temp\\evil\u0007\u001b[31m.txt" }),
    });
    assert.equal(renamed.status, 200, await renamed.clone().text());
    assert.equal((await json<FileBody>(renamed)).name, "evil[31m.txt");

    assert.equal((await app.request("/api/v1/files/999999", { headers: bearer(admin) })).status, 404);
  } finally {
    await s3.close();
  }
});

dbTest("files: S3 failures answer 502/503 and keep records and objects consistent", async (db) => {
  const { s3, app, admin, world } = await setup(db);
  try {
    const up = await json<FileBody>(
      await app.request("/api/v1/files", {
        method: "POST",
        headers: bearer(admin),
        body: form("keep me", "k.txt"),
      }),
    );
    // The same database, but S3 unreachable.
    const dead = await testApp(db, { env: { ...s3.env, S3_ENDPOINT: "http://127.0.0.1:9" } });
    const token = await login(dead.app, world.admin.email);
    const r1 = await dead.app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(token),
      body: form("x", "y.txt"),
    });
    assert.equal(r1.status, 503);
    const body1 = await json<{ code: string; detail: string }>(r1);
    assert.equal(body1.code, "STORAGE_UNAVAILABLE");
    assert.doesNotMatch(body1.detail, /127\.0\.0\.1|bucket/, body1.detail);
    const r2 = await dead.app.request(`/api/v1/files/${up.id}`, { method: "DELETE", headers: bearer(token) });
    assert.equal(r2.status, 503);
    // The record survived the failed delete and the object is still there.
    assert.equal((await app.request(`/api/v1/files/${up.id}`, { headers: bearer(admin) })).status, 200);
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: up.s3_key }));

    // A missing bucket is named to the operator (the log line), never to a tenant: no bucket, endpoint or key.
    const logger = memoryLogger();
    const nobucket = await testApp(db, { env: { ...s3.env, S3_BUCKET_NAME: "no-such-bucket-here" }, logger });
    const r3 = await nobucket.app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(token),
      body: form("x", "z.txt"),
    });
    assert.equal(r3.status, 503);
    const body3 = await r3.text();
    assert.doesNotMatch(body3, /no-such-bucket-here|127\.0\.0\.1|files\/org-/, body3);
    assert.match(JSON.stringify(logger.records), /no-such-bucket-here/);

    // A record whose object is gone (a race with a delete, a restore): "file N not found", nothing of S3.
    const lost = await json<FileBody>(
      await app.request("/api/v1/files", {
        method: "POST",
        headers: bearer(admin),
        body: form("gone", "g.txt"),
      }),
    );
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: lost.s3_key }));
    for (
      const [method, path] of [["GET", `/api/v1/files/${lost.id}/download`], [
        "POST",
        `/api/v1/files/${lost.id}/copy`,
      ]]
    ) {
      const r = await app.request(path, { method, headers: bearer(admin) });
      const text = await r.text();
      assert.equal(r.status, 404, `${method} ${path}: ${text}`);
      assert.match(text, new RegExp(`file ${lost.id} not found`));
      assert.doesNotMatch(text, /bucket|files\/org-/, text);
    }
    await app.request(`/api/v1/files/${lost.id}`, { method: "DELETE", headers: bearer(admin) });

    const list = await json<{ total: number }>(
      await app.request("/api/v1/files", { headers: bearer(admin) }),
    );
    assert.equal(list.total, 1);
    assert.deepEqual(await objectKeys(s3), [up.s3_key]);
  } finally {
    await s3.close();
  }
});

const utf8 = (s: string) => new TextEncoder().encode(s).byteLength;
/** Byte equality without node:assert's (very slow) element-by-element diff of large arrays. */
function sameBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  assert.equal(actual.byteLength, expected.byteLength, `${message}: length`);
  assert.equal(digest(actual), digest(expected), `${message}: content`);
}

Deno.test("files: sanitizeFilename bounds names to 255 UTF-8 bytes, keeping the extension and whole characters", () => {
  assert.equal(sanitizeFilename("a".repeat(400) + ".txt"), "a".repeat(251) + ".txt");
  assert.equal(sanitizeFilename("é".repeat(200) + ".pdf"), "é".repeat(125) + ".pdf");
  assert.equal(sanitizeFilename("😀".repeat(100) + ".png"), "😀".repeat(62) + ".png");
  // A combining sequence (e + U+0301) is one character to the reader: never split.
  assert.equal(sanitizeFilename("e\u0301".repeat(150) + ".txt"), "e\u0301".repeat(83) + ".txt");
  assert.equal(sanitizeFilename("x".repeat(400)), "x".repeat(255));
  // Not an extension: a "suffix" with spaces, or longer than 32 bytes, is cut with the rest.
  assert.equal(sanitizeFilename("a".repeat(300) + ". not an ext"), "a".repeat(255));
  assert.equal(sanitizeFilename("a".repeat(300) + "." + "b".repeat(40)), "a".repeat(255));
  assert.equal(sanitizeFilename("../../" + "n".repeat(300) + ".tar.gz"), "n".repeat(252) + ".gz");
  assert.equal(sanitizeFilename("short.txt"), "short.txt");
  assert.equal(sanitizeFilename("é".repeat(100) + ".txt", 128), "é".repeat(62) + ".txt");
  for (
    const raw of [
      "😀".repeat(300),
      "a😀".repeat(200) + ".x",
      "\u{1F468}\u200D\u{1F469}\u200D\u{1F467}".repeat(40),
    ]
  ) {
    const out = sanitizeFilename(raw);
    assert.ok(utf8(out) <= 255, raw);
    assert.ok(!/\uFFFD/.test(new TextDecoder().decode(new TextEncoder().encode(out))), "no broken character");
    assert.ok(raw.startsWith(out.replace(/\.x$/, "")), "a prefix of the original");
  }
});

dbTest(
  "files: very long filenames are shortened, keep their extension, and the S3 server survives",
  async (db) => {
    const { s3, app, admin } = await setup(db);
    try {
      const cases: [string, string][] = [
        ["a".repeat(400) + ".txt", "a".repeat(251) + ".txt"],
        ["é".repeat(200) + ".pdf", "é".repeat(125) + ".pdf"],
        ["😀".repeat(100) + ".png", "😀".repeat(62) + ".png"],
        ["x".repeat(2000), "x".repeat(255)],
      ];
      for (const [raw, expected] of cases) {
        const up = await app.request("/api/v1/files", {
          method: "POST",
          headers: bearer(admin),
          body: form(`content of ${expected.slice(-8)}`, raw),
        });
        assert.equal(up.status, 201, await up.clone().text());
        const file = await json<FileBody>(up);
        assert.equal(file.name, expected);
        assert.ok(utf8(file.name) <= 255);
        assert.ok(utf8(file.s3_key) < 300, `key of ${utf8(file.s3_key)} bytes`);
        for (const segment of file.s3_key.split("/")) assert.ok(utf8(segment) <= 128, segment);
        await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: file.s3_key }));
        const dl = await app.request(`/api/v1/files/${file.id}/download`, { headers: bearer(admin) });
        assert.equal(dl.status, 200);
        assert.ok(dl.headers.get("content-disposition")!.endsWith(`''${encodeURIComponent(expected)}`));
        assert.equal(await dl.text(), `content of ${expected.slice(-8)}`);
      }
      const first = (await json<{ items: FileBody[] }>(
        await app.request("/api/v1/files", { headers: bearer(admin) }),
      )).items[0];
      // Rename and copy go through the same bounds.
      const renamed = await app.request(`/api/v1/files/${first.id}`, {
        method: "PATCH",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: "r".repeat(1000) + ".md" }),
      });
      assert.equal(renamed.status, 200);
      assert.equal((await json<FileBody>(renamed)).name, "r".repeat(252) + ".md");
      const copied = await app.request(`/api/v1/files/${first.id}/copy`, {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: "ç".repeat(500) + ".csv" }),
      });
      assert.equal(copied.status, 201, await copied.clone().text());
      const copy = await json<FileBody>(copied);
      assert.equal(copy.name, "ç".repeat(125) + ".csv");
      assert.ok(utf8(copy.s3_key.split("/").pop()!) <= 128);
      await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: copy.s3_key }));

      if (!Deno.env.get("TEST_S3_ENDPOINT")) {
        // The embedded server refuses a key it cannot store instead of dying on ENAMETOOLONG.
        await assert.rejects(
          () =>
            s3.client.send(
              new PutObjectCommand({ Bucket: s3.bucket, Key: `files/${"k".repeat(300)}`, Body: "x" }),
            ),
          (err: Error) => err.name === "KeyTooLongError",
        );
        await assert.rejects(
          () => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k/".repeat(600), Body: "x" })),
          (err: Error) => err.name === "KeyTooLongError",
        );
      }
      assert.equal((await objectKeys(s3)).length, cases.length + 1);
    } finally {
      await s3.close();
    }
  },
);

/** An S3 endpoint whose folder the test can look into (the embedded server), or TEST_S3_ENDPOINT. */
async function s3WithFolder(): Promise<{ s3: TestS3; pendingUploads(): Promise<number> }> {
  if (Deno.env.get("TEST_S3_ENDPOINT")) {
    const s3 = await startTestS3();
    return {
      s3,
      pendingUploads: async () =>
        ((await s3.client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))).Uploads ?? []).length,
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "seedbed-s3-" });
  const server = await startEmbeddedS3({ directory: dir, port: 0 });
  const bucket = "files-limit";
  const env = {
    S3_ENDPOINT: server.endpoint,
    S3_FORCE_PATH_STYLE: "true",
    S3_BUCKET_NAME: bucket,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey,
  };
  const cfg = testConfig(env).s3;
  const client = createS3Client(cfg);
  const store = new ObjectStore(client, cfg);
  await store.ensureBucket();
  const s3: TestS3 = {
    env,
    s3: cfg,
    client,
    store,
    endpoint: server.endpoint,
    bucket,
    close: async () => {
      client.destroy();
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return {
    s3,
    // s3rver keeps each multipart upload's parts in `<bucket>/._S3rver_uploads/<uploadId>/`.
    pendingUploads: async () => {
      let n = 0;
      try {
        for await (const _ of Deno.readDir(`${dir}/${bucket}/._S3rver_uploads`)) n++;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      return n;
    },
  };
}

async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

dbTest(
  "files: a chunked upload over MAX_UPLOAD_BYTES is answered 413 as soon as it crosses the limit",
  async (db) => {
    const { s3, pendingUploads } = await s3WithFolder();
    const limit = 6 * 1024 * 1024; // above one 5 MiB part: the multipart upload has begun when it is cut
    const { app } = await testApp(db, { env: { ...s3.env, MAX_UPLOAD_BYTES: String(limit) } });
    const world = await createWorld(db);
    const admin = await login(app, world.admin.email);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
    const url = `http://127.0.0.1:${server.addr.port}/api/v1/files`;
    try {
      const boundary = `seedbed-${crypto.randomUUID()}`;
      const head = new TextEncoder().encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
          `Content-Type: application/octet-stream\r\n\r\n`,
      );
      const tail = new TextEncoder().encode(`\r\n--${boundary}--\r\n`);
      const total = 64 * 1024 * 1024;
      const chunk = 64 * 1024;
      /** A multipart body of `total` file bytes, produced only as fast as it is read; `fail` breaks it midway. */
      const streamed = (fail?: number) => {
        const state = { sent: 0, finished: false };
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(head);
          },
          pull(c) {
            if (fail !== undefined && state.sent >= fail) {
              c.error(new Error("the client went away"));
              return;
            }
            if (state.sent >= total) {
              c.enqueue(tail);
              c.close();
              state.finished = true;
              return;
            }
            c.enqueue(new Uint8Array(chunk).fill((state.sent / chunk) % 251));
            state.sent += chunk;
          },
        });
        return { body, state };
      };
      const headers = { ...bearer(admin), "content-type": `multipart/form-data; boundary=${boundary}` };

      const over = streamed();
      const res = await fetch(
        url,
        { method: "POST", headers, body: over.body, duplex: "half" } as RequestInit,
      );
      assert.equal(res.status, 413);
      const problem = await res.json();
      assert.equal(problem.code, "PAYLOAD_TOO_LARGE");
      // The answer came while the client was still sending: the server stopped reading.
      assert.equal(over.state.finished, false);
      assert.ok(over.state.sent < total / 2, `the client had sent ${over.state.sent} bytes`);

      // A client that breaks off mid-upload costs nothing either, and kills nothing.
      const broken = streamed(2 * 1024 * 1024);
      await fetch(url, { method: "POST", headers, body: broken.body, duplex: "half" } as RequestInit)
        .then((r) => r.body?.cancel(), () => {});

      // Nothing is left behind: no record, no object, no multipart upload still holding parts.
      await eventually(async () => (await pendingUploads()) === 0, "the multipart uploads to be aborted");
      assert.deepEqual(await objectKeys(s3), []);
      const [{ n }] = await db.db.select({ n: count() }).from(db.t.files);
      assert.equal(Number(n), 0);

      // The server is still up and takes an upload within the limit.
      const ok = await fetch(url, {
        method: "POST",
        headers: bearer(admin),
        body: form(new Uint8Array(limit), "exactly-the-limit.bin", "application/octet-stream"),
      });
      assert.equal(ok.status, 201, await ok.clone().text());
      assert.equal((await ok.json() as FileBody).size_bytes, limit);
      assert.equal((await objectKeys(s3)).length, 1);
    } finally {
      await server.shutdown();
      await s3.close();
    }
  },
);

dbTest(
  "files: Range requests follow RFC 9110 (suffix, open-ended, multiple, invalid, unsatisfiable)",
  async (db) => {
    const { s3, app, admin } = await setup(db);
    try {
      const size = 100_000;
      const bytes = Uint8Array.from({ length: size }, (_, i) => i % 251);
      const file = await json<FileBody>(
        await app.request("/api/v1/files", {
          method: "POST",
          headers: bearer(admin),
          body: form(bytes, "data.bin", "application/octet-stream"),
        }),
      );
      const get = (range: string) =>
        app.request(`/api/v1/files/${file.id}/download`, { headers: { ...bearer(admin), Range: range } });
      const partial: [string, number, number][] = [
        ["bytes=-5", 99_995, 99_999], // the last five bytes
        ["bytes=-200000", 0, 99_999], // a suffix longer than the file is the whole file
        ["bytes=5-", 5, 99_999],
        ["bytes=99990-200000", 99_990, 99_999], // the end is clamped
        ["bytes=0-0", 0, 0],
        ["BYTES=10-19", 10, 19], // the unit is case-insensitive
        ["bytes=7-13,", 7, 13], // an empty list element is no second range
      ];
      for (const [range, start, end] of partial) {
        const r = await get(range);
        assert.equal(r.status, 206, range);
        assert.equal(r.headers.get("content-range"), `bytes ${start}-${end}/${size}`, range);
        assert.equal(r.headers.get("content-length"), String(end - start + 1), range);
        sameBytes(new Uint8Array(await r.arrayBuffer()), bytes.slice(start, end + 1), range);
      }
      // Several ranges (not supported) and malformed headers are ignored: the whole file, 200.
      for (
        const range of [
          "bytes=0-1,5-6",
          "bytes=-5,10-20",
          "bytes=abc",
          "items=0-5",
          "bytes=5-3",
          "bytes=--5",
          "bytes 0-5",
          "bytes=-",
        ]
      ) {
        const r = await get(range);
        assert.equal(r.status, 200, range);
        assert.equal(r.headers.get("content-range"), null, range);
        assert.equal(r.headers.get("content-length"), String(size), range);
        sameBytes(new Uint8Array(await r.arrayBuffer()), bytes, range);
      }
      // Well-formed but outside the file: 416 naming the size.
      for (
        const range of ["bytes=100000-", "bytes=100000-100005", "bytes=999999999999999999999-", "bytes=-0"]
      ) {
        const r = await get(range);
        assert.equal(r.status, 416, range);
        assert.equal(r.headers.get("content-range"), `bytes */${size}`, range);
        assert.equal((await json(r)).code, "RANGE_NOT_SATISFIABLE", range);
      }
    } finally {
      await s3.close();
    }
  },
);

/** The test S3 server has a second name (localhost / 127.0.0.1) to stand for a public endpoint. */
const S3_ON_LOOPBACK = /^(127\.0\.0\.1|localhost)$/.test(
  new URL(Deno.env.get("TEST_S3_ENDPOINT") ?? "http://127.0.0.1").hostname,
);

dbTest(
  "files: presigned URLs are signed for S3_PUBLIC_ENDPOINT when set (the host clients reach), and work there",
  async (db) => {
    const s3 = await startTestS3();
    try {
      const inside = new URL(s3.endpoint);
      // The same server by another name, as `minio:9000` inside compose is `localhost:9000` from the host.
      const outside = new URL(s3.endpoint);
      outside.hostname = inside.hostname === "localhost" ? "127.0.0.1" : "localhost";
      const { app } = await testApp(db, { env: { ...s3.env, S3_PUBLIC_ENDPOINT: outside.origin } });
      const world = await createWorld(db);
      const admin = await login(app, world.admin.email);
      const up = await json<FileBody>(
        await app.request("/api/v1/files", {
          method: "POST",
          headers: bearer(admin),
          body: form("hello", "a.txt"),
        }),
      );
      const pre = await json<{ url: string }>(
        await app.request(`/api/v1/files/${up.id}/presigned-url?expires_in=60`, { headers: bearer(admin) }),
      );
      const url = new URL(pre.url);
      assert.equal(url.origin, outside.origin, "signed for the public endpoint");
      assert.ok(!pre.url.includes(inside.host), "the internal endpoint is not shown");
      const fetched = await fetch(url);
      assert.equal(fetched.status, 200, "the signature holds for the public host");
      assert.equal(await fetched.text(), "hello");
      // Uploads and downloads through Seedbed still go to S3_ENDPOINT.
      const down = await app.request(`/api/v1/files/${up.id}/download`, { headers: bearer(admin) });
      assert.equal(await down.text(), "hello");
      // Without it, the URL is S3_ENDPOINT's.
      const plain = (await testApp(db, { env: s3.env })).app;
      const pre2 = await json<{ url: string }>(
        await plain.request(`/api/v1/files/${up.id}/presigned-url?expires_in=60`, { headers: bearer(admin) }),
      );
      assert.equal(new URL(pre2.url).origin, inside.origin);
    } finally {
      await s3.close();
    }
    // One dialect: the subject is the URL's signature; the files' rows are read on both dialects above.
  },
  { only: ["libsql"], ignore: !S3_ON_LOOPBACK },
);

Deno.test("files: a filename with a lone surrogate (multipart's filename*=utf-16le) is stored well-formed, never a 502", () => {
  assert.equal(sanitizeFilename("a\uD800.txt"), "a\uFFFD.txt");
  assert.equal(sanitizeFilename("\uDC00"), "\uFFFD");
  assert.equal(sanitizeFilename("😀.png"), "😀.png", "a surrogate pair is a character");
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.integer({ min: 8, max: 300 }), (raw, max) => {
      assert.ok(sanitizeFilename(raw, max).isWellFormed());
    }),
  );
});

dbTest(
  "files (property): the name filter is a substring as written — `%`, `_`, `\\` and letter case match themselves",
  async (db) => {
    const world = await createWorld(db);
    const repo = new RecordsRepository(db, "files" as RecordTableKey);
    const scope = { organizationId: world.acme.id, scope: "all" as const, userId: world.admin.id };
    const names = ["a_b", "a%b", "a\\b", "axb", "ab", "_", "%", "\\", "100%_done", "x\\%y", "AB", "Ab_X"];
    for (const [i, name] of names.entries()) {
      await db.db.insert(db.t.files).values({
        organizationId: world.acme.id,
        ownerId: world.admin.id,
        name,
        s3Key: `files/org-${world.acme.id}/k${i}/${name}`,
        sizeBytes: 1,
        contentType: "text/plain",
        sha256: "0".repeat(64),
        metadata: {},
      });
    }
    await fc.assert(
      fc.asyncProperty(
        fc.string({
          unit: fc.constantFrom("a", "b", "x", "A", "B", "_", "%", "\\", "d"),
          minLength: 1,
          maxLength: 3,
        }),
        async (text) => {
          const { items, total } = await repo.search(scope, { skip: 0, limit: 100 }, {
            contains: { name: text },
          });
          const expected = names.filter((n) => n.includes(text)).sort();
          assert.deepEqual(items.map((r) => r.name as string).sort(), expected, JSON.stringify(text));
          assert.equal(total, expected.length);
        },
      ),
      { numRuns: 60 },
    );
  },
);
