/** The runner: one transaction, rollback on failure, dry run, helper counting, log events. */
import assert from "node:assert/strict";
import { inArray, sql } from "drizzle-orm";
import { AppError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log.ts";
import type { SeederDefinition } from "../../src/seeding/types.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { permissionSeeder, rowCount, service } from "./helpers.ts";

const boom = (name: string, dependsOn: string[]): SeederDefinition => ({
  name,
  description: "throws",
  dependsOn,
  environments: ["test"],
  seed: () => Promise.reject(new Error("kaboom")),
});

dbTest(
  "engine: a failing seeder rolls every seeder back and leaves a failed execution with its stack trace",
  async (db) => {
    const logger = memoryLogger();
    const reg = [
      permissionSeeder("First"),
      boom("Boom", ["First"]),
      permissionSeeder("After", { dependsOn: ["Boom"] }),
    ];
    const svc = service(db, { seeders: reg, logger });
    const err = await svc.execute({ triggeredBy: "cli:tester", createBackup: false }).catch((e) => e);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "SEEDING_FAILED");
    assert.equal(err.status, 500);
    assert.match(err.message, /Boom failed: kaboom/);
    const id = err.extra?.run_execution_id as number;
    assert.equal(typeof id, "number");

    assert.equal(await rowCount(db, db.t.permissions), 0, "First's row was rolled back");
    const rec = await svc.getExecution(id);
    assert.equal(rec.status, "failed");
    assert.match(rec.error_message!, /^Boom failed: kaboom$/);
    assert.match(rec.error_traceback!, /Error: kaboom\n\s+at /);
    assert.ok(rec.started_at && rec.finished_at && rec.duration_ms! >= 0);
    const seeders = (rec.results as { seeders: Record<string, { status: string; created: number }> }).seeders;
    assert.deepEqual(
      Object.fromEntries(Object.entries(seeders).map(([k, v]) => [k, v.status])),
      { First: "rolled_back", Boom: "failed", After: "skipped" },
    );
    assert.equal(seeders.First.created, 1);

    const events = logger.records.filter((r) => String(r.event).startsWith("seeder_"));
    assert.deepEqual(events.map((e) => `${e.event}:${e.seeder}`), [
      "seeder_started:First",
      "seeder_completed:First",
      "seeder_started:Boom",
      "seeder_failed:Boom",
    ]);
    assert.ok(events.every((e) => e.execution_id === id));
    assert.equal(events[1].created, 1);
    assert.equal(typeof events[1].duration_ms, "number");
    assert.equal(events[3].error, "kaboom");

    // The lock was released: the next run proceeds.
    const ok = await service(db, { seeders: [permissionSeeder("First")] }).execute({
      triggeredBy: "cli:tester",
      createBackup: false,
    });
    assert.equal(ok.results.total.created, 1);
  },
);

dbTest(
  "engine: a cycle or an unknown dependency fails before any seeder runs, and is recorded",
  async (db) => {
    const logger = memoryLogger();
    const cyc = [
      permissionSeeder("A"),
      permissionSeeder("B", { dependsOn: ["C"] }),
      permissionSeeder("C", { dependsOn: ["B"] }),
    ];
    const err = await service(db, { seeders: cyc, logger }).execute({ triggeredBy: "t", createBackup: false })
      .catch((e) => e);
    assert.equal(err.code, "SEEDING_FAILED");
    assert.match(err.message, /dependency cycle between seeders: B → C → B/);
    const unk = [permissionSeeder("A"), permissionSeeder("B", { dependsOn: ["Ghost"] })];
    const err2 = await service(db, { seeders: unk, logger }).execute({
      triggeredBy: "t",
      createBackup: false,
    })
      .catch((e) => e);
    assert.match(err2.message, /seeder B depends on unknown seeder "Ghost"/);

    assert.equal(await rowCount(db, db.t.permissions), 0, "seeder A never ran");
    assert.equal(logger.records.filter((r) => r.event === "seeder_started").length, 0);
    const svc = service(db);
    for (const e of [err, err2]) {
      const rec = await svc.getExecution(e.extra.run_execution_id);
      assert.equal(rec.status, "failed");
      assert.equal(rec.error_message, e.message.replace(/^seeding failed \(execution \d+\): /, ""));
    }
  },
);

dbTest("engine: a dry run reports what it would do and leaves nothing behind", async (db) => {
  const svc = service(db);
  const dry = await svc.execute({ triggeredBy: "cli:tester", dryRun: true });
  assert.equal(dry.dry_run, true);
  assert.equal(dry.backup_created, false);
  assert.ok(dry.results.total.created > 200);
  for (const t of [db.t.permissions, db.t.roles, db.t.users, db.t.organizations, db.t.crmLeads]) {
    assert.equal(await rowCount(db, t), 0);
  }
  const rec = await svc.getExecution(dry.execution_id);
  assert.equal(rec.kind, "dry_run");
  assert.equal(rec.dry_run, true);
  assert.equal(rec.status, "completed");
  // The real run does exactly what the dry run predicted.
  const real = await svc.execute({ triggeredBy: "cli:tester", createBackup: false });
  assert.deepEqual(real.results, dry.results);
});

