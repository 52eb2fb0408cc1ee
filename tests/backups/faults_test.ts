/**
 * Every fault the issue lists, injected: unknown key / execution, corrupt,
 * truncated or tampered objects, S3 unreachable / bucket missing / wrong
 * credentials, schema version mismatch, and database failures mid-restore.
 * Each one is refused or rolled back, and the data is exactly as before.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";
import { BackupService } from "../../src/backups/backup_service.ts";
import { ObjectStore } from "../../src/storage/object_store.ts";
import { createS3Client } from "../../src/storage/s3_client.ts";
import { memoryLogger } from "../../src/log.ts";
import { dbTest } from "../helpers/db.ts";
import { type BackupFixture, backupFixture, insertSampleData, snapshot } from "./fixtures.ts";
import { downloadText, gzip, plant } from "./helpers.ts";

async function refused(p: Promise<unknown>, code: string, pattern: RegExp): Promise<AppError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

/** Data + one good backup; returns the snapshot to compare against after each fault. */
async function prepared(db: Database) {
  const f = await backupFixture(db);
  await insertSampleData(db);
  const good = await f.service.create({ kind: "manual", createdBy: "test" });
  const text = await downloadText(f.s3, good.s3Key);
  await insertSampleData(db, "current");
  const before = await snapshot(db);
  const catalogSize = async () => (await f.service.list({ limit: 1000, offset: 0 })).total;
  return { f, good, text, before, catalogSize };
}

/** Asserts nothing changed: same data, and no safety backup was taken. */
async function unchanged(db: Database, before: Record<string, unknown[]>, f: BackupFixture, catalog: number) {
  assert.deepEqual(await snapshot(db), before);
  const items = (await f.service.list({ limit: 1000, offset: 0 })).items;
  assert.ok(
    items.filter((i) => i.kind !== "safety").length <= catalog + 1,
    "at most an imported catalog row",
  );
  // A refused restore keeps no safety backup (one taken alongside verification is discarded).
  assert.ok(!items.some((i) => i.kind === "safety" && i.status === "completed"), "no safety backup kept");
  for (const i of items.filter((i) => i.kind === "safety")) {
    assert.match(String(i.errorMessage), /discarded/);
    assert.equal(await f.s3.store.head(i.s3Key), null);
  }
}

dbTest(
  "faults: unknown key, unknown execution id and an empty catalog answer NOT_FOUND naming them",
  async (db) => {
    const f = await backupFixture(db);
    try {
      await refused(f.service.restore({ triggeredBy: "t" }), "NOT_FOUND", /no completed backup to restore/);
      await insertSampleData(db);
      await f.service.create({ kind: "manual", createdBy: "t" });
      const key = "database-backups/20250115_120000_execution_5.json.gz";
      await refused(
        f.service.restore({ s3Key: key, triggeredBy: "t" }),
        "NOT_FOUND",
        /20250115_120000_execution_5/,
      );
      await refused(
        f.service.restore({ executionId: 424242, triggeredBy: "t" }),
        "NOT_FOUND",
        /execution 424242/,
      );
      await refused(
        f.service.verify({ key }),
        "NOT_FOUND",
        /20250115_120000_execution_5.*not in the catalog/,
      );
      await refused(f.service.verify({ id: 999 }), "NOT_FOUND", /backup 999 not found/);
      const failed = f.logger.records.filter((r) => r.event === "restore_failed");
      assert.equal(failed.length, 3);
      assert.equal(failed[1].s3_key, key);
    } finally {
      await f.close();
    }
  },
);

dbTest(
  "faults: a tampered, truncated or deleted catalogued object is refused before anything changes",
  async (db) => {
    const p = await prepared(db);
    try {
      const { f, good } = p;
      const n = await p.catalogSize();
      const original = await downloadText(f.s3, good.s3Key).then(gzip);
      // Tampered: one byte flipped in the middle.
      const flipped = original.slice();
      flipped[Math.floor(flipped.length / 2)] ^= 0xff;
      await f.s3.store.upload(good.s3Key, new Blob([flipped]).stream());
      await refused(
        f.service.restore({ s3Key: good.s3Key, triggeredBy: "t" }),
        "BACKUP_INVALID",
        /checksum mismatch/,
      );
      await refused(f.service.verify({ id: good.id }), "BACKUP_INVALID", /checksum mismatch/);
      // Truncated.
      await f.s3.store.upload(good.s3Key, new Blob([original.slice(0, 100)]).stream());
      await refused(f.service.restore({ triggeredBy: "t" }), "BACKUP_INVALID", /checksum mismatch/);
      // Deleted.
      await f.s3.store.delete(good.s3Key);
      await refused(f.service.restore({ triggeredBy: "t" }), "NOT_FOUND", new RegExp(good.s3Key));
      await unchanged(db, p.before, f, n);
      assert.ok(f.logger.records.some((r) => r.event === "restore_failed" && r.code === "BACKUP_INVALID"));
    } finally {
      await p.f.close();
    }
  },
);

