import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { startTestS3, type TestS3 } from "../helpers/s3.ts";
import type { Database } from "../../src/db/client.ts";

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
    // Names given as JSON can carry raw control characters: they are stripped too.
    const renamed = await app.request(`/api/v1/files/${oddBody.id}`, {
      method: "PATCH",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ name: "C:\\temp\\evil\u0000\u0007\u001b[31m.txt" }),
    });
    assert.equal(renamed.status, 200);
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
    assert.equal((await json(r1)).code, "STORAGE_UNAVAILABLE");
    const r2 = await dead.app.request(`/api/v1/files/${up.id}`, { method: "DELETE", headers: bearer(token) });
    assert.equal(r2.status, 503);
    // The record survived the failed delete and the object is still there.
    assert.equal((await app.request(`/api/v1/files/${up.id}`, { headers: bearer(admin) })).status, 200);
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: up.s3_key }));

    // A missing bucket is named.
    const nobucket = await testApp(db, { env: { ...s3.env, S3_BUCKET_NAME: "no-such-bucket-here" } });
    const r3 = await nobucket.app.request("/api/v1/files", {
      method: "POST",
      headers: bearer(token),
      body: form("x", "z.txt"),
    });
    assert.equal(r3.status, 503);
    assert.match((await json(r3)).detail as string, /no-such-bucket-here/);

    const list = await json<{ total: number }>(
      await app.request("/api/v1/files", { headers: bearer(admin) }),
    );
    assert.equal(list.total, 1);
    assert.deepEqual(await objectKeys(s3), [up.s3_key]);
  } finally {
    await s3.close();
  }
});