dbTest("engine: helpers count created, updated, unchanged and deleted rows correctly", async (db) => {
  const t = db.t.permissions;
  await db.db.insert(t).values([
    { name: "p1", module: "m", action: "a" },
    { name: "p2", module: "m", action: "a" },
    { name: "keep", module: "m", action: "a", description: "same" },
    { name: "change", module: "m", action: "a", description: "old" },
  ]);
  const seen: Record<string, unknown> = {};
  const helperSeeder: SeederDefinition = {
    name: "Helpers",
    description: "exercises the context helpers",
    environments: ["test"],
    async seed(ctx) {
      seen.created = (await ctx.upsert(t, { name: "new" }, { module: "m", action: "a" })).status;
      seen.unchanged = (await ctx.upsert(t, { name: "keep" }, { description: "same" })).status;
      seen.updated = (await ctx.upsert(t, { name: "change" }, { description: "new" })).status;
      seen.goc = (await ctx.getOrCreate(t, { name: "p1" }, { module: "x", action: "y" })).created;
      let lazyCalls = 0;
      await ctx.getOrCreate(t, { name: "p2" }, () => (lazyCalls++, { module: "x", action: "y" }));
      seen.lazyCalls = lazyCalls;
      seen.bulk = await ctx.bulkInsert(
        t,
        ["p1", "p2", "b1", "b2", "b3"].map((name) => ({ name, module: "bulk", action: "a" })),
        { batchSize: 2 },
      );
      seen.removed = await ctx.remove(t, inArray(t.name, ["b3", "absent"]));
      seen.many = await ctx.upsertMany(t, "name", [
        { name: "keep", module: "m", action: "a", description: "same" },
        { name: "p1", module: "m", action: "a", description: "now described" },
        { name: "m1", module: "many", action: "a" },
        { name: "m2", module: "many", action: "a" },
      ]);
      return ctx.stats;
    },
  };
  const r = await service(db, { seeders: [helperSeeder] }).execute({ triggeredBy: "t", createBackup: false });
  assert.deepEqual(seen, {
    created: "created",
    unchanged: "unchanged",
    updated: "updated",
    goc: false,
    lazyCalls: 0,
    bulk: 3,
    removed: 1,
    many: { created: 2, updated: 1, unchanged: 1 },
  });
  assert.deepEqual(r.results.seeders.Helpers, { status: "completed", created: 6, updated: 2, deleted: 1 });
  const [row] = await db.db.select().from(t).where(inArray(t.name, ["change"]));
  assert.equal(row.description, "new");
});

dbTest("engine: a seeder returning a malformed result fails with a clear message", async (db) => {
  const bad: SeederDefinition = {
    name: "Sloppy",
    description: "returns nonsense",
    environments: ["test"],
    seed: () => Promise.resolve({ created: -1, updated: 0, deleted: 0 }),
  };
  const err = await service(db, { seeders: [bad] }).execute({ triggeredBy: "t", createBackup: false }).catch((
    e,
  ) => e);
  assert.match(
    err.message,
    /Sloppy\.seed\(\) must return \{created, updated, deleted\} as non-negative integers/,
  );
});

dbTest(
  "engine: a database connection that dies mid-run leaves a failed record and no partial data",
  async (db) => {
    const dies: SeederDefinition = {
      name: "ConnectionKiller",
      description: "terminates its own backend",
      dependsOn: ["First"],
      environments: ["test"],
      async seed(ctx) {
        const [{ pid }] = await db.rows<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`, ctx.tx);
        // Another session kills this transaction's connection, as a failover or restart would.
        await db.run(sql`SELECT pg_terminate_backend(${pid})`);
        await new Promise((r) => setTimeout(r, 100));
        await db.run(sql`SELECT 1`, ctx.tx);
        return ctx.stats;
      },
    };
    const svc = service(db, { seeders: [permissionSeeder("First"), dies] });
    const err = await svc.execute({ triggeredBy: "t", createBackup: false }).catch((e) => e);
    assert.ok(err instanceof AppError, String(err));
    const rec = await svc.getExecution(err.extra!.run_execution_id as number);
    assert.equal(rec.status, "failed");
    assert.match(rec.error_message!, /ConnectionKiller failed: /);
    assert.equal(await rowCount(db, db.t.permissions), 0);
  },
  // The run fails as the driver drops the dead transaction, with the seeder's 100 ms pause still pending.
  { only: ["postgres"], ignore: !POSTGRES_IS_SERVER, sanitize: false },
);
