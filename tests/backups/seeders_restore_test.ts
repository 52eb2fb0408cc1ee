/** Seed 002's restore calls (`POST /api/v1/seeders/restore`) reaching the real backups module over HTTP. */
import assert from "node:assert/strict";
import { json } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { setup } from "./http.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";
import { login } from "../helpers/fixtures.ts";

/** A fresh super admin token: a restore refuses every token issued before it (src/auth/revocation.ts). */
const rootToken = (t: Awaited<ReturnType<typeof setup>>) => login(t.app, "root@backup.test");

dbTest("seeders http: restore {} / {s3_key} / {execution_id} through the real backups module", async (db) => {
  const t = await setup(db);
  try {
    await insertSampleData(db);
    const before = await snapshot(db);
    const exec = await json<{ backup_s3_key: string; execution_id: number; warnings: string[] }>(
      await t.call("POST", "/api/v1/seeders/execute", t.tokens.root, { create_backup: true }),
    );
    assert.deepEqual(exec.warnings, []);
    assert.match(exec.backup_s3_key, new RegExp(`_execution_${exec.execution_id}\\.json\\.gz$`));
    await insertSampleData(db, "later");
    const byExec = await t.call("POST", "/api/v1/seeders/restore", t.tokens.root, {
      execution_id: exec.execution_id,
    });
    assert.equal(byExec.status, 200);
    const r = await json<Record<string, unknown>>(byExec);
    assert.equal(r.restored_from, exec.backup_s3_key);
    // The safety backup belongs to the restore's own execution ...
    assert.match(
      String(r.safety_backup_s3_key),
      new RegExp(`_safety_execution_${r.execution_id}\\.json\\.gz$`),
    );
    // The backup was taken before the run: the data is as it was then (seeded rows and later rows gone).
    assert.deepEqual(await snapshot(db), before);
    // ... so `{"execution_id": <that restore>}` undoes the restore.
    const undo = await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), {
      execution_id: r.execution_id,
    });
    assert.equal(undo.status, 200, await undo.clone().text());
    assert.equal((await json<{ restored_from: string }>(undo)).restored_from, r.safety_backup_s3_key);
    assert.notDeepEqual(await snapshot(db), before);
    await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), { execution_id: exec.execution_id });
    assert.deepEqual(await snapshot(db), before);

    const byKey = await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), {
      s3_key: exec.backup_s3_key,
    });
    assert.equal(byKey.status, 200);
    const latest = await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), {});
    assert.equal(latest.status, 200);

    const unknown = await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), {
      s3_key: "database-backups/20250115_120000_execution_5.json.gz",
    });
    assert.equal(unknown.status, 404);
    assert.match((await json<{ detail: string }>(unknown)).detail, /20250115_120000_execution_5\.json\.gz/);
    const noExec = await t.call("POST", "/api/v1/seeders/restore", await rootToken(t), {
      execution_id: 424242,
    });
    assert.equal(noExec.status, 404);
    // The body names the request's execution (in the detail) and the failed restore's own record under
    // another key: `execution_id` would read as the one asked for (newcomer finding 12).
    const ne = await json<{ detail: string; execution_id?: number; run_execution_id: number }>(noExec);
    assert.match(ne.detail, /execution 424242/);
    assert.equal(ne.execution_id, 424242, "execution_id is only ever the one asked for");
    assert.equal(typeof ne.run_execution_id, "number");
    assert.notEqual(ne.run_execution_id, 424242);
  } finally {
    await t.s3.close();
  }
});

dbTest(
  "seeders http: reset backs up first, and restoring that execution brings the data back",
  async (db) => {
    const t = await setup(db);
    try {
      await insertSampleData(db);
      const before = await snapshot(db);
      const res = await t.call("POST", "/api/v1/seeders/reset", t.tokens.root, {});
      assert.equal(res.status, 200);
      const reset = await json<
        { backup_s3_key: string; execution_id: number; warnings: string[]; sessions_revoked?: boolean }
      >(res);
      // The reset ended every session, the caller's included, and says so (newcomer finding 4).
      assert.deepEqual(reset.warnings, ["every token issued before was revoked: log in again"]);
      assert.equal(reset.sessions_revoked, true);
      assert.match(reset.backup_s3_key, new RegExp(`_reset_execution_${reset.execution_id}\\.json\\.gz$`));
      const kept = await t.deps.backups.catalog.byKey(reset.backup_s3_key);
      assert.equal(kept?.kind, "reset");
      assert.equal(kept?.status, "completed");
      // Our sample data is gone; the seeded super admin can log in and undo the reset.
      const seeded = await t.app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "admin@foodfleet.com", password: "SuperAdmin@123" }),
      });
      const token = (await json<{ access_token: string }>(seeded)).access_token;
      const undo = await t.call("POST", "/api/v1/seeders/restore", token, {
        execution_id: reset.execution_id,
      });
      assert.equal(undo.status, 200);
      const u = await json<{ sessions_revoked: boolean; warnings: string[] }>(undo);
      assert.equal(u.sessions_revoked, true);
      assert.deepEqual(u.warnings, ["every token issued before was revoked: log in again"]);
      assert.deepEqual(await snapshot(db), before);
      // The execution history (reset, restore) survived both.
      const history = await json<{ items: { kind: string }[] }>(
        await t.call("GET", "/api/v1/seeders/", await rootToken(t)),
      );
      assert.deepEqual(history.items.map((i) => i.kind).slice(0, 2), ["restore", "reset"]);
    } finally {
      await t.s3.close();
    }
  },
);

dbTest(
  "seeders http: with S3 down, seeding continues with a warning unless a backup is required",
  async (db) => {
    const t = await setup(db, { S3_ENDPOINT: "http://127.0.0.1:9" });
    try {
      const res = await t.call("POST", "/api/v1/seeders/execute", t.tokens.root, { create_backup: true });
      assert.equal(res.status, 200);
      const body = await json<{ backup_created: boolean; warnings: string[] }>(res);
      assert.equal(body.backup_created, false);
      assert.match(body.warnings[0], /backup failed: S3 is unreachable at http:\/\/127\.0\.0\.1:9/);
      const strict = await t.call("POST", "/api/v1/seeders/execute", t.tokens.root, { require_backup: true });
      // S3 down is an unavailable dependency: 503 with Retry-After, not a server error (issue 17).
      assert.equal(strict.status, 503);
      assert.equal(strict.headers.get("Retry-After"), "5");
      assert.equal((await json<{ code: string }>(strict)).code, "STORAGE_UNAVAILABLE");
    } finally {
      await t.s3.close();
    }
  },
);
