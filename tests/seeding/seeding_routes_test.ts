/** Seed 002's seeder endpoints over real HTTP: permissions, shapes, 409 / 500 / 501, paths as the seed writes them. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { createApp } from "../../src/app.ts";
import type { Database } from "../../src/db/client.ts";
import { buildDeps } from "../../src/deps.ts";
import { silentLogger } from "../../src/log.ts";
import type { SeedingService } from "../../src/seeding/seeding_service.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { openDatabase } from "../../src/db/client.ts";
import { json, testConfig } from "../helpers/app.ts";
import { FakeBackupPort, gate, permissionSeeder, service } from "./helpers.ts";

async function setup(db: Database, o: { port?: FakeBackupPort; seeding?: SeedingService } = {}) {
  await service(db).execute({ triggeredBy: "test", createBackup: false });
  const deps = await buildDeps({ config: testConfig(), db, logger: silentLogger, backupPort: o.port });
  if (o.seeding) deps.seeding = o.seeding;
  const app = createApp(deps);
  const login = async (email: string, password: string) => {
    const res = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(res.status, 200, `login ${email}`);
    return `Bearer ${(await json<{ access_token: string }>(res)).access_token}`;
  };
  const superToken = await login("admin@foodfleet.com", "SuperAdmin@123");
  const call = (
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    app.request(path, {
      method,
      headers: {
        ...(token ? { Authorization: token } : {}),
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, deps, login, superToken, call };
}

dbTest("seeders http: the seed's execute call answers the seed's response, with a backup", async (db) => {
  const port = new FakeBackupPort();
  const { call, superToken, deps } = await setup(db, { port });
  const res = await call("POST", "/api/v1/seeders/execute", superToken, { create_backup: true });
  assert.equal(res.status, 200);
  const body = await json<Record<string, unknown>>(res);
  assert.equal(body.success, true);
  assert.equal(body.backup_created, true);
  assert.match(String(body.backup_s3_key), /^database-backups\/\d{8}_\d{6}_execution_\d+\.json\.gz$/);
  const results = body.results as { seeders: Record<string, unknown>; total: Record<string, number> };
  assert.deepEqual(results.seeders.PermissionsSeeder, {
    status: "completed",
    created: 0,
    updated: 0,
    deleted: 0,
  });
  assert.deepEqual(results.total, { created: 0, updated: 0, deleted: 0 });
  assert.deepEqual(body.warnings, []);

  const [sa] = await db.db.select().from(db.t.users).where(eq(db.t.users.email, "admin@foodfleet.com"));
  const rec = await call("GET", `/api/v1/seeders/${body.execution_id}`, superToken);
  assert.equal(rec.status, 200);
  const r = await json<Record<string, unknown>>(rec);
  assert.equal(r.triggered_by, `user:${sa.id}`);
  assert.equal(r.triggered_by_user_id, sa.id);
  assert.equal(r.status, "completed");
  const audit = await deps.audit.list({ event: "seeders.execute" });
  assert.equal(audit[0].actorUserId, sa.id);
  assert.equal(audit[0].details.execution_id, body.execution_id);
});

dbTest(
  "seeders http: curl without a body or content type works; bad bodies are 422 naming the field",
  async (db) => {
    const { call, superToken } = await setup(db);
    const bare = await call("POST", "/api/v1/seeders/execute", superToken);
    assert.equal(bare.status, 200);
    const warned = await json<{ warnings: string[]; backup_created: boolean }>(bare);
    assert.equal(warned.backup_created, false);
    assert.match(warned.warnings[0], /no backup storage is configured/);
    const curlD = await superCall(call, superToken, '{"create_backup": false}');
    assert.equal(curlD.status, 200);
    assert.deepEqual((await json<{ warnings: string[] }>(curlD)).warnings, []);

    const bad = await call("POST", "/api/v1/seeders/execute", superToken, { create_backup: "yes" });
    assert.equal(bad.status, 422);
    assert.match((await json<{ detail: string }>(bad)).detail, /create_backup/);
    const extra = await call("POST", "/api/v1/seeders/execute", superToken, { create_bakup: true });
    assert.equal(extra.status, 422);
    const unknown = await call("POST", "/api/v1/seeders/execute", superToken, { only: ["NoSuchSeeder"] });
    assert.equal(unknown.status, 422);
    const u = await json<{ detail: string; execution_id?: number }>(unknown);
    assert.match(u.detail, /unknown seeder "NoSuchSeeder"/);
    assert.equal(u.execution_id, undefined, "bad input is refused before a run is recorded");
  },
);

/** `curl -d '…'` without -H "Content-Type": sent as form-urlencoded. */
function superCall(call: Awaited<ReturnType<typeof setup>>["call"], token: string, raw: string) {
  return call("POST", "/api/v1/seeders/execute", token, raw, {
    "Content-Type": "application/x-www-form-urlencoded",
  });
}

