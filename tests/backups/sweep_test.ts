/** The sweep of abandoned backups: pending rows of dead writers failed, orphaned multipart uploads aborted. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { BackupCatalog } from "../../src/backups/catalog.ts";
import {
  holdBackupLiveness,
  startBackupSweeper,
  sweepAbandonedBackups,
  uploadsToAbort,
} from "../../src/backups/sweep.ts";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { memoryLogger } from "../../src/log.ts";
import { ADVISORY_CLASS } from "../../src/db/liveness.ts";
import { sql } from "drizzle-orm";
import type { IncompleteUpload, ObjectStore } from "../../src/storage/object_store.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { FakeClock } from "../helpers/fake_clock.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;

Deno.test("sweep: an upload of a live backup is never aborted; a dead one's always; an orphan once stale", () => {
  const key = fc.constantFrom(
    "database-backups/a.json.gz",
    "database-backups/b.json.gz",
    "database-backups/c",
  );
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ key, uploadId: fc.uuid(), ageMs: fc.option(fc.nat(3 * HOUR), { nil: undefined }) }),
      ),
      fc.subarray(["database-backups/a.json.gz", "database-backups/b.json.gz", "database-backups/c"]),
      fc.subarray(["database-backups/a.json.gz", "database-backups/b.json.gz", "database-backups/c"]),
      (raw, liveKeys, deadKeys) => {
        const now = new Date(10 * HOUR);
        const uploads: IncompleteUpload[] = raw.map((u) => ({
          key: u.key,
          uploadId: u.uploadId,
          initiated: u.ageMs === undefined ? undefined : new Date(now.getTime() - u.ageMs),
        }));
        const live = new Set(liveKeys);
        const dead = new Set(deadKeys.filter((k) => !live.has(k)));
        const out = new Set(uploadsToAbort(uploads, { live, dead, now, staleAfterMs: HOUR }));
        for (const u of uploads) {
          const stale = u.initiated !== undefined && now.getTime() - u.initiated.getTime() > HOUR;
          const expected = !live.has(u.key) && (dead.has(u.key) || stale);
          assert.equal(out.has(u), expected, JSON.stringify(u));
        }
      },
    ),
  );
});

async function pendingRow(db: Database, ageMs: number, now = Date.now()) {
  const catalog = new BackupCatalog(db);
  const row = await catalog.createPending({
    kind: "manual",
    executionId: null,
    createdBy: "t",
    dialect: db.dialect,
    schemaVersion: null,
    createdAt: new Date(now - ageMs),
  });
  const key = `database-backups/20250101_000000_manual_${row.id}.json.gz`;
  await catalog.setKey(row.id, key);
  return { id: row.id, key, catalog };
}

/** A store whose incomplete uploads are given; records aborts. */
function storeWith(uploads: IncompleteUpload[]) {
  const aborted: string[] = [];
  const store = {
    incompleteUploads: () => Promise.resolve(uploads),
    abortUpload: (key: string) => Promise.resolve(void aborted.push(key)),
  } as unknown as ObjectStore;
  return { store, aborted };
}

dbTest(
  "sweep: pending rows too old to be alive are failed, their uploads aborted; fresh ones kept",
  async (db) => {
    const full = { ...db, liveness: null }; // judged by age, as on libSQL
    const old = await pendingRow(full, 2 * HOUR);
    const fresh = await pendingRow(full, 5_000);
    const orphan = { key: "database-backups/19990101_000000_manual_9.json.gz", uploadId: "u3" };
    const { store, aborted } = storeWith([
      { key: old.key, uploadId: "u1", initiated: new Date() },
      { key: fresh.key, uploadId: "u2", initiated: new Date(Date.now() - 3 * HOUR) },
      { ...orphan, initiated: new Date(Date.now() - 2 * HOUR) },
      { key: "database-backups/young-orphan", uploadId: "u4", initiated: new Date() },
    ]);
    const logger = memoryLogger();
    const r = await sweepAbandonedBackups({ db: full, store, logger, staleAfterMs: HOUR, graceMs: 0 });
    assert.deepEqual(r.failed, [old.id]);
    assert.deepEqual(aborted.sort(), [old.key, orphan.key].sort());
    const row = await old.catalog.byId(old.id);
    assert.equal(row?.status, "failed");
    assert.match(row!.errorMessage!, /^abandoned: the process writing this backup exited/);
    assert.equal((await fresh.catalog.byId(fresh.id))?.status, "pending");
    assert.equal(logger.records.find((l) => l.event === "backups_swept")?.level, "warn");
  },
);