dbTest(
  "faults: corrupt content is refused even when its checksum matches (gzip, layout, rows, counts)",
  async (db) => {
    const p = await prepared(db);
    try {
      const { f, text } = p;
      const n = await p.catalogSize();
      const full = gzip(text);
      const leadLine = text.split("\n").find((l) => l.includes('"Lead a 1"'))!;
      const cases: [string, Uint8Array, RegExp][] = [
        ["random", crypto.getRandomValues(new Uint8Array(4096)), /not valid gzip/],
        ["cut-gzip", full.slice(0, Math.floor(full.length * 0.6)), /not valid gzip|unexpected end|truncated/],
        ["cut-row", gzip(text.slice(0, text.indexOf('"users":[') + 40)), /users row 1 is not valid JSON/],
        [
          "cut-document",
          gzip(text.slice(0, text.indexOf("\n", text.indexOf('"users":[') + 12) + 1)),
          /ends inside table "users" \(truncated\?\)/,
        ],
        [
          "bad-type",
          gzip(text.replace('"is_active":true', '"is_active":"yes"')),
          /"is_active" is not true or false/,
        ],
        ["bad-date", gzip(text.replace(/"created_at":"[^"]+"/, '"created_at":"yesterday"')), /ISO 8601/],
        [
          "unknown-column",
          gzip(text.replace('{"id":', '{"surprise":1,"id":')),
          /lacks column|unknown column/,
        ],
        [
          "missing-row",
          gzip(text.replace(leadLine + "\n", "")),
          /crm_leads" has 1 rows but the manifest says 2/,
        ],
        [
          "no-manifest",
          gzip(text.slice(0, text.indexOf('"_manifest"')) + "}\n"),
          /expected a table|manifest/,
        ],
        [
          "not-seedbed",
          gzip('{\n"users":[\n],\n"_manifest":{"format":"other"}\n}\n'),
          /not a Seedbed backup/,
        ],
        [
          "extra-table",
          gzip(text.replace("{\n", '{\n"secrets":[\n],\n')),
          /"secrets" is not an application table/,
        ],
      ];
      for (const [name, bytes, pattern] of cases) {
        const key = `database-backups/planted_${name}.json.gz`;
        await plant(f.s3, key, bytes);
        await refused(
          f.service.restore({ s3Key: key, triggeredBy: "t", trust: "untrusted" }),
          "BACKUP_INVALID",
          pattern,
        );
      }
      // An uncatalogued, unsigned object is not trusted on its own metadata (issue 12, finding 2).
      await plant(f.s3, "database-backups/no_signature.json.gz", full);
      await refused(
        f.service.restore({ s3Key: "database-backups/no_signature.json.gz", triggeredBy: "t" }),
        "BACKUP_INVALID",
        /not in the catalog and cannot be trusted: it has no signed manifest.*--untrusted/,
      );
      await unchanged(db, p.before, f, n);
    } finally {
      await p.f.close();
    }
  },
);

dbTest(
  "faults: S3 unreachable, bucket missing and wrong credentials give clear errors and change nothing",
  async (db) => {
    const p = await prepared(db);
    try {
      const { f, good } = p;
      const n = await p.catalogSize();
      const broken = {
        unreachable: { ...f.s3.s3, endpoint: "http://127.0.0.1:9" },
        "bucket missing": { ...f.s3.s3, bucket: "no-such-bucket" },
        "wrong credentials": { ...f.s3.s3, accessKeyId: "NOT-A-KEY", secretAccessKey: "top-secret-value" },
      };
      const expect = {
        unreachable: ["STORAGE_UNAVAILABLE", /unreachable at http:\/\/127\.0\.0\.1:9/],
        "bucket missing": [
          "STORAGE_UNAVAILABLE",
          /"no-such-bucket" at http:\/\/127\.0\.0\.1:\d+ does not exist/,
        ],
        "wrong credentials": ["STORAGE_ERROR", /refused the credentials/],
      } as const;
      for (const [name, s3] of Object.entries(broken) as [keyof typeof broken, typeof f.s3.s3][]) {
        const logger = memoryLogger();
        const svc = new BackupService({
          db,
          store: new ObjectStore(createS3Client(s3), s3),
          logger,
          retention: {},
        });
        const [code, pattern] = expect[name];
        const e1 = await refused(svc.create({ kind: "manual", createdBy: "t" }), code, pattern);
        const e2 = await refused(svc.restore({ s3Key: good.s3Key, triggeredBy: "t" }), code, pattern);
        await refused(svc.verify({ id: good.id }), code, pattern);
        for (const e of [e1, e2]) {
          assert.ok(
            !e.message.includes("top-secret-value") && !e.message.includes("NOT-A-KEY"),
          );
        }
        assert.ok(logger.records.some((r) => r.event === "backup_failed"), name);
        assert.ok(logger.records.some((r) => r.event === "restore_failed"), name);
      }
      // The failed attempts are in the catalog as failed; the data is untouched.
      const failed = await f.service.list({ limit: 100, offset: 0, status: "failed", kind: "manual" });
      assert.equal(failed.total, 3);
      assert.deepEqual(await snapshot(db), p.before);
      assert.equal((await f.service.list({ limit: 100, offset: 0, status: "completed" })).total, n);
    } finally {
      await p.f.close();
    }
  },
);

dbTest(
  "faults: a backup from a newer or older schema version is refused with a clear message",
  async (db) => {
    const p = await prepared(db);
    try {
      const { f, good } = p;
      // Newer: the catalog says the backup was taken at a migration this database does not have.
      await db.db.update(db.t.backups).set({
        manifest: { ...good.manifest!, schema_version: "9999_future", schema_index: 9999 } as never,
      }).where(sql`id = ${good.id}`);
      await refused(
        f.service.restore({ s3Key: good.s3Key, triggeredBy: "t" }),
        "BACKUP_INVALID",
        /schema version 9999_future, newer than this database's .*deno task migrate/,
      );
      await db.db.update(db.t.backups).set({ manifest: good.manifest as never }).where(sql`id = ${good.id}`);
      // Older: the database moved on (a later migration is applied).
      await db.run(
        db.dialect === "sqlite"
          ? sql`INSERT INTO seedbed_migrations (idx, tag, hash, applied_at) VALUES (9998, '9998_next', 'x', 0)`
          : sql`INSERT INTO seedbed_migrations (idx, tag, hash, applied_at) VALUES (9998, '9998_next', 'x', now())`,
      );
      await refused(
        f.service.restore({ s3Key: good.s3Key, triggeredBy: "t" }),
        "BACKUP_INVALID",
        /older than this database's 9998_next; Seedbed does not migrate backups forward/,
      );
      assert.deepEqual(await snapshot(db), p.before);
    } finally {
      await p.f.close();
    }
  },
);

dbTest("faults: a database failure mid-restore rolls everything back", async (db) => {
  const p = await prepared(db);
  try {
    const { f, text } = p;
    // 1. A row that violates a unique index (two users with one email).
    await plant(
      f.s3,
      "database-backups/dup.json.gz",
      gzip(text.replace("report-a@example.com", "boss-a@example.com")),
    );
    const dup = await refused(
      f.service.restore({ s3Key: "database-backups/dup.json.gz", triggeredBy: "t", trust: "untrusted" }),
      "RESTORE_FAILED",
      /failed and was rolled back; the data is unchanged: .*(users_email_uq|same users\.email)/i,
    );
    assert.ok(!dup.message.includes("$argon2id"), "row data stays out of the message");
    assert.deepEqual(await snapshot(db), p.before);

    // 2. A reference to a row that does not exist (checked when the foreign keys are restored).
    const filesLine = text.split("\n").find((l) => l.includes('"report.pdf"'))!;
    const dangling = text.replace(filesLine, filesLine.replace(/"owner_id":\d+/, '"owner_id":999999'));
    await plant(f.s3, "database-backups/dangling.json.gz", gzip(dangling));
    await refused(
      f.service.restore({ s3Key: "database-backups/dangling.json.gz", triggeredBy: "t", trust: "untrusted" }),
      "RESTORE_FAILED",
      /rolled back.*(reference|missing row|foreign key)/i,
    );
    assert.deepEqual(await snapshot(db), p.before);

    // 3. The database itself fails while loading the last table, after every other table was replaced.
    if (db.dialect === "postgres") {
      await db.run(
        `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure while restoring files'; END $$`,
      );
      await db.run(`CREATE TRIGGER boom BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION boom()`);
    } else {
      await db.run(
        `CREATE TRIGGER boom BEFORE INSERT ON files BEGIN SELECT RAISE(ABORT, 'injected failure while restoring files'); END`,
      );
    }
    await refused(
      f.service.restore({ s3Key: p.good.s3Key, triggeredBy: "t" }),
      "RESTORE_FAILED",
      /rolled back; the data is unchanged: .*injected failure while restoring files/,
    );
    assert.deepEqual(await snapshot(db), p.before);
    const failed = f.logger.records.filter((r) => r.event === "restore_failed");
    assert.equal(failed.length, 3);
    assert.ok(failed.every((r) => r.code === "RESTORE_FAILED"));
  } finally {
    await p.f.close();
  }
});

dbTest("faults: pruned and failed backups cannot be restored", async (db) => {
  const f = await backupFixture(db, { retention: { retentionCount: 1 } });
  try {
    await insertSampleData(db);
    const old = await f.service.create({ kind: "manual", createdBy: "t" });
    await f.service.create({ kind: "manual", createdBy: "t" });
    await refused(
      f.service.restore({ s3Key: old.s3Key, triggeredBy: "t" }),
      "NOT_FOUND",
      /was pruned by retention/,
    );
    await db.db.insert(db.t.backups).values({
      s3Key: "database-backups/x_failed.json.gz",
      status: "failed",
      createdBy: "t",
      dialect: db.dialect,
      errorMessage: "S3 is unreachable",
    });
    await refused(
      f.service.restore({ s3Key: "database-backups/x_failed.json.gz", triggeredBy: "t" }),
      "BACKUP_INVALID",
      /did not complete \(status failed: S3 is unreachable\)/,
    );
  } finally {
    await f.close();
  }
});