dbTest(
  "seeders http: history at /api/v1/seeders/ (and without the slash), one execution, 404",
  async (db) => {
    const { call, superToken } = await setup(db);
    for (const path of ["/api/v1/seeders/?skip=0&limit=50", "/api/v1/seeders?limit=1", "/api/v1/seeders/"]) {
      const res = await call("GET", path, superToken);
      assert.equal(res.status, 200, path);
      const body = await json<{ items: { id: number; status: string }[]; total: number }>(res);
      assert.equal(body.total, 1);
      assert.equal(body.items[0].status, "completed");
    }
    const one = await call("GET", "/api/v1/seeders/1", superToken);
    assert.equal(one.status, 200);
    assert.equal((await json<{ id: number }>(one)).id, 1);
    const missing = await call("GET", "/api/v1/seeders/999", superToken);
    assert.equal(missing.status, 404);
    assert.match((await json<{ detail: string }>(missing)).detail, /seeder execution 999 not found/);
    const badPage = await call("GET", "/api/v1/seeders/?limit=0", superToken);
    assert.equal(badPage.status, 422);
  },
);

dbTest("seeders http: only the super admin may touch seeders; everyone else is 401 or 403", async (db) => {
  const { call, login } = await setup(db);
  const routes: [string, string, unknown?][] = [
    ["POST", "/api/v1/seeders/execute", {}],
    ["POST", "/api/v1/seeders/reset", {}],
    ["POST", "/api/v1/seeders/restore", {}],
    ["GET", "/api/v1/seeders/"],
    ["GET", "/api/v1/seeders/1"],
  ];
  for (const [method, path, body] of routes) {
    assert.equal((await call(method, path, null, body)).status, 401, `${method} ${path} without a token`);
    assert.equal((await call(method, path, "Bearer not.a.token", body)).status, 401);
  }
  for (const email of ["admin@testcorp.com", "manager@testcorp.com", "executive@testcorp.com"]) {
    const token = await login(email, "password123");
    for (const [method, path, body] of routes) {
      const res = await call(method, path, token, body);
      assert.equal(res.status, 403, `${email}: ${method} ${path}`);
    }
  }
  const history = await service(db).listExecutions();
  assert.equal(history.total, 1, "no refused call started a run");
});

