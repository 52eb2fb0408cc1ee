/** Backup format and round trips on both dialects against a real S3 server (s3rver). */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { BOOKKEEPING_TABLES } from "../../src/db/schema.ts";
import { backupTables } from "../../src/backups/tables.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { backupFixture, BIG, insertSampleData, snapshot, taken, UNICODE } from "./fixtures.ts";
import { download, downloadText, sha256 } from "./helpers.ts";

dbTest(
  "backup: listed, downloadable with any S3 client, gunzips to the seed's JSON shape with typed values",
  async (db, ctx) => {
    const f = await backupFixture(db);
    try {
      const ids = await insertSampleData(db);
      const ref = await taken(f.service.backupBeforeSeeding({
        executionId: 5,
        kind: "execution",
        triggeredBy: "user:1",
      }));
      assert.match(ref.s3Key, /^database-backups\/\d{8}_\d{6}_execution_5\.json\.gz$/);

      const { items, total } = await f.service.list({ limit: 10, offset: 0 });
      assert.equal(total, 1);
      const rec = items[0];
      assert.equal(rec.id, ref.backupId);
      assert.equal(rec.status, "completed");
      assert.equal(rec.kind, "execution");
      assert.equal(rec.executionId, 5);
      assert.equal(rec.createdBy, "user:1");
      assert.equal(rec.dialect, db.dialect);

      const { bytes, metadata } = await download(f.s3, ref.s3Key);
      // The checksum in the catalog and on the object is the object's real SHA-256.
      assert.equal(rec.sha256, sha256(bytes));
      assert.equal(metadata.sha256, rec.sha256);
      assert.equal(rec.sizeBytes, bytes.length);
      assert.equal(metadata["seedbed-dialect"], db.dialect);

      const doc = JSON.parse(await downloadText(f.s3, ref.s3Key)) as Record<string, unknown>;
      // One array per application table (seed shape), no bookkeeping table, plus the manifest.
      const tables = backupTables().map((t) => t.name);
      assert.deepEqual(Object.keys(doc), [...tables, "_manifest"]);
      for (const b of BOOKKEEPING_TABLES) assert.ok(!(b in doc), `${b} must not be backed up`);
      assert.ok(tables.indexOf("organizations") < tables.indexOf("users"));
      assert.ok(tables.indexOf("roles") < tables.indexOf("users"));
      assert.ok(tables.indexOf("transport_vehicles") < tables.indexOf("transport_trips"));

      const users = doc.users as Record<string, unknown>[];
      const boss = users.find((u) => u.email === "boss-a@example.com")!;
      const report = users.find((u) => u.email === "report-a@example.com")!;
      assert.equal(boss.id, ids.boss.id);
      assert.equal(boss.is_company_admin, true);
      assert.equal(boss.is_super_admin, false);
      assert.equal(boss.username, "boss-a");
      assert.equal(new Date(boss.last_login_at as string).toISOString(), "2025-01-15T12:00:00.500Z");
      assert.equal(report.last_login_at, null);
      assert.equal(report.full_name, UNICODE);
      assert.equal(report.reports_to_id, ids.boss.id);
      assert.equal(report.password_hash, "$argon2id$v=19$m=19456,t=2,p=1$dummy$hash");

      const orgs = doc.organizations as Record<string, unknown>[];
      assert.deepEqual(orgs[0].enabled_modules, { crm: true, hr: false, nested: { deep: [1, "two", null] } });
      assert.equal(new Date(orgs[0].created_at as string).toISOString(), "2024-02-29T23:59:59.123Z");
      assert.match(orgs[0].created_at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$/);
      assert.equal(orgs[1].is_active, false);

      const leads = doc.crm_leads as Record<string, unknown>[];
      assert.equal(leads[0].value_cents, BIG);
      assert.equal(leads[0].email, null);
      assert.equal(leads[1].value_cents, -42);
      assert.equal((doc.files as Record<string, unknown>[])[0].size_bytes, 123456789012);
      assert.deepEqual((doc.files as Record<string, unknown>[])[0].metadata, { author: "Zoë", empty: "" });

      const manifest = doc._manifest as Record<string, unknown>;
      assert.equal(manifest.format, "seedbed-backup");
      assert.equal(manifest.format_version, 1);
      assert.equal(manifest.dialect, db.dialect);
      assert.equal(manifest.execution_id, 5);
      assert.match(String(manifest.schema_version), /^\d{4}_/);
      assert.deepEqual(manifest.row_counts, rec.rowCounts);
      assert.equal((manifest.row_counts as Record<string, number>).users, 2);
      assert.equal(manifest.total_rows, 13);
      assert.ok(!JSON.stringify(manifest).includes("postgres@"), "no credentials in the manifest");
      assert.equal(typeof ctx.url, "string");

      const events = f.logger.records.map((r) => String(r.event));
      assert.deepEqual(events.filter((e) => e.startsWith("backup_")), ["backup_started", "backup_completed"]);
    } finally {
      await f.close();
    }
  },
);

