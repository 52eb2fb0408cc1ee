/**
 * The large-restore path (Postgres rebuilds secondary indexes after loading;
 * forced here with a threshold of 0): identical data, the very same indexes
 * and foreign keys afterwards, and a clean rollback when a rebuilt unique
 * index or a re-added foreign key refuses the data.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";
import { dbTest } from "../helpers/db.ts";
import { backupFixture, insertSampleData, snapshot } from "./fixtures.ts";
import { downloadText, gzip, plant } from "./helpers.ts";

async function schemaObjects(db: Database): Promise<string[]> {
  if (db.dialect === "sqlite") {
    const rows = await db.rows<{ sql: string | null }>(
      sql`SELECT sql FROM sqlite_master WHERE type IN ('index', 'table') ORDER BY name`,
    );
    return rows.map((r) => String(r.sql));
  }
  const idx = await db.rows<{ d: string }>(
    sql`SELECT indexdef AS d FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
  );
  const fks = await db.rows<{ d: string }>(
    sql`SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint
        WHERE connamespace = current_schema()::regnamespace ORDER BY conname`,
  );
  return [...idx, ...fks].map((r) => r.d);
}

dbTest("bulk restore: indexes rebuilt and foreign keys re-added exactly as they were", async (db) => {
  const f = await backupFixture(db, { rebuildIndexesFromRows: 0 });
  try {
    await insertSampleData(db);
    const before = await snapshot(db);
    const objects = await schemaObjects(db);
    const b = await f.service.create({ kind: "manual", createdBy: "t" });
    await insertSampleData(db, "later");
    await f.service.restore({ s3Key: b.s3Key, triggeredBy: "t" });
    assert.deepEqual(await snapshot(db), before);
    assert.deepEqual(await schemaObjects(db), objects);
  } finally {
    await f.close();
  }
});

dbTest(
  "bulk restore: a duplicate refused by a rebuilt unique index rolls back, indexes included",
  async (db) => {
    const f = await backupFixture(db, { rebuildIndexesFromRows: 0 });
    try {
      await insertSampleData(db);
      const b = await f.service.create({ kind: "manual", createdBy: "t" });
      const text = await downloadText(f.s3, b.s3Key);
      await insertSampleData(db, "current");
      const before = await snapshot(db);
      const objects = await schemaObjects(db);
      await plant(
        f.s3,
        "database-backups/dup.json.gz",
        gzip(text.replace("report-a@example.com", "boss-a@example.com")),
      );
      await assert.rejects(
        f.service.restore({ s3Key: "database-backups/dup.json.gz", triggeredBy: "t", trust: "untrusted" }),
        (e: AppError) => {
          assert.equal(e.code, "RESTORE_FAILED");
          assert.match(
            e.message,
            /rolled back; the data is unchanged: .*(users_email_uq|unique|UNIQUE|same users\.email)/,
          );
          return true;
        },
      );
      assert.deepEqual(await snapshot(db), before);
      assert.deepEqual(await schemaObjects(db), objects);
    } finally {
      await f.close();
    }
  },
);
