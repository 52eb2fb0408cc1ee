/** The seeding lock: in process, across handles ("replicas"), stale leases, and Postgres's advisory lock. */
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { postgresLiveness } from "../../src/db/liveness.ts";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";
import { peekLock } from "../../src/seeding/lock.ts";
import type { SeederDefinition } from "../../src/seeding/types.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { FakeBackupPort, gate, permissionSeeder, rowCount, service } from "./helpers.ts";

/** A seeder that signals it is inside the transaction, then waits for the gate. */
function held(g: ReturnType<typeof gate>): SeederDefinition {
  return permissionSeeder("Held", {
    async seed(ctx) {
      await ctx.getOrCreate(ctx.t.permissions, { name: "held.read" }, { module: "held", action: "read" });
      g.entered();
      await g.opened;
      return ctx.stats;
    },
  });
}

function assertInProgress(err: unknown, executionId?: number) {
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, "SEEDING_IN_PROGRESS");
  assert.equal(err.status, 409);
  assert.match(err.message, /^a seeding run is already in progress \(execution \d+\)$/);
  if (executionId !== undefined) {
    assert.equal(err.message, `a seeding run is already in progress (execution ${executionId})`);
  }
}

dbTest(
  "lock: two concurrent runs in one process — one proceeds, the other is refused naming it",
  async (db) => {
    const g = gate();
    const first = service(db, { seeders: [held(g)] }).execute({ triggeredBy: "cli:a", createBackup: false });
    await g.reached;
    const err = await service(db, { seeders: [held(gate())] }).execute({
      triggeredBy: "cli:b",
      createBackup: false,
    })
      .catch((e) => e);
    g.open();
    const r = await first;
    assertInProgress(err, r.execution_id);
    assert.equal(r.results.total.created, 1);
    const history = await service(db).listExecutions(0, 10);
    assert.equal(history.total, 1, "the refused run leaves no execution record");
    assert.equal(await rowCount(db, db.t.seedingLocks), 0, "the lease was released");
  },
);

dbTest(
  "lock: a second database handle on the same database (another replica) is refused at once",
  async (db, { url }) => {
    const replica = await openDatabase(url, { maxConnections: 2 });
    try {
      const g = gate();
      const first = service(db, { seeders: [held(g)] }).execute({
        triggeredBy: "cli:a",
        createBackup: false,
      });
      await g.reached;
      // The first run is parked inside its transaction: a refusal here proves nobody waited for it.
      const err = await service(replica, { seeders: [held(gate())] })
        .execute({ triggeredBy: "cli:b", createBackup: false }).catch((e) => e);
      const restore = await service(replica, { backupPort: new FakeBackupPort() }).restore({
        triggeredBy: "cli:b",
      })
        .catch((e) => e);
      g.open();
      const r = await first;
      assertInProgress(err, r.execution_id);
      assertInProgress(restore, r.execution_id);
      // Once released, the replica runs normally.
      const again = await service(replica, { seeders: [permissionSeeder("Other")] })
        .execute({ triggeredBy: "cli:b", createBackup: false });
      assert.equal(again.results.total.created, 1);
    } finally {
      await replica.close();
    }
  },
  // Needs a Postgres server two clients can reach (PGlite is in-process, one client).
  { only: POSTGRES_IS_SERVER ? undefined : ["libsql"] },
);

/** An execution left `running` by a holder that is gone, as a crash leaves it. */
async function orphanRun(db: Database, holder: string) {
  const svc = service(db);
  const orphan = await svc.executions.create({
    kind: "restore",
    triggeredBy: "user:1",
    environment: "test",
    dryRun: false,
    options: {},
  });
  await svc.executions.markRunning(orphan.id);
  const now = Date.now();
  await db.db.insert(db.t.seedingLocks).values({
    name: "seeding",
    executionId: orphan.id,
    holder,
    acquiredAt: new Date(now),
    // A long lease: only liveness can say that its holder is gone.
    expiresAt: new Date(now + 10 * 60_000),
  });
  return orphan.id;
}

