/**
 * Lease freshness (src/access/lease.ts) on both databases: a replica answers
 * at its applied version while the lease holds and reads again when it lapses;
 * a writer waits for every live replica, for a dead one until its lease runs
 * out, and not for one that has left.
 */
import assert from "node:assert/strict";
import { eq, sql } from "drizzle-orm";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";
import { memoryLogger, silentLogger } from "../../src/log.ts";
import { awaitReplicas, LeaseReplica, type Probe, probeLease } from "../../src/access/lease.ts";
import { openDatabase } from "../../src/db/client.ts";
import { dbNowMs } from "../../src/db/time.ts";
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
  const now = dbNowMs(db);
  const t0 = performance.now();
  await db.run(sql`INSERT INTO access_replicas (id, applied_version, lease_until_ms) VALUES
    ('up-to-date', ${version}, ${now} + 60000),
    ('lapsed', -1, ${now} - 1000),
    ('silent', -1, ${now} + 600)`);
  const r = await awaitReplicas(db, silentLogger);
  const waited = performance.now() - t0;
  assert.deepEqual(r.waitedFor, ["silent"], "only the live replica behind the version is waited for");
  assert.ok(!r.failed);
  assert.ok(waited >= 550, `waited ${Math.round(waited)} ms for a lease of 600 ms`);
  assert.ok(waited < 5000, `and not much longer: ${Math.round(waited)} ms`);
  // Nothing behind now: no wait.
  assert.deepEqual((await awaitReplicas(db)).waitedFor, []);
});