dbTest("sweep: against the embedded S3 server (s3rver), rows are swept and uploads listed", async (db) => {
  const s3 = await startTestS3();
  try {
    const old = await pendingRow({ ...db, liveness: null }, 2 * HOUR);
    const r = await sweepAbandonedBackups({
      db: { ...db, liveness: null },
      store: s3.store,
      logger: memoryLogger(),
      staleAfterMs: HOUR,
    });
    assert.deepEqual(r.failed, [old.id]);
    // s3rver lists uploads through the embedded server's own ListMultipartUploads; a shared server may not.
    if (!Deno.env.get("TEST_S3_ENDPOINT")) assert.equal(r.uploadsChecked, true);
  } finally {
    await s3.close();
  }
  // One dialect: the subject is the S3 side of the sweep; its database rows are swept on both in the tests above.
}, { only: ["libsql"] });

dbTest(
  "sweep: on Postgres a pending row is failed as soon as its writer's session is gone, never while it lives",
  async (db, { url }) => {
    const writer = await openDatabase(url, { maxConnections: 1 });
    try {
      const row = await pendingRow(db, 0);
      const release = await holdBackupLiveness(writer, row.id);
      const { store, aborted } = storeWith([{ key: row.key, uploadId: "u1", initiated: new Date(0) }]);
      const sweep = () =>
        sweepAbandonedBackups({ db, store, logger: memoryLogger(), staleAfterMs: HOUR, graceMs: 0 });
      assert.deepEqual((await sweep()).failed, [], "a live writer's backup is never failed");
      assert.deepEqual(aborted, [], "nor its upload aborted, however old");
      // The writer dies: its session, and the lock, go with it (waited for: the signal alone returns before the
      // backend has exited, and under load the sweep could still see the lock held).
      await db.run(sql`SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory'
        AND classid = ${ADVISORY_CLASS} AND objid = (hashtext(${`seedbed:${db.namespace}:backup-${row.id}`}) & 2147483647)::oid`);
      assert.deepEqual((await sweep()).failed, [row.id]);
      assert.deepEqual(aborted, [row.key]);
      await release();
    } finally {
      await writer.close().catch(() => {});
    }
  },
  { only: ["postgres"], ignore: !POSTGRES_IS_SERVER },
);

dbTest(
  "sweep: on its schedule too — a row abandoned after startup is failed by the first sweep after it is stale; stop ends it",
  async (db) => {
    // The clock is the subject (a row's age, the sweeps' times): a fake one, moved by hand.
    const full = { ...db, liveness: null }; // judged by age
    const { store } = storeWith([]);
    const clock = new FakeClock(Date.parse("2026-12-02T00:00:00Z"));
    const t0 = clock.now();
    const sweeper = startBackupSweeper({
      db: full,
      store,
      logger: memoryLogger(),
      staleAfterMs: HOUR,
      graceMs: 0,
      everyMs: 10 * MINUTE,
      clock,
    });
    const status = async (row: { id: number; catalog: BackupCatalog }) =>
      (await row.catalog.byId(row.id))?.status;
    try {
      await sweeper.idle(); // the startup sweep has run: nothing to do
      const late = await pendingRow(full, 0, t0); // abandoned just after startup
      await clock.advanceTo(t0 + HOUR - 1, () => sweeper.idle()); // sweeps at 10, 20, …, 50 minutes
      assert.equal(await status(late), "pending", "younger than BACKUP_STALE_MINUTES: kept");
      await clock.advanceTo(t0 + HOUR, () => sweeper.idle()); // the sweep at 60 minutes
      assert.equal(await status(late), "failed", "a scheduled sweep failed it once stale");
      assert.equal(clock.pending, 1, "the next sweep is due");
      // Stopped while a sweep runs: that sweep ends, and none follows.
      await clock.advanceTo(t0 + HOUR + 10 * MINUTE, async () => {
        sweeper.stop();
        await sweeper.idle();
      });
      assert.equal(clock.pending, 0, "no sweep is due after stop");
    } finally {
      sweeper.stop();
    }
    const after = await pendingRow(full, 2 * HOUR, clock.now());
    await clock.advanceTo(clock.now() + 2 * HOUR, () => sweeper.idle());
    assert.equal(await status(after), "pending", "no sweep after stop");
  },
);

dbTest("sweep: on the system clock, sweeps follow one another every everyMs until stop", async (db) => {
  // Real time, briefly: the default clock's timers are what main.ts runs on.
  let sweeps = 0;
  const store = {
    incompleteUploads: () => {
      sweeps++;
      return Promise.resolve([]);
    },
    abortUpload: () => Promise.resolve(),
  } as unknown as ObjectStore;
  const sweeper = startBackupSweeper({
    db: { ...db, liveness: null },
    store,
    logger: memoryLogger(),
    staleAfterMs: HOUR,
    everyMs: 10,
  });
  try {
    const deadline = Date.now() + 5_000;
    while (sweeps < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sweeps >= 3, `${sweeps} sweeps`);
  } finally {
    sweeper.stop();
  }
  await sweeper.idle();
  const done = sweeps;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sweeps, done, "none after stop");
});