dbTest(
  "seeders http: a run in progress answers 409; a failed run 500 with run_execution_id and a recorded error",
  async (db, { url }) => {
    // The run holds handle 1; the HTTP calls arrive on another replica (handle 2). On one libSQL
    // handle a request would simply queue behind the run's transaction instead.
    const replica = await openDatabase(url, { maxConnections: 4 });
    try {
      const boom = permissionSeeder("Boom", { seed: () => Promise.reject(new Error("seeder exploded")) });
      const { call, superToken } = await setup(replica, { seeding: service(replica, { seeders: [boom] }) });
      const g = gate();
      const held = permissionSeeder("Held", {
        async seed(ctx) {
          g.entered();
          await g.opened;
          return ctx.stats;
        },
      });
      const first = service(db, { seeders: [held] }).execute({ triggeredBy: "cli:ops", createBackup: false });
      await g.reached;
      const second = await call("POST", "/api/v1/seeders/execute", superToken, { create_backup: false });
      const reset = await call("POST", "/api/v1/seeders/reset", superToken, { create_backup: false });
      g.open();
      const done = await first;
      for (const res of [second, reset]) {
        assert.equal(res.status, 409);
        const body = await json<{ code: string; detail: string }>(res);
        assert.equal(body.code, "SEEDING_IN_PROGRESS");
        assert.equal(body.detail, `a seeding run is already in progress (execution ${done.execution_id})`);
      }

      const failed = await call("POST", "/api/v1/seeders/execute", superToken, { create_backup: false });
      assert.equal(failed.status, 500);
      const fb = await json<
        { code: string; detail: string; run_execution_id: number; execution_id?: number }
      >(
        failed,
      );
      assert.equal(fb.execution_id, undefined, "execution_id is the restore request's field, not the run's");
      assert.equal(fb.code, "SEEDING_FAILED");
      assert.match(fb.detail, /Boom failed: seeder exploded/);
      const rec = await json<{ status: string; error_message: string; error_traceback: string }>(
        await call("GET", `/api/v1/seeders/${fb.run_execution_id}`, superToken),
      );
      assert.equal(rec.status, "failed");
      assert.equal(rec.error_message, "Boom failed: seeder exploded");
      assert.match(rec.error_traceback, /seeder exploded\n\s+at /);
    } finally {
      await replica.close();
    }
  },
  // Two clients of one database: a libSQL file, or a Postgres server (PGlite is one in-process client).
  { only: POSTGRES_IS_SERVER ? undefined : ["libsql"] },
);

dbTest(
  "seeders http: restore answers 501 without backup storage, and restores through the port with it",
  async (db) => {
    const none = await setup(db);
    const res = await none.call("POST", "/api/v1/seeders/restore", none.superToken, {});
    assert.equal(res.status, 501);
    const body = await json<{ code: string; detail: string }>(res);
    assert.equal(body.code, "NOT_IMPLEMENTED");
    assert.match(body.detail, /no backup storage is configured/);

    const port = new FakeBackupPort();
    const { call, superToken } = await setup(db, { port });
    for (
      const [payload, expect] of [
        [{}, "database-backups/latest.json.gz"],
        [
          { s3_key: "database-backups/20250115_120000_execution_5.json.gz" },
          "database-backups/20250115_120000_execution_5.json.gz",
        ],
        [{ execution_id: 5 }, "database-backups/latest.json.gz"],
      ] as const
    ) {
      const r = await call("POST", "/api/v1/seeders/restore", superToken, payload);
      assert.equal(r.status, 200);
      const out = await json<{ restored_from: string; execution_id: number }>(r);
      assert.equal(out.restored_from, expect);
    }
    assert.equal(port.restores[2].executionId, 5);
    const both = await call("POST", "/api/v1/seeders/restore", superToken, { s3_key: "k", execution_id: 5 });
    assert.equal(both.status, 422);
  },
);

dbTest("seeders http: reset through the API keeps the history", async (db) => {
  const port = new FakeBackupPort();
  const { call, superToken } = await setup(db, { port });
  const res = await call("POST", "/api/v1/seeders/reset", superToken);
  assert.equal(res.status, 200);
  const body = await json<
    { backup_created: boolean; tables_cleared: string[]; results: { total: { created: number } } }
  >(res);
  assert.equal(body.backup_created, true);
  assert.ok(body.tables_cleared.includes("users"));
  assert.ok(body.results.total.created > 200);
  assert.equal(port.backups[0].kind, "reset");
  const list = await service(db).listExecutions();
  assert.deepEqual(list.items.map((e) => e.kind), ["reset", "execute"]);
});