dbTest(
  "lease: a replica whose polls fail stops trusting its caches when the lease lapses on its clock, then resumes",
  async (db) => {
    // The replica's own clock is the subject: a fake one, moved by hand; polls are stepped by hand too.
    let now = 1_000;
    let failing = false;
    const applied: number[] = [];
    const replica = new LeaseReplica(
      db,
      (v) => applied.push(v),
      { leaseMs: 60_000, pollMs: 600_000, now: () => now },
      silentLogger,
      (id) => failing ? Promise.reject(new Error("database unreachable")) : probeLease(db, id),
    );
    await replica.start(); // renewal sent at 1 000: trusted for 90 % of the lease, until 55 000
    try {
      const v = await readSecurityVersion(db);
      assert.equal(replica.version(), v);
      assert.deepEqual(applied, [v]);
      failing = true;
      now = 20_000;
      await replica.pollNow(); // fails: nothing renewed
      now = 54_999;
      assert.equal(replica.version(), v, "trusted until 90 % of the lease after the renewal was sent");
      now = 55_000;
      assert.equal(replica.version(), undefined, "lapsed: callers read the version themselves");
      now = 200_000;
      assert.equal(replica.version(), undefined);
      failing = false;
      // The database answers again; its own clock has hardly moved, so the row is live and is renewed.
      await replica.pollNow();
      assert.equal(replica.version(), v, "a successful poll brings the lease back");
      now = 200_000 + 53_999;
      assert.equal(replica.version(), v, "counted from this renewal");
      now = 200_000 + 54_000;
      assert.equal(replica.version(), undefined);
      assert.deepEqual(applied, [v], "the version had not moved: nothing applied again");
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

dbTest(
  "lease: a replica whose lease lapsed never renews trust in a version read before a write passed it by",
  async (db) => {
    // The race a review found: B's lease lapses; B's poll reads v0; A commits v1 and, B's row being
    // lapsed, returns at once; B's renewal then lands. B must not answer at v0 after that.
    // B's clock is a fake one and its polls are stepped by hand; the lapse in the database is written
    // into B's row (the database's clock decides, as always, in A's wait and B's renewal).
    const w = await createWorld(db);
    const a = await testApp(db);
    const b = await testApp(db);
    let now = 1_000;
    let hold = false;
    let probed!: () => void;
    const probedP = new Promise<void>((r) => (probed = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const probe = async (id: string): Promise<Probe> => {
      const p = await probeLease(db, id);
      if (hold) {
        hold = false;
        probed();
        await released; // the poll's reply is delayed past the write
      }
      return p;
    };
    const leaseMs = 60_000;
    const lease = new LeaseReplica(
      db,
      (v) => b.deps.access.cache.apply(v),
      { leaseMs, pollMs: 600_000, now: () => now },
      silentLogger,
      probe,
    );
    b.deps.access.cache.lease = lease;
    await lease.start();
    try {
      const v0 = await readSecurityVersion(db);
      const root = await login(a.app, "root@platform.test");
      const manager = await login(b.app, "manager@acme.test");
      const leads = async () =>
        (await b.app.request("/api/v1/crm/leads", { headers: bearer(manager) })).status;
      assert.equal(await leads(), 200);
      assert.equal(lease.version(), v0);
      // B's lease lapses, on its clock and in the database.
      now += leaseMs;
      await db.run(
        sql`UPDATE access_replicas SET lease_until_ms = ${dbNowMs(db)} - 1 WHERE id = ${lease.id}`,
      );
      assert.equal(lease.version(), undefined);
      hold = true;
      const polled = lease.pollNow();
      await probedP; // B's poll has read v0
      const res = await a.app.request(`/api/v1/organizations/${w.acme.id}/entitlements`, {
        method: "PATCH",
        headers: { ...bearer(root), "content-type": "application/json" },
        body: JSON.stringify({ enabled_modules: { crm: false } }),
      });
      assert.equal(res.status, 200); // returned without waiting: B's row had lapsed
      release();
      await polled; // B's renewal goes out, and is refused
      assert.equal(lease.version(), undefined, "no trust in v0 after the write");
      assert.equal(await leads(), 403, "no stale allow on B once the change has returned");
      // And B comes back under a lease at the new version (registered again, then a fresh read).
      await lease.pollNow();
      assert.equal(lease.version(), await readSecurityVersion(db));
      assert.notEqual(lease.version(), v0);
    } finally {
      await lease.stop();
    }
  },
);

dbTest(
  "lease: a writer that cannot check the replicas waits one lease instead of failing",
  async (_db, { url }) => {
    const closed = await openDatabase(url, { maxConnections: 1 });
    await closed.close();
    const t0 = performance.now();
    const r = await awaitReplicas(closed, silentLogger, { fallbackMs: 300 });
    assert.ok(r.failed);
    assert.ok(performance.now() - t0 >= 280);
  },
  { only: ["libsql", ...(POSTGRES_IS_SERVER ? ["postgres" as const] : [])] },
);

dbTest(
  "lease: a replica stopped and started again takes a new lease; rows of long-dead replicas are swept",
  async (db) => {
    const now = dbNowMs(db);
    await db.run(sql`INSERT INTO access_replicas (id, applied_version, lease_until_ms) VALUES
    ('killed-long-ago', 1, ${now} - 120000), ('killed-just-now', 1, ${now} - 1000)`);
    const replica = new LeaseReplica(db, () => {}, { leaseMs: 60_000, pollMs: 10_000 }, silentLogger);
    await replica.start();
    assert.deepEqual(
      (await rowsOf(db)).map((r) => r.id).filter((id) => id.startsWith("killed")),
      ["killed-just-now"],
      "dead for over a minute: swept",
    );
    await db.run(sql`DELETE FROM access_replicas WHERE id = 'killed-just-now'`);
    await replica.stop();
    assert.equal(replica.version(), undefined);
    assert.deepEqual(await rowsOf(db), []);
    await replica.start();
    try {
      assert.equal(replica.version(), await readSecurityVersion(db));
      assert.equal((await rowsOf(db)).length, 1);
    } finally {
      await replica.stop();
    }
  },
);

dbTest(
  "lease: an outage of its polls is logged once at its start and once at its end, both at warn",
  async (db) => {
    const logs = memoryLogger();
    let down = false;
    const replica = new LeaseReplica(
      db,
      () => {},
      { leaseMs: 60_000, pollMs: 10_000 },
      logs,
      (id) => down ? Promise.reject(new Error("the database is unreachable")) : probeLease(db, id),
    );
    await replica.start();
    try {
      down = true;
      await replica.pollNow();
      await replica.pollNow(); // still down: said once
      down = false;
      await replica.pollNow();
      const events = logs.records.filter((r) => String(r.event).startsWith("access_lease_"));
      assert.deepEqual(events.map((r) => [r.event, r.level]), [
        ["access_lease_poll_failed", "warn"],
        ["access_lease_resumed", "warn"],
      ]);
    } finally {
      await replica.stop();
    }
  },
);
