/**
 * Cache invalidation across replicas: two app instances, each with its own
 * connection and its own caches, over one database. A change committed
 * through one (or straight in SQL, as a seeder or restore would) takes effect
 * on the other's very next request.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { dbTest, type DbTestOptions, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createRole, createUser, createWorld, login } from "../helpers/fixtures.ts";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { awaitReplicas } from "../../src/access/lease.ts";
import { readSecurityVersion, VersionGate } from "../../src/access/version.ts";

/**
 * The scenario, run under both freshness modes. `settle` is what a writer outside the services does
 * after a change in SQL (seeding, reset and restore do it): nothing in `read` mode, waiting for the
 * lease replicas in `lease` mode.
 */
async function replicaScenario(
  db: Database,
  url: string,
  env: Record<string, string>,
  settle: () => Promise<unknown>,
) {
  const w = await createWorld(db);
  const role = await createRole(db, {
    name: "reader",
    organizationId: w.acme.id,
    permissions: ["crm.read"],
  });
  await createUser(db, {
    email: "r@acme.test",
    role: "reader",
    roleId: role.id,
    organizationId: w.acme.id,
  });
  const a = await testApp(db, { env });
  const dbB = await openDatabase(url, { maxConnections: 2 });
  const b = await testApp(dbB, { env });
  try {
    await a.deps.access.startLease();
    await b.deps.access.startLease();
    const root = await login(a.app, "root@platform.test");
    const admin = await login(a.app, "admin@acme.test");
    const reader = await login(b.app, "r@acme.test");
    const manager = await login(b.app, "manager@acme.test");
    const send = (method: string, token: string, body?: unknown) => ({
      method,
      headers: { ...bearer(token), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const onB = async (token: string, path = "/api/v1/crm/leads") =>
      (await b.app.request(path, { headers: bearer(token) })).status;

    // Warm B's caches; repeated requests then load nothing from the database.
    assert.equal(await onB(reader), 200);
    const loads = b.deps.access.cache.loads;
    const reads = b.deps.access.cache.gate.reads;
    for (let i = 0; i < 5; i++) assert.equal(await onB(reader), 200);
    assert.equal(b.deps.access.cache.loads, loads, "a warm cache serves repeated requests without loading");
    if (env.ACCESS_FRESHNESS === "lease") {
      assert.equal(b.deps.access.cache.gate.reads, reads, "under a lease, requests read no version");
    }

    // 1. Permission removed on A → B refuses at once.
    let res = await a.app.request(
      `/api/v1/roles/${role.id}/permissions`,
      send("DELETE", admin, { permissions: ["crm.read"] }),
    );
    assert.equal(res.status, 200);
    assert.equal(await onB(reader), 403);
    // ... and granted again.
    await a.app.request(
      `/api/v1/roles/${role.id}/permissions`,
      send("POST", admin, { permissions: ["crm.read"] }),
    );
    assert.equal(await onB(reader), 200);

    // 2. Manager's modules (user_modules) changed straight in SQL, as a seeder would.
    assert.equal(await onB(manager), 200);
    await db.db.delete(db.t.userModules).where(eq(db.t.userModules.userId, w.manager.id));
    await settle();
    assert.equal(await onB(manager), 403);

    // 3. Tier change on A → B denies the module.
    await a.app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { enabled_modules: { crm: false } }),
    );
    assert.equal(await onB(reader), 403);
    await a.app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { enabled_modules: { crm: null } }),
    );
    assert.equal(await onB(reader), 200);

    // 4. User deactivated on A → B refuses his token (401).
    const [r] = await db.db.select().from(db.t.users).where(eq(db.t.users.email, "r@acme.test"));
    await a.app.request(`/api/v1/users/${r.id}/deactivate`, send("POST", admin));
    assert.equal(await onB(reader), 401);

    // 5. Role deleted in SQL (a restore or reset does this): the user's grants vanish on B.
    const v = await readSecurityVersion(db);
    await db.db.update(db.t.users).set({ isActive: true }).where(eq(db.t.users.id, r.id));
    await db.db.delete(db.t.roles).where(eq(db.t.roles.id, role.id));
    assert.ok(await readSecurityVersion(db) > v, "triggers bump the version in the writing transaction");
    await settle();
    assert.equal(await onB(reader), 403);

    // 6. Password changed on B refuses the old token on A.
    const oldOnA = await login(a.app, "manager@acme.test");
    res = await b.app.request(
      "/api/v1/auth/password/change",
      send("POST", manager, {
        current_password: "Fixture-Passw0rd!",
        new_password: "Another-Strong-Pass1",
      }),
    );
    assert.equal(res.status, 200);
    assert.equal((await a.app.request("/api/v1/auth/me", { headers: bearer(oldOnA) })).status, 401);
    assert.equal(
      (await json(
        await a.app.request("/api/v1/auth/me", {
          headers: bearer((await json(res)).access_token as string),
        }),
      )).email,
      "manager@acme.test",
    );
  } finally {
    await a.deps.access.stopLease();
    await b.deps.access.stopLease();
    await dbB.close();
  }
}