dbTest("backup: verify re-reads the object and checks checksum, manifest and every row", async (db) => {
  const f = await backupFixture(db);
  try {
    await insertSampleData(db);
    const b = await f.service.create({ kind: "manual", createdBy: "cli:test" });
    assert.match(b.s3Key, new RegExp(`_manual_${b.id}\\.json\\.gz$`));
    const byId = await f.service.verify({ id: b.id });
    const byKey = await f.service.verify({ key: b.s3Key });
    assert.deepEqual(byId, byKey);
    assert.equal(byId.valid, true);
    assert.equal(byId.sha256, b.sha256);
    assert.equal(byId.total_rows, 13);
    assert.equal(byId.checked_against, "catalog");
  } finally {
    await f.close();
  }
});

dbTest("restore: by latest, by key and by execution id, identical data, sequences advanced", async (db) => {
  const f = await backupFixture(db);
  try {
    await insertSampleData(db, "one");
    const first = await snapshot(db);
    const exec = await taken(f.service.backupBeforeSeeding({
      executionId: 7,
      kind: "execution",
      triggeredBy: "test",
    }));
    await insertSampleData(db, "two");
    const second = await snapshot(db);
    const manual = await f.service.create({ kind: "manual", createdBy: "test" });
    await insertSampleData(db, "three");

    const latest = await f.service.restore({ triggeredBy: "test" });
    assert.equal(latest.restored_from, manual.s3Key);
    assert.deepEqual(await snapshot(db), second);

    const byExec = await f.service.restore({ executionId: 7, triggeredBy: "test" });
    assert.equal(byExec.restored_from, exec.s3Key);
    assert.deepEqual(await snapshot(db), first);
    assert.equal(byExec.tables.users, 2);
    assert.equal(byExec.tables.marketing_campaigns, 0);

    const byKey = await f.service.restore({ s3Key: manual.s3Key, triggeredBy: "test" });
    assert.equal(byKey.restored_from, manual.s3Key);
    assert.deepEqual(await snapshot(db), second);

    // "latest" skips the safety backups the restores took: it is still the manual one.
    assert.equal((await f.service.restore({ triggeredBy: "test" })).restored_from, manual.s3Key);

    // Ids continue after the restored ones (identity sequence / AUTOINCREMENT).
    const maxOrg = Math.max(...(second.organizations as { id: number }[]).map((o) => o.id));
    const [org] = await db.db.insert(db.t.organizations).values({ name: "After", slug: "after" }).returning();
    assert.ok(org.id > maxOrg, `new id ${org.id} must follow restored ids (max ${maxOrg})`);

    const events = f.logger.records.map((r) => String(r.event)).filter((e) => e.startsWith("restore_"));
    assert.deepEqual(events, Array(4).fill(["restore_started", "restore_completed"]).flat());
    const done = f.logger.records.find((r) => r.event === "restore_completed")!;
    assert.equal(done.s3_key, manual.s3Key);
    assert.match(String(done.safety_backup_s3_key), /_safety_\d+\.json\.gz$/);
  } finally {
    await f.close();
  }
});

