/** SeedingService: the response shape, backups through the port, reset, restore and the history. */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { AppError } from "../../src/errors.ts";
import { dbTest } from "../helpers/db.ts";
import { FakeBackupPort, permissionSeeder, rowCount, service } from "./helpers.ts";

dbTest(
  "service: the response is seed 002's shape plus execution_id and warnings; the record matches",
  async (db) => {
    const port = new FakeBackupPort();
    const svc = service(db, { backupPort: port });
    const r = await svc.execute({ triggeredBy: "user:7", triggeredByUserId: 7 });
    assert.deepEqual(Object.keys(r).sort(), [
      "backup_created",
      "backup_s3_key",
      "execution_id",
      "results",
      "success",
      "warnings",
    ]);
    assert.equal(r.success, true);
    assert.equal(r.backup_created, true);
    assert.equal(r.backup_s3_key, `database-backups/20250115_120000_execution_${r.execution_id}.json.gz`);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(Object.keys(r.results), ["seeders", "total"]);
    assert.deepEqual(Object.keys(r.results.seeders.PermissionsSeeder), [
      "status",
      "created",
      "updated",
      "deleted",
    ]);
    const sum = Object.values(r.results.seeders).reduce((a, s) => a + s.created, 0);
    assert.equal(r.results.total.created, sum);
    assert.deepEqual(port.backups, [{
      executionId: r.execution_id,
      kind: "execution",
      triggeredBy: "user:7",
    }]);

    const rec = await svc.getExecution(r.execution_id);
    assert.equal(rec.status, "completed");
    assert.equal(rec.kind, "execute");
    assert.equal(rec.triggered_by, "user:7");
    assert.equal(rec.triggered_by_user_id, 7);
    assert.equal(rec.environment, "test");
    assert.equal(rec.total_created, r.results.total.created);
    assert.equal(rec.backup_s3_key, r.backup_s3_key);
    assert.ok(rec.backup_created);
    assert.ok(rec.duration_ms! >= 0 && rec.started_at! <= rec.finished_at!);
    const stored = rec.results as Record<string, unknown>;
    assert.deepEqual(stored.seeders, r.results.seeders);
    assert.deepEqual(stored.order, Object.keys(r.results.seeders));
    assert.deepEqual(Object.keys(stored.timings_ms as object).sort(), Object.keys(r.results.seeders).sort());
  },
);

dbTest("service: a failed backup gives a warning and seeding continues", async (db) => {
  const port = new FakeBackupPort();
  port.fail = new AppError("STORAGE_UNAVAILABLE", "S3 is unreachable at http://localhost:9");
  const r = await service(db, { backupPort: port, seeders: [permissionSeeder("A")] })
    .execute({ triggeredBy: "t" });
  assert.equal(r.backup_created, false);
  assert.equal(r.backup_s3_key, null);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /backup failed: S3 is unreachable at http:\/\/localhost:9; seeding continued/);
  assert.equal(r.results.total.created, 1);
  const rec = await service(db).getExecution(r.execution_id);
  assert.deepEqual(rec.warnings, r.warnings);
});

dbTest("service: with require_backup a failed backup fails the execution before seeding", async (db) => {
  const port = new FakeBackupPort();
  port.fail = new Error("bucket missing");
  const svc = service(db, { backupPort: port, seeders: [permissionSeeder("A")] });
  const err = await svc.execute({ triggeredBy: "t", requireBackup: true }).catch((e) => e);
  assert.equal(err.code, "BACKUP_FAILED");
  assert.match(err.message, /backup failed: bucket missing; nothing was seeded/);
  assert.equal(await rowCount(db, db.t.permissions), 0);
  const rec = await svc.getExecution(err.extra.run_execution_id);
  assert.equal(rec.status, "failed");
  assert.match(rec.error_message!, /bucket missing/);
});

dbTest(
  "service: a reset whose backup fails wipes nothing, in development too, unless told to",
  async (db) => {
    const port = new FakeBackupPort();
    const svc = service(db, { backupPort: port, seeders: [permissionSeeder("A")] });
    await svc.execute({ triggeredBy: "t", createBackup: false });
    await db.db.insert(db.t.organizations).values({ name: "Keep", slug: "keep" });
    port.fail = new AppError("STORAGE_UNAVAILABLE", "S3 is unreachable at http://localhost:9");
    const err = await svc.reset({ triggeredBy: "t", env: "development" }).catch((e) => e);
    // S3 being down is a 503 with Retry-After, as everywhere (not a 500 BACKUP_FAILED).
    assert.equal(err.code, "STORAGE_UNAVAILABLE");
    assert.equal(err.status, 503);
    assert.match(err.message, /S3 is unreachable/);
    assert.equal(await rowCount(db, db.t.organizations), 1);
    assert.equal((await svc.getExecution(err.extra.run_execution_id)).status, "failed");
    // Opting out explicitly: the wipe proceeds with a warning.
    const forced = await svc.reset({ triggeredBy: "t", env: "development", requireBackup: false });
    assert.match(forced.warnings[0], /backup failed/);
    assert.equal(await rowCount(db, db.t.organizations), 0);
  },
);

dbTest("service: no backup storage configured counts as a failed backup", async (db) => {
  const svc = service(db, { seeders: [permissionSeeder("A")] });
  const r = await svc.execute({ triggeredBy: "t" });
  assert.equal(r.backup_created, false);
  assert.match(r.warnings[0], /no backup storage is configured/);
  const err = await svc.execute({ triggeredBy: "t", requireBackup: true }).catch((e) => e);
  assert.equal(err.code, "BACKUP_FAILED");
  const quiet = await svc.execute({ triggeredBy: "t", createBackup: false });
  assert.deepEqual(quiet.warnings, []);
});