// A second replica needs a database another handle can reach: a file, or a Postgres server
// (an embedded PGlite is private to its handle).
const REPLICA_DIALECTS: DbTestOptions = { only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] };

dbTest(
  "replicas (ACCESS_FRESHNESS=read): role, permission, module, tier and user-status changes apply on the next request everywhere",
  (db, { url }) => replicaScenario(db, url, {}, () => Promise.resolve()),
  REPLICA_DIALECTS,
);

dbTest(
  "replicas (ACCESS_FRESHNESS=lease): the same changes apply on the next request everywhere",
  // Polls far apart, so that a change returning before the other replica applied it would be caught.
  (db, { url }) =>
    replicaScenario(
      db,
      url,
      { ACCESS_FRESHNESS: "lease", ACCESS_POLL_MS: "250", ACCESS_LEASE_MS: "5000" },
      () => awaitReplicas(db),
    ),
  REPLICA_DIALECTS,
);

dbTest(
  "version gate: concurrent requests share version reads, each read starting after the request",
  async (db) => {
    await createWorld(db);
    const { app, deps } = await testApp(db);
    const token = await login(app, "admin@acme.test");
    const before = deps.access.cache.gate.reads;
    const n = 40;
    const statuses = await Promise.all(
      Array.from(
        { length: n },
        async () => (await app.request("/api/v1/crm/leads?limit=1", { headers: bearer(token) })).status,
      ),
    );
    assert.ok(statuses.every((s) => s === 200));
    const reads = deps.access.cache.gate.reads - before;
    assert.ok(reads >= 1 && reads < n, `${reads} version reads for ${n} concurrent requests`);
  },
);

Deno.test("version gate: a caller never receives a read that started before it arrived; one read in flight at a time", async () => {
  let version = 1;
  const pending: (() => void)[] = [];
  const started: number[] = [];
  const gate = new VersionGate(() => {
    started.push(version);
    const seen = version;
    return new Promise<number>((resolve) => pending.push(() => resolve(seen)));
  });
  const tick = () => new Promise((r) => setTimeout(r, 1));
  const first = gate.current();
  const sameTurn = gate.current(); // arrives before read #1 starts: shares it
  await tick();
  assert.deepEqual(started, [1], "one read for both callers of that turn");
  version = 2; // a change commits while read #1 is in flight
  const second = gate.current(); // must not get read #1: it waits for a read that starts after now
  await tick();
  const third = gate.current(); // read #2 has not started yet: shares it
  await tick();
  assert.deepEqual(started, [1], "read #2 waits until read #1 is done (one in flight)");
  pending.shift()!();
  assert.equal(await first, 1);
  assert.equal(await sameTurn, 1);
  await tick();
  assert.deepEqual(started, [1, 2], "read #2 started once #1 was done, after the change");
  const fourth = gate.current(); // #2 is in flight: gets #3
  pending.shift()!();
  assert.equal(await second, 2);
  assert.equal(await third, 2);
  await tick();
  assert.deepEqual(started, [1, 2, 2]);
  pending.shift()!();
  assert.equal(await fourth, 2);
  assert.equal(gate.reads, 3);

  // A failed read fails its callers only; the next read goes ahead.
  let calls = 0;
  const failing = new VersionGate(() =>
    ++calls === 1 ? Promise.reject(new Error("down")) : Promise.resolve(7)
  );
  await assert.rejects(failing.current(), /down/);
  assert.equal(await failing.current(), 7);
});

Deno.test("version gate: a read that never answers holds the next one back for stallMs only", async () => {
  let calls = 0;
  const gate = new VersionGate(() => ++calls === 1 ? new Promise<number>(() => {}) : Promise.resolve(9), 30);
  const stuck = gate.current();
  await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  assert.equal(await gate.current(), 9, "the next read went ahead");
  assert.ok(performance.now() - t0 >= 20, "after waiting for the one in flight a while");
  assert.equal(calls, 2);
  void stuck; // never settles, by construction
});
