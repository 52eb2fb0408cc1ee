/** A libSQL backup restores into Postgres and back with identical data. */
import assert from "node:assert/strict";
import { BackupService } from "../../src/backups/backup_service.ts";
import { memoryLogger } from "../../src/log.ts";
import { openTestDatabase } from "../helpers/db.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";

Deno.test({
  name: "cross-dialect: libSQL → Postgres → libSQL, identical data each way",
  fn: async () => {
    const s3 = await startTestS3();
    const lite = await openTestDatabase("libsql");
    const pg = await openTestDatabase("postgres");
    const lite2 = await openTestDatabase("libsql");
    try {
      const svc = (db: typeof lite.db) =>
        new BackupService({ db, store: s3.store, logger: memoryLogger(), retention: {} });
      await insertSampleData(lite.db, "x");
      const original = await snapshot(lite.db);

      // libSQL → Postgres: the Postgres database has never seen these keys; it imports the object.
      const fromLite = await svc(lite.db).create({ kind: "manual", createdBy: "test" });
      const intoPg = await svc(pg.db).restore({ s3Key: fromLite.s3Key, triggeredBy: "test" });
      assert.equal(intoPg.tables.users, 2);
      assert.deepEqual(await snapshot(pg.db), original);
      const imported = await svc(pg.db).catalog.byKey(fromLite.s3Key);
      assert.equal(imported?.kind, "imported");
      assert.equal(imported?.sha256, fromLite.sha256);

      // Postgres → a fresh libSQL database.
      const fromPg = await svc(pg.db).create({ kind: "manual", createdBy: "test" });
      assert.equal(fromPg.manifest?.dialect, "postgres");
      await svc(lite2.db).restore({ s3Key: fromPg.s3Key, triggeredBy: "test" });
      assert.deepEqual(await snapshot(lite2.db), original);

      // Sequences/AUTOINCREMENT continue after the restored ids on both targets.
      for (const db of [pg.db, lite2.db]) {
        const max = Math.max(...(original.users as { id: number }[]).map((u) => u.id));
        const [u] = await db.db.insert(db.t.users).values({
          email: `new-${db.dialect}@example.com`,
          passwordHash: "x",
          role: "executive",
        }).returning();
        assert.ok(u.id > max, `${db.dialect}: new id ${u.id} must follow ${max}`);
      }
    } finally {
      await lite.dispose();
      await pg.dispose();
      await lite2.dispose();
      await s3.close();
    }
  },
});