dbTest(
  "lock: a lease row whose holder holds no liveness lock is replaced at once, and its run marked failed",
  async (db) => {
    const orphan = await orphanRun(db, "other-host:4242:user:1");
    assert.equal(await peekLock(db), null, "a dead holder's row is not a run in progress");
    const svc = service(db, { seeders: [permissionSeeder("A")] });
    const r = await svc.execute({ triggeredBy: "t", createBackup: false });
    assert.equal(r.results.total.created, 1);
    const old = await svc.getExecution(orphan);
    assert.equal(old.status, "failed");
    assert.match(
      old.error_message!,
      /^abandoned: the process that held the seeding lock \(other-host:4242\)/,
    );
    assert.ok(old.finished_at);
    assert.equal(await rowCount(db, db.t.seedingLocks), 0);
  },
  { needsServer: true },
);

dbTest(
  "lock: the history shows a dead holder's run failed without waiting for another run",
  async (db) => {
    const orphan = await orphanRun(db, "other-host:4242:user:1");
    const svc = service(db);
    const list = await svc.listExecutions(0, 10);
    assert.equal(list.items[0].id, orphan);
    assert.equal(list.items[0].status, "failed");
    assert.match(list.items[0].error_message!, /^abandoned: /);
  },
  { needsServer: true },
);

dbTest(
  "lock: a live holder (another handle holding the liveness lock) blocks; once it lets go, the lock is free",
  async (db, { url }) => {
    const replica = await openDatabase(url, { maxConnections: 1 });
    try {
      assert.ok(replica.liveness, "both dialects prove liveness here");
      const orphan = await orphanRun(db, "other-host:4242:user:1");
      const live = await replica.liveness.tryAcquire("seeding");
      assert.ok(live);
      const svc = service(db, { seeders: [permissionSeeder("A")] });
      assertInProgress(await svc.execute({ triggeredBy: "t", createBackup: false }).catch((e) => e), orphan);
      assert.equal((await svc.getExecution(orphan)).status, "running", "a live run is never marked failed");
      assert.equal((await peekLock(db))?.executionId, orphan);
      await live.release();
      const r = await svc.execute({ triggeredBy: "t", createBackup: false });
      assert.equal(r.results.total.created, 1);
      assert.equal((await svc.getExecution(orphan)).status, "failed");
    } finally {
      await replica.close();
    }
  },
  { only: POSTGRES_IS_SERVER ? undefined : ["libsql"] },
);

dbTest(
  "lock: without liveness (remote libSQL), a live lease blocks; an expired one is taken over and its run failed",
  async (full) => {
    const db: Database = { ...full, liveness: null };
    const orphan = await orphanRun(db, "crashed-host:1234:cli:ghost");
    const svc = service(db, { seeders: [permissionSeeder("A")] });
    assertInProgress(await svc.execute({ triggeredBy: "t", createBackup: false }).catch((e) => e), orphan);
    assert.equal((await svc.getExecution(orphan)).status, "running", "not judged while its lease runs");

    await db.db.update(db.t.seedingLocks).set({ expiresAt: new Date(Date.now() - 1_000) });
    const r = await svc.execute({ triggeredBy: "t", createBackup: false });
    assert.equal(r.results.total.created, 1);
    assert.equal(await rowCount(db, db.t.seedingLocks), 0);
    assert.equal(await peekLock(db), null);
    const old = await svc.getExecution(orphan);
    assert.equal(old.status, "failed");
    assert.match(
      old.error_message!,
      /^abandoned: the process that held the seeding lock \(crashed-host:1234\)/,
    );
  },
);

