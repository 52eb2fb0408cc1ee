/**
 * Lease freshness (src/access/lease.ts) on both databases: a replica answers
 * at its applied version while the lease holds and reads again when it lapses;
 * a writer waits for every live replica, for a dead one until its lease runs
 * out, and not for one that has left.
 */
import assert from "node:assert/strict";
import { eq, sql } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";
import { silentLogger } from "../../src/log.ts";
import { awaitReplicas, LeaseReplica, probeLease } from "../../src/access/lease.ts";
import { readSecurityVersion } from "../../src/access/version.ts";

const LEASE = { ACCESS_FRESHNESS: "lease", ACCESS_POLL_MS: "10000", ACCESS_LEASE_MS: "60000" };

const rowsOf = (db: Database) =>
  db.rows<{ id: string; applied_version: number | string }>(
    sql`SELECT id, applied_version FROM access_replicas ORDER BY id`,
  );

dbTest(
  "lease: answers at the applied version while it holds; a change in raw SQL applies at the next poll",
  async (db) => {
    const w = await createWorld(db);
    // Polls 10 s apart: the test steps the replica by hand.
    const { app, deps } = await testApp(db, { env: LEASE });
    const lease = deps.access.cache.lease!;
    await deps.access.startLease();
    try {
      assert.equal(
        lease.version(),
        await readSecurityVersion(db),
        "the first poll took a lease at the current version",
      );
      const rows = await rowsOf(db);
      assert.deepEqual(rows.map((r) => [r.id, Number(r.applied_version)]), [[lease.id, lease.version()]]);

      const token = await login(app, "manager@acme.test");
      const leads = async () => (await app.request("/api/v1/crm/leads", { headers: bearer(token) })).status;
      assert.equal(await leads(), 200);
      const reads = deps.access.cache.gate.reads;

      // Outside Seedbed nobody waits: the replica still answers at its version (the documented window) ...
      await db.db.delete(db.t.userModules).where(eq(db.t.userModules.userId, w.manager.id));
      assert.equal(await leads(), 200);
      assert.equal(deps.access.cache.gate.reads, reads, "no version read under the lease");
      // ... until its next poll applies the new version.
      await lease.pollNow();
      assert.equal(lease.version(), await readSecurityVersion(db));
      assert.equal(await leads(), 403);
      assert.equal(lease.acks, 2);
    } finally {
      await deps.access.stopLease();
    }
    assert.deepEqual(await rowsOf(db), [], "a stopped replica leaves the table");
    assert.equal(lease.version(), undefined, "and trusts nothing any more");
  },
);

dbTest(
  "lease: a change made through the API returns only once the other replica has applied it",
  async (db) => {
    const w = await createWorld(db);
    const a = await testApp(db); // the writer: ACCESS_FRESHNESS=read, no lease of its own
    const b = await testApp(db, { env: { ...LEASE, ACCESS_POLL_MS: "200" } });
    await b.deps.access.startLease();
    try {
      const lease = b.deps.access.cache.lease!;
      const acks = lease.acks;
      const root = await login(a.app, "root@platform.test");
      const res = await a.app.request(`/api/v1/organizations/${w.acme.id}/entitlements`, {
        method: "PATCH",
        headers: { ...bearer(root), "content-type": "application/json" },
        body: JSON.stringify({ enabled_modules: { crm: false } }),
      });
      assert.equal(res.status, 200);
      assert.equal(
        lease.version(),
        await readSecurityVersion(db),
        "B had applied the change when A answered",
      );
      assert.equal(lease.acks, acks + 1);
    } finally {
      await b.deps.access.stopLease();
    }
  },
);

dbTest("lease: a writer waits for a silent replica until its lease has run out, and names it", async (db) => {
  const version = await readSecurityVersion(db);
  await db.run(sql`INSERT INTO access_replicas (id, applied_version, lease_until_ms) VALUES
    ('up-to-date', ${version}, ${Date.now() + 60_000}),
    ('lapsed', -1, ${Date.now() - 1000}),
    ('silent', -1, ${Date.now() + 400})`);
  const t0 = performance.now();
  const r = await awaitReplicas(db, silentLogger);
  const waited = performance.now() - t0;
  assert.deepEqual(r.waitedFor, ["silent"], "only the live replica behind the version is waited for");
  assert.ok(waited >= 250, `waited ${Math.round(waited)} ms for a lease of about 400 ms`);
  // Nothing behind now: no wait.
  assert.deepEqual((await awaitReplicas(db)).waitedFor, []);
});

dbTest(
  "lease: a replica whose polls fail stops trusting its caches when the lease lapses, then resumes",
  async (db) => {
    let failing = false;
    const applied: number[] = [];
    const replica = new LeaseReplica(
      db,
      (v) => applied.push(v),
      { leaseMs: 300, pollMs: 20 },
      silentLogger,
      (id) => failing ? Promise.reject(new Error("database unreachable")) : probeLease(db, id),
    );
    await replica.start();
    try {
      const v = await readSecurityVersion(db);
      assert.equal(replica.version(), v);
      assert.deepEqual(applied, [v]);
      failing = true;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(replica.version(), undefined, "lapsed: callers read the version themselves");
      failing = false;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(replica.version(), v, "a successful poll renews the lease");
    } finally {
      await replica.stop();
    }
  },
);

dbTest("lease: a replica whose row has gone registers again before it trusts anything", async (db) => {
  const replica = new LeaseReplica(db, () => {}, { leaseMs: 60_000, pollMs: 10_000 }, silentLogger);
  await replica.start();
  try {
    const v = await readSecurityVersion(db);
    assert.equal(replica.version(), v);
    await db.run(sql`DELETE FROM access_replicas`); // as after a long outage
    await replica.pollNow();
    assert.equal(replica.version(), undefined, "no lease without a row");
    await replica.pollNow();
    assert.equal(replica.version(), v);
    assert.deepEqual((await rowsOf(db)).map((r) => [r.id, Number(r.applied_version)]), [[replica.id, v]]);
  } finally {
    await replica.stop();
  }
});