dbTest(
  "service: reset backs up, empties the application tables, reseeds, and keeps the history",
  async (db) => {
    const port = new FakeBackupPort();
    const svc = service(db, { backupPort: port });
    const first = await svc.execute({ triggeredBy: "t" });
    const t = db.t;
    const [org] = await db.db.select().from(t.organizations).where(eq(t.organizations.slug, "test-corp"));
    const [owner] = await db.db.select().from(t.users).where(eq(t.users.email, "admin@testcorp.com"));
    await db.db.insert(t.crmLeads).values({
      organizationId: org.id,
      ownerId: owner.id,
      name: "Hand-made lead",
    });
    await db.db.insert(t.users).values({ email: "extra@x.com", passwordHash: "x", role: "admin" });
    await db.db.insert(t.auditLogs).values({ event: "test.kept" });
    const leadsBefore = await rowCount(db, t.crmLeads);

    const r = await svc.reset({ triggeredBy: "cli:ops" });
    assert.equal(r.backup_created, true);
    assert.equal(port.backups.at(-1)!.kind, "reset");
    assert.ok(r.tables_cleared!.includes("users") && r.tables_cleared!.includes("crm_leads"));
    for (
      const kept of ["seeder_executions", "backups", "audit_logs", "seeding_locks", "seedbed_migrations"]
    ) {
      assert.ok(!r.tables_cleared!.includes(kept), kept);
    }
    assert.deepEqual(r.results.total, first.results.total, "everything was created again");
    assert.equal(await rowCount(db, t.crmLeads), leadsBefore - 1);
    assert.equal((await db.db.select().from(t.users).where(eq(t.users.email, "extra@x.com"))).length, 0);
    assert.equal(await rowCount(db, t.auditLogs) >= 1, true);
    const [again] = await db.db.select().from(t.organizations).where(eq(t.organizations.slug, "test-corp"));
    assert.equal(again.id, 1, "identities restart");
    const history = await svc.listExecutions(0, 10);
    assert.deepEqual(history.items.map((e) => e.kind), ["reset", "execute"]);
    assert.equal(history.items[1].id, first.execution_id);
  },
);

dbTest("service: a failing reset leaves the data as it was", async (db) => {
  const boom = permissionSeeder("Boom", { seed: () => Promise.reject(new Error("nope")) });
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  const users = await rowCount(db, db.t.users);
  const err = await service(db, { seeders: [boom] }).reset({ triggeredBy: "t", createBackup: false }).catch((
    e,
  ) => e);
  assert.equal(err.code, "SEEDING_FAILED");
  assert.equal(await rowCount(db, db.t.users), users, "the wipe was rolled back with the seeders");
});

dbTest("service: restore goes through the port, under the lock, as a recorded execution", async (db) => {
  const none = await service(db).restore({ triggeredBy: "t" }).catch((e) => e);
  assert.equal(none.code, "NOT_IMPLEMENTED");
  assert.equal(none.status, 501);
  assert.match(none.message, /no backup storage is configured/);

  const port = new FakeBackupPort();
  const svc = service(db, { backupPort: port });
  const both = await svc.restore({ triggeredBy: "t", s3Key: "k", executionId: 1 }).catch((e) => e);
  assert.equal(both.code, "VALIDATION_ERROR");

  const out = await svc.restore({
    triggeredBy: "user:1",
    triggeredByUserId: 1,
    s3Key: "database-backups/x.json.gz",
  });
  assert.equal(out.restored_from, "database-backups/x.json.gz");
  const call = port.restores[0];
  assert.deepEqual(
    [call.s3Key, call.executionId, call.triggeredBy, call.triggeredByUserId],
    ["database-backups/x.json.gz", undefined, "user:1", 1],
  );
  const rec = await svc.getExecution(out.execution_id);
  assert.equal(rec.kind, "restore");
  assert.equal(rec.status, "completed");
  assert.equal(rec.backup_s3_key, "database-backups/safety.json.gz");

  port.fail = new AppError("NOT_FOUND", "backup for execution 42 not found");
  const err = await svc.restore({ triggeredBy: "t", executionId: 42 }).catch((e) => e);
  assert.equal(err.code, "NOT_FOUND");
  assert.equal((await svc.getExecution(err.extra.run_execution_id)).status, "failed");
});

dbTest("service: history pages newest first; unknown ids and bad paging are named", async (db) => {
  const svc = service(db, { seeders: [permissionSeeder("A")] });
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await svc.execute({ triggeredBy: `t${i}`, createBackup: false })).execution_id);
  }
  const page = await svc.listExecutions(1, 1);
  assert.equal(page.total, 3);
  assert.deepEqual(page.items.map((e) => e.id), [ids[1]]);
  assert.equal((await svc.listExecutions()).items[0].id, ids[2]);
  await assert.rejects(svc.getExecution(999), /seeder execution 999 not found/);
  await assert.rejects(svc.listExecutions(-1, 5), /skip must be a non-negative integer, got -1/);
  await assert.rejects(svc.listExecutions(0, 0), /limit must be an integer between 1 and 500, got 0/);
  await assert.rejects(
    svc.execute({ triggeredBy: "t", scale: -2 }),
    /scale must be an integer between 0 and/,
  );
});