dbTest(
  "lock: Postgres's advisory lock refuses a run even when no lease is visible",
  async (db, { url }) => {
    const other = await openDatabase(url, { maxConnections: 1 });
    try {
      const g = gate();
      const holder = other.transaction(async (tx) => {
        await other.run(sql`SELECT pg_advisory_xact_lock(hashtext(${"seedbed:seed:" + db.namespace}))`, tx);
        g.entered();
        await g.opened;
      });
      await g.reached;
      const err = await service(db, { seeders: [permissionSeeder("A")] })
        .execute({ triggeredBy: "t", createBackup: false }).catch((e) => e);
      g.open();
      await holder;
      assert.equal(err.code, "SEEDING_IN_PROGRESS");
      assert.match(err.message, /advisory lock/);
      assert.equal(await rowCount(db, db.t.permissions), 0);
      const rec = await service(db).getExecution(err.extra.run_execution_id);
      assert.equal(rec.status, "failed");
    } finally {
      await other.close();
    }
  },
  { only: ["postgres"], ignore: !POSTGRES_IS_SERVER },
);

dbTest(
  "lock: the lease is renewed while a long run lasts",
  async (db) => {
    const g = gate();
    const run = service(db, { seeders: [held(g)], leaseMs: 150 }).execute({
      triggeredBy: "t",
      createBackup: false,
    });
    await g.reached;
    await new Promise((r) => setTimeout(r, 500));
    const lease = await peekLock(db);
    g.open();
    const r = await run;
    assert.ok(lease, "the lease is still live after three lease lengths");
    assert.equal(lease.executionId, r.execution_id);
  },
  { only: ["postgres"], ignore: !POSTGRES_IS_SERVER },
);

dbTest(
  "lock: a released liveness session has closed its connection when release() returns",
  async (db, { url }) => {
    // postgres.js's end({ timeout: 0 }) answered before the socket closed, leaving the connection's
    // max_lifetime timer set after every release (Deno's sanitizer caught it in whichever test ran it).
    const sockets: net.Socket[] = [];
    const liveness = postgresLiveness(
      "lock-test",
      (text) => db.rows(sql.raw(text)),
      () =>
        postgres(url, {
          max: 1,
          onnotice: () => {},
          socket: ({ host, port }: { host: string[]; port: number[] }) => {
            const s = net.connect(port[0], host[0]);
            sockets.push(s);
            return s;
          },
        } as never) as never,
    );
    for (let i = 0; i < 5; i++) {
      const held = await liveness.tryAcquire(`released-${i}`);
      assert.ok(held);
      assert.ok(await held.check());
      await held.release();
      assert.deepEqual(sockets.map((s) => s.destroyed), sockets.map(() => true), `round ${i}`);
    }
  },
  { only: ["postgres"], needsServer: true },
);

dbTest(
  "lock: a liveness session outlives postgres.js's connection lifetime (the lock is never dropped mid-run)",
  async (_db, { url }) => {
    // postgres.js ends every connection after max_lifetime (30-60 min by default), the lock session's too:
    // a longer run lost its advisory lock to the next holder. PGMAX_LIFETIME=1 (postgres.js reads it where
    // the option is not given) shortens that to 1 s, in a process of its own.
    const client = new URL("../../src/db/client.ts", import.meta.url).href;
    const script = `
      const { openDatabase } = await import(${JSON.stringify(client)});
      const [a, b] = [await openDatabase(Deno.args[0]), await openDatabase(Deno.args[0])];
      const held = await a.liveness.tryAcquire("lifetime");
      await new Promise((r) => setTimeout(r, 2500));
      const other = await b.liveness.tryAcquire("lifetime");
      console.log(JSON.stringify({ held: Boolean(held), stillMine: await held.check(), otherGot: Boolean(other) }));
      await other?.release();
      await held.release();
      await a.close();
      await b.close();`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", script, url],
      env: { PGMAX_LIFETIME: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text.split("\n").at(-1)!), { held: true, stillMine: true, otherGot: false });
  },
  { only: ["postgres"], needsServer: true },
);
