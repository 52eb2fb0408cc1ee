/** Retention: BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS prune after a successful backup, never the last good one. */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import fc from "fast-check";
import { backupFixture, insertSampleData } from "./fixtures.ts";
import { selectPrunable } from "../../src/backups/retention.ts";

const DAY = 86_400_000;

dbTest("retention: by count, the oldest go (object deleted, catalog row pruned)", async (db) => {
  const f = await backupFixture(db, { retention: { retentionCount: 2 } });
  try {
    await insertSampleData(db);
    const made = [];
    for (let i = 0; i < 4; i++) made.push(await f.service.create({ kind: "manual", createdBy: "t" }));
    const all = (await f.service.list({ limit: 10, offset: 0 })).items;
    const status = Object.fromEntries(all.map((r) => [r.id, r.status]));
    assert.deepEqual(made.map((m) => status[m.id]), ["pruned", "pruned", "completed", "completed"]);
    assert.equal(await f.s3.store.head(made[0].s3Key), null);
    assert.equal(await f.s3.store.head(made[1].s3Key), null);
    assert.ok(await f.s3.store.head(made[3].s3Key));
    const pruned = f.logger.records.filter((r) => r.event === "backup_pruned");
    assert.deepEqual(pruned.map((r) => r.s3_key), [made[0].s3Key, made[1].s3Key]);
  } finally {
    await f.close();
  }
});

dbTest(
  "retention: by age, but the newest good backup always stays; failed backups prune nothing",
  async (db) => {
    let now = new Date(Date.now() - 30 * DAY);
    const f = await backupFixture(db, { retention: { retentionDays: 7 }, now: () => now });
    try {
      const old1 = await f.service.create({ kind: "manual", createdBy: "t" });
      now = new Date(Date.now() - 20 * DAY);
      const old2 = await f.service.create({ kind: "manual", createdBy: "t" });
      // old1 is 10 days older than old2 and older than 7 days: pruned; old2 is the newest good one: kept.
      assert.equal((await f.service.get(old1.id)).status, "pruned");
      assert.equal((await f.service.get(old2.id)).status, "completed");
      now = new Date();
      assert.deepEqual(await f.service.prune(), [], "the last good backup is never pruned, however old");

      // A failed backup prunes nothing (nothing new is good), though old2 is 20 days old.
      const broken = await backupFixture(db, { retention: { retentionDays: 7 } });
      await broken.s3.close(); // its server is gone: the next backup fails
      await assert.rejects(broken.service.create({ kind: "manual", createdBy: "t" }));
      assert.equal((await f.service.get(old2.id)).status, "completed");

      const fresh = await f.service.create({ kind: "manual", createdBy: "t" });
      assert.equal((await f.service.get(old2.id)).status, "pruned");
      assert.equal((await f.service.get(fresh.id)).status, "completed");
    } finally {
      await f.close();
    }
  },
);

dbTest("retention: a restore's safety backup does not prune the backup being restored", async (db) => {
  const f = await backupFixture(db, { retention: { retentionCount: 1 } });
  try {
    await insertSampleData(db);
    const b = await f.service.create({ kind: "manual", createdBy: "t" });
    const r = await f.service.restore({ s3Key: b.s3Key, triggeredBy: "t" });
    assert.equal(r.restored_from, b.s3Key);
    // After the restore, retention keeps only the newest (the safety backup).
    assert.equal((await f.service.get(b.id)).status, "pruned");
    const safety = (await f.service.list({ limit: 10, offset: 0, kind: "safety" })).items[0];
    assert.equal(safety.status, "completed");
    assert.equal(safety.s3Key, r.safety_backup_s3_key);
  } finally {
    await f.close();
  }
});

Deno.test("retention rule (pure): never the newest; keeps the newest N and the young; random catalogs", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 60 * DAY }), { maxLength: 30 }),
      fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
      (ages, retentionCount, retentionDays) => {
        const now = new Date(Date.UTC(2026, 0, 1));
        const newestFirst = [...ages].sort((a, b) => a - b).map((age, i) => ({
          id: i + 1,
          s3Key: `k${i}`,
          createdAt: new Date(now.getTime() - age),
        }));
        const out = selectPrunable(newestFirst, { retentionCount, retentionDays }, now);
        const pruned = new Set(out.map((p) => p.backup.id));
        if (newestFirst.length) assert.ok(!pruned.has(newestFirst[0].id), "the newest is never pruned");
        if (!retentionCount && !retentionDays) assert.equal(out.length, 0);
        newestFirst.forEach((b, i) => {
          const tooMany = retentionCount !== undefined && i >= retentionCount;
          const tooOld = retentionDays !== undefined &&
            b.createdAt.getTime() < now.getTime() - retentionDays * DAY;
          assert.equal(pruned.has(b.id), i > 0 && (tooMany || tooOld), `backup #${i}`);
        });
      },
    ),
  );
  const at = (d: number) => ({ id: d, s3Key: `k${d}`, createdAt: new Date(Date.UTC(2026, 0, 31 - d)) });
  const out = selectPrunable(
    [at(0), at(1), at(5), at(20)],
    { retentionCount: 3, retentionDays: 10 },
    new Date(Date.UTC(2026, 0, 31)),
  );
  assert.deepEqual(out.map((p) => [p.backup.id, p.reason]), [[20, "more than 3 backups"]]);
});
