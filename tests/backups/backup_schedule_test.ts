/**
 * BACKUP_SCHEDULE across two replicas on one database, driven by a fake clock: each slot is backed up
 * exactly once (catalog, scheduled_runs, metrics), retention runs after each, missed slots are reported
 * once, a failing backup does not stop the schedule.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { testApp, testConfig } from "../helpers/app.ts";
import { FakeClock } from "../helpers/fake_clock.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { openDatabase } from "../../src/db/client.ts";
import type { Database } from "../../src/db/client.ts";
import { silentLogger } from "../../src/log.ts";
import { BackupScheduler, scheduledRuns } from "../../src/backups/backup_schedule.ts";
import { nextRuns, parseSchedule } from "../../src/backups/cron.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import type { BackupRecord } from "../../src/backups/catalog.ts";

const T0 = Date.parse("2026-12-02T00:30:00Z");
const HOUR = 3_600_000;
const scalar = async (m: Metrics, name: string, labels: string) =>
  Number(
    (await m.registry.metrics()).split("\n").find((l) => l.startsWith(`${name}{${labels}}`))?.split(" ")
      .pop() ??
      0,
  );

dbTest(
  "schedule: two replicas, each slot backed up exactly once, retention after each, missed slots reported once",
  async (db, ctx) => {
    const s3 = await startTestS3();
    const db2 = await openDatabase(ctx.url, { maxConnections: 2 });
    try {
      const env = { ...s3.env, BACKUP_RETENTION_COUNT: "2" };
      const a = await testApp(db, { env });
      const b = await testApp(db2, { env });
      const clock = new FakeClock(T0);
      const metrics = [
        new Metrics({}, { defaultMetrics: false }),
        new Metrics({}, { defaultMetrics: false }),
      ];
      const make = (d: Database, backups: typeof a.deps.backups, i: number) =>
        new BackupScheduler({
          db: d,
          backups,
          logger: silentLogger,
          metrics: metrics[i],
          expression: "0 * * * *",
          clock,
          replica: `replica-${i}`,
        });
      let replicas = [make(db, a.deps.backups, 0), make(db2, b.deps.backups, 1)];
      const settle = () => Promise.all(replicas.map((r) => r.idle())).then(() => {});
      for (const r of replicas) await r.start();

      await clock.advanceTo(T0 + 3 * HOUR, settle); // 01:00, 02:00, 03:00
      let runs = await scheduledRuns(db);
      assert.deepEqual(
        runs.map((r) => [r.scheduledAt.toISOString(), r.status]).reverse(),
        [
          ["2026-12-02T01:00:00.000Z", "succeeded"],
          ["2026-12-02T02:00:00.000Z", "succeeded"],
          ["2026-12-02T03:00:00.000Z", "succeeded"],
        ],
      );
      // In the catalog (kind scheduled), each run's backup; retention (count 2) ran after each.
      const catalog = await a.deps.backups.list({ limit: 50, offset: 0 });
      const scheduled = catalog.items.filter((r) => r.kind === "scheduled");
      assert.equal(scheduled.length, 3);
      assert.deepEqual(new Set(runs.map((r) => r.backupId)), new Set(scheduled.map((r) => r.id)));
      assert.equal(scheduled.filter((r) => r.status === "completed").length, 2);
      assert.equal(scheduled.filter((r) => r.status === "pruned").length, 1);
      // Metrics: three successes and three skips between the two replicas.
      const sum = async (outcome: string) =>
        (await scalar(metrics[0], "seedbed_scheduled_backups_total", `outcome="${outcome}"`)) +
        (await scalar(metrics[1], "seedbed_scheduled_backups_total", `outcome="${outcome}"`));
      assert.equal(await sum("succeeded"), 3);
      assert.equal(await sum("skipped"), 3);

      // Both replicas down from 03:30 to 07:30: four slots pass. The first back reports them, once.
      for (const r of replicas) await r.stop();
      clock.current = T0 + 7 * HOUR;
      replicas = [make(db, a.deps.backups, 0), make(db2, b.deps.backups, 1)];
      await Promise.all(replicas.map((r) => r.start()));
      runs = await scheduledRuns(db);
      assert.equal(runs[0].status, "missed");
      assert.equal(runs[0].scheduledAt.toISOString(), "2026-12-02T07:00:00.000Z");
      assert.match(runs[0].errorMessage!, /4 slots missed, from 2026-12-02T04:00:00.000Z/);
      assert.equal(await sum("missed"), 4);
      // And the schedule goes on at 08:00.
      await clock.advanceTo(T0 + 8 * HOUR, settle);
      runs = await scheduledRuns(db);
      assert.equal(runs[0].scheduledAt.toISOString(), "2026-12-02T08:00:00.000Z");
      assert.equal(runs[0].status, "succeeded");
      for (const r of replicas) await r.stop();
    } finally {
      await db2.close();
      await s3.close();
    }
  },
  { needsServer: true },
);

dbTest("schedule: a failing backup is recorded and counted, and the next slot still runs", async (db) => {
  const clock = new FakeClock(T0);
  const metrics = new Metrics({}, { defaultMetrics: false });
  let fail = true;
  let id = 0;
  const scheduler = new BackupScheduler({
    db,
    backups: {
      create: () => {
        if (fail) return Promise.reject(new Error("S3 is unreachable"));
        return Promise.resolve({ id: ++id, s3Key: `k${id}` } as BackupRecord);
      },
    },
    logger: silentLogger,
    metrics,
    expression: "0 * * * *",
    clock,
  });
  await scheduler.start();
  await clock.advanceTo(T0 + HOUR, () => scheduler.idle());
  fail = false;
  await clock.advanceTo(T0 + 2 * HOUR, () => scheduler.idle());
  const runs = (await scheduledRuns(db)).reverse();
  assert.deepEqual(runs.map((r) => r.status), ["failed", "succeeded"]);
  assert.match(runs[0].errorMessage!, /S3 is unreachable/);
  assert.equal(await scalar(metrics, "seedbed_scheduled_backups_total", 'outcome="failed"'), 1);
  await scheduler.stop();
});

dbTest("invariant: however many replicas and slots, each slot is run exactly once", async (db, ctx) => {
  const handles = [
    db,
    await openDatabase(ctx.url, { maxConnections: 2 }),
    await openDatabase(ctx.url, { maxConnections: 2 }),
  ];
  try {
    let base = T0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 1, max: 4 }), async (n, hours) => {
        base += 24 * HOUR; // a fresh day for every case: slots never collide across cases
        const clock = new FakeClock(base);
        let creates = 0;
        const replicas = handles.slice(0, n).map((d, i) =>
          new BackupScheduler({
            db: d,
            backups: { create: () => Promise.resolve({ id: ++creates, s3Key: "k" } as BackupRecord) },
            logger: silentLogger,
            expression: "0 * * * *",
            clock,
            replica: `r${i}`,
          })
        );
        for (const r of replicas) await r.start();
        await clock.advanceTo(
          base + hours * HOUR,
          () => Promise.all(replicas.map((r) => r.idle())).then(() => {}),
        );
        for (const r of replicas) await r.stop();
        const rows = (await scheduledRuns(db, 1000)).filter((r) =>
          r.scheduledAt.getTime() > base && r.scheduledAt.getTime() <= base + hours * HOUR
        );
        assert.equal(creates, hours, `${n} replicas, ${hours} slots: backups taken`);
        assert.equal(rows.length, hours);
        assert.ok(rows.every((r) => r.status === "succeeded"));
      }),
      { numRuns: 8 },
    );
  } finally {
    for (const h of handles.slice(1)) await h.close();
  }
});

Deno.test("schedule: cron expressions are checked with a clear message; next runs", () => {
  assert.deepEqual(
    nextRuns("0 3 * * *", new Date("2026-12-02T04:00:00Z"), 2).map((d) => d.toISOString()),
    ["2026-12-03T03:00:00.000Z", "2026-12-04T03:00:00.000Z"],
  );
  assert.deepEqual(
    nextRuns("0 3 * * *", new Date("2026-12-02T00:00:00Z"), 1, "Europe/Berlin").map((d) => d.toISOString()),
    ["2026-12-02T02:00:00.000Z"],
  );
  assert.throws(() => parseSchedule("0 25 * * *"), /"0 25 \* \* \*" is not a cron expression .*hour/);
  assert.throws(
    () => testConfig({ BACKUP_SCHEDULE: "every day" }),
    /BACKUP_SCHEDULE: "every day" is not a cron expression/,
  );
  assert.throws(
    () => testConfig({ BACKUP_SCHEDULE: "0 3 * * *", BACKUP_SCHEDULE_TIMEZONE: "Mars/Base" }),
    /BACKUP_SCHEDULE_TIMEZONE: time zone "Mars\/Base" is not an IANA time zone/,
  );
  assert.equal(testConfig({ BACKUP_SCHEDULE: "0 3 * * *" }).backups.schedule, "0 3 * * *");
});