dbTest("restore: keeps the execution history, the backup catalog and the audit log", async (db) => {
  const f = await backupFixture(db);
  try {
    await insertSampleData(db);
    const b = await f.service.create({ kind: "manual", createdBy: "test" });
    const [exec] = await db.db.insert(db.t.seederExecutions).values({
      triggeredBy: "test",
      environment: "test",
      status: "completed",
    }).returning();
    await db.db.insert(db.t.auditLogs).values({ event: "something.happened", details: { a: 1 } });
    const catalogBefore = (await f.service.list({ limit: 100, offset: 0 })).total;

    const r = await f.service.restore({ s3Key: b.s3Key, triggeredBy: "test" });
    const [still] = await db.db.select().from(db.t.seederExecutions).where(
      eq(db.t.seederExecutions.id, exec.id),
    );
    assert.equal(still.triggeredBy, "test");
    const audit = await db.db.select().from(db.t.auditLogs);
    assert.ok(audit.some((a) => a.event === "something.happened"));
    const catalog = await f.service.list({ limit: 100, offset: 0 });
    // The restored backup, the safety backup: both catalogued, the catalog was not replaced.
    assert.equal(catalog.total, catalogBefore + 1);
    assert.ok(catalog.items.some((i) => i.s3Key === r.safety_backup_s3_key && i.kind === "safety"));
    assert.ok(catalog.items.some((i) => i.s3Key === b.s3Key && i.status === "completed"));
  } finally {
    await f.close();
  }
});

dbTest("backup: a reset backup is named after its execution", async (db) => {
  const f = await backupFixture(db);
  try {
    await insertSampleData(db);
    const ref = await taken(f.service.backupBeforeSeeding({
      executionId: 12,
      kind: "reset",
      triggeredBy: "cli:me",
    }));
    assert.match(ref.s3Key, /^database-backups\/\d{8}_\d{6}_reset_execution_12\.json\.gz$/);
    const again = await taken(f.service.backupBeforeSeeding({
      executionId: 12,
      kind: "reset",
      triggeredBy: "cli:me",
    }));
    assert.notEqual(
      again.s3Key,
      ref.s3Key,
      "two backups of one execution in the same second keep distinct keys",
    );
    const restored = await f.service.restore({ executionId: 12, triggeredBy: "cli:me" });
    assert.equal(restored.restored_from, again.s3Key);
  } finally {
    await f.close();
  }
});

dbTest("backup: the COPY reader and the generic reader write the same rows", async (db) => {
  const fast = await backupFixture(db);
  try {
    const generic = await backupFixture(db, { snapshot: { paths: "generic" } });
    try {
      await insertSampleData(db);
      const a = await fast.service.create({ kind: "manual", createdBy: "t" });
      const b = await generic.service.create({ kind: "manual", createdBy: "t" });
      const docA = JSON.parse(await downloadText(fast.s3, a.s3Key));
      const docB = JSON.parse(await downloadText(generic.s3, b.s3Key));
      const normalize = (doc: Record<string, unknown>) => {
        const out: Record<string, unknown> = {};
        for (const t of backupTables()) {
          out[t.name] = (doc[t.name] as Record<string, unknown>[]).map((row) => {
            const r = { ...row };
            for (const c of t.columns) {
              if (c.kind === "ts" && r[c.name] !== null) r[c.name] = new Date(r[c.name] as string).getTime();
            }
            return r;
          }).sort((x, y) => (x.id as number) - (y.id as number)); // COPY reads in physical order
        }
        return out;
      };
      assert.deepEqual(normalize(docA), normalize(docB));
      // Restoring either gives the same data.
      const before = await snapshot(db);
      await generic.service.restore({ s3Key: b.s3Key, triggeredBy: "t" });
      assert.deepEqual(await snapshot(db), before);
    } finally {
      await generic.close();
    }
  } finally {
    await fast.close();
  }
}, { only: POSTGRES_IS_SERVER ? ["postgres"] : [] });
