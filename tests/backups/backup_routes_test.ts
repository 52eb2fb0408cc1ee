/** /api/v1/backups over real HTTP: permissions, shapes, 404 / 422 / storage failures. */
import assert from "node:assert/strict";
import { json } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { insertSampleData } from "./fixtures.ts";
import { setup } from "./http.ts";

dbTest("backups http: create, list, show, verify with the right permissions", async (db) => {
  const t = await setup(db);
  try {
    await insertSampleData(db);
    // Guarded: no token 401; tenant users (even a company admin, even holding seeders:read) 403 —
    // seeders:* is a platform operation (src/access/decide.ts), open to platform super admins.
    assert.equal((await t.call("POST", "/api/v1/backups", null)).status, 401);
    assert.equal((await t.call("GET", "/api/v1/backups", null)).status, 401);
    for (const who of [t.tokens.nobody, t.tokens.reader, t.tokens.admin]) {
      assert.equal((await t.call("POST", "/api/v1/backups", who)).status, 403);
      assert.equal((await t.call("GET", "/api/v1/backups", who)).status, 403);
      assert.equal((await t.call("GET", "/api/v1/backups/1", who)).status, 403);
      assert.equal((await t.call("POST", "/api/v1/backups/1/verify", who)).status, 403);
    }

    const res = await t.call("POST", "/api/v1/backups", t.tokens.root, {});
    assert.equal(res.status, 201);
    const b = await json<Record<string, unknown>>(res);
    assert.match(String(b.s3_key), /^database-backups\/\d{8}_\d{6}_manual_\d+\.json\.gz$/);
    assert.equal(b.status, "completed");
    assert.equal(b.bucket, t.s3.bucket);
    assert.match(String(b.sha256), /^[0-9a-f]{64}$/);
    assert.ok((b.size_bytes as number) > 0);
    assert.match(String(b.created_by), /^user:\d+$/);
    const counts = b.row_counts as Record<string, number>;
    assert.equal(counts.crm_leads, 2);
    assert.equal(counts.users, 6); // 2 sample users + 4 test accounts
    assert.equal((b.manifest as Record<string, unknown>).format_version, 1);

    const list = await t.call("GET", "/api/v1/backups?limit=10", t.tokens.root);
    assert.equal(list.status, 200);
    const page = await json<{ items: Record<string, unknown>[]; total: number; skip: number; limit: number }>(
      list,
    );
    assert.equal(page.total, 1);
    assert.equal(page.items[0].id, b.id);
    assert.equal(page.limit, 10);
    assert.equal((await t.call("GET", "/api/v1/backups/", t.tokens.root)).status, 200);
    const filtered = await json<{ total: number }>(
      await t.call("GET", "/api/v1/backups?status=failed", t.tokens.root),
    );
    assert.equal(filtered.total, 0);

    const one = await t.call("GET", `/api/v1/backups/${b.id}`, t.tokens.root);
    assert.equal(one.status, 200);
    assert.deepEqual((await json<Record<string, unknown>>(one)).row_counts, b.row_counts);

    const v = await t.call("POST", `/api/v1/backups/${b.id}/verify`, t.tokens.root);
    assert.equal(v.status, 200);
    const report = await json<Record<string, unknown>>(v);
    assert.equal(report.valid, true);
    assert.equal(report.sha256, b.sha256);
    assert.equal(report.checked_against, "catalog");

    const missing = await t.call("GET", "/api/v1/backups/9999", t.tokens.root);
    assert.equal(missing.status, 404);
    assert.match((await json<{ detail: string }>(missing)).detail, /backup 9999 not found/);
    assert.equal((await t.call("POST", "/api/v1/backups/9999/verify", t.tokens.root)).status, 404);
    assert.equal((await t.call("GET", "/api/v1/backups/abc", t.tokens.root)).status, 422);
    assert.equal((await t.call("GET", "/api/v1/backups?limit=0", t.tokens.root)).status, 422);
    assert.equal((await t.call("POST", "/api/v1/backups", t.tokens.root, { surprise: 1 })).status, 422);

    const events = t.logger.records.map((r) => r.event);
    assert.ok(events.includes("backup_started") && events.includes("backup_completed"));
  } finally {
    await t.s3.close();
  }
});

dbTest("backups http: a tampered object fails verification with 422 BACKUP_INVALID", async (db) => {
  const t = await setup(db);
  try {
    await insertSampleData(db);
    const b = await json<{ id: number; s3_key: string }>(
      await t.call("POST", "/api/v1/backups", t.tokens.root),
    );
    // Replace the object with different (valid gzip) bytes.
    const other = new Blob([new TextEncoder().encode("{}")]).stream().pipeThrough(
      new CompressionStream("gzip"),
    );
    await t.s3.store.upload(b.s3_key, other);
    const res = await t.call("POST", `/api/v1/backups/${b.id}/verify`, t.tokens.root);
    assert.equal(res.status, 422);
    const body = await json<{ code: string; detail: string }>(res);
    assert.equal(body.code, "BACKUP_INVALID");
    assert.match(body.detail, /checksum mismatch/);
  } finally {
    await t.s3.close();
  }
});

dbTest(
  "backups http: S3 down answers 503 naming the endpoint, and the catalog records the failure",
  async (db) => {
    const t = await setup(db, { S3_ENDPOINT: "http://127.0.0.1:9" });
    try {
      const res = await t.call("POST", "/api/v1/backups", t.tokens.root);
      assert.equal(res.status, 503);
      const body = await json<{ code: string; detail: string }>(res);
      assert.equal(body.code, "STORAGE_UNAVAILABLE");
      assert.match(body.detail, /unreachable at http:\/\/127\.0\.0\.1:9/);
      assert.ok(!body.detail.includes("S3RVER"));
      const failed = await json<{ items: { status: string; error_message: string }[] }>(
        await t.call("GET", "/api/v1/backups?status=failed", t.tokens.root),
      );
      assert.equal(failed.items.length, 1);
      assert.match(failed.items[0].error_message, /unreachable/);
      assert.ok(t.logger.records.some((r) => r.event === "backup_failed"));
    } finally {
      await t.s3.close();
    }
  },
);
