/**
 * Issue 12, findings 4 and 6, the restore plan and the restore drill:
 * no backup of an empty database; an (almost) empty backup never silently
 * replaces data; production reset/restore need the database name (API) or
 * a terminal answer / --force (CLI); a dry-run reset never prints a
 * password that was rolled back; `--dry-run` restores show the plan and
 * touch nothing; a drill restores into a scratch database and drops it.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { drillRestore } from "../../src/backups/drill.ts";
import { BackupService } from "../../src/backups/backup_service.ts";
import { runSeed } from "../../src/cli/seed_command.ts";
import { type CliContext, UsageError } from "../../src/cli/context.ts";
import type { Database } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";
import { memoryLogger, silentLogger } from "../../src/log.ts";
import { databaseName } from "../../src/seeding/confirm.ts";
import { testConfig } from "../helpers/app.ts";
import type { Config } from "../../src/config.ts";
import { SeedingService } from "../../src/seeding/seeding_service.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { dbTest, openTestDatabase } from "../helpers/db.ts";
import { startTestS3, type TestS3 } from "../helpers/s3.ts";
import { hasher, service } from "../seeding/helpers.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

function backups(db: Database, s3: TestS3, now?: () => Date) {
  return new BackupService({ db, store: s3.store, logger: memoryLogger(), retention: {}, now });
}

/**
 * A production configuration over the test S3 server (production refuses its published credentials, so the
 * S3 settings are the test ones, put in after validation).
 */
const PROD = (s3: TestS3, url: string): Config => {
  const config = testConfig({
    APP_ENV: "production",
    SECRET_KEY: "production-secret-key-0123456789-0123456789",
    DATABASE_URL: url.startsWith("pglite") ? "file:/tmp/never-opened.db" : url,
    S3_ENDPOINT: s3.env.S3_ENDPOINT,
  });
  return { ...config, s3: testConfig(s3.env).s3 };
};

dbTest(
  "empty latest: no backup of an empty database; an empty backup never silently replaces data",
  async (db) => {
    const s3 = await startTestS3();
    try {
      const b = backups(db, s3);
      const seeding = service(db, { backupPort: b });
      // Seed 000's order: a fresh, migrated, empty database is seeded — no empty backup is taken.
      const first = await seeding.execute({ triggeredBy: "test" });
      assert.equal(first.backup_created, false);
      assert.match(first.warnings.join("\n"), /backup not taken: the database holds no application rows/);
      assert.deepEqual((await seeding.getExecution(first.execution_id)).warnings, first.warnings);
      assert.equal((await b.list({ limit: 10, offset: 0 })).total, 0);

      // An empty backup from before (older Seedbed, or taken by hand) as "latest": refused, naming the way out.
      const withData = await b.create({ kind: "manual", createdBy: "test" });
      const before = await snapshot(db);
      const emptyDb = await openTestDatabase(db.dialect === "sqlite" ? "libsql" : "postgres");
      try {
        // Its clock two seconds on, so its key (timestamp + backup id 1) is not the first one's.
        const later = () => new Date(Date.now() + 2_000);
        const empty = await backups(emptyDb.db, s3, later).create({ kind: "manual", createdBy: "test" });
        await b.catalog.insertImported({
          s3Key: empty.s3Key,
          createdBy: "test",
          sizeBytes: empty.sizeBytes!,
          sha256: empty.sha256!,
          manifest: empty.manifest!,
        });
        assert.equal((await b.catalog.latestCompleted())?.s3Key, empty.s3Key);
        const e = await refusal(b.restore({ triggeredBy: "t" }));
        assert.equal(e.code, "CONFIRMATION_REQUIRED");
        assert.equal(e.status, 428);
        assert.match(
          e.message,
          /holds 0 application row\(s\) and the database holds \d+: restoring it would empty the database/,
        );
        assert.match(e.message, /--allow-shrink .*"allow_shrink": true/);
        assert.match(e.message, new RegExp(`newest backup with data is "${withData.s3Key}"`));
        assert.deepEqual(await snapshot(db), before);
        // Confirmed: it is restored.
        const r = await b.restore({ s3Key: empty.s3Key, triggeredBy: "t", allowShrink: true });
        assert.equal(Object.values(r.tables).reduce((a, n) => a + n, 0), 0);
      } finally {
        await emptyDb.dispose();
      }
    } finally {
      await s3.close();
    }
  },
);

dbTest(
  "production: reset and restore need the database name; a dry-run reset shows no rolled-back password",
  async (db, ctx) => {
    const s3 = await startTestS3();
    try {
      await insertSampleData(db);
      const said: string[] = [];
      const prod = new SeedingService({
        db,
        config: PROD(s3, ctx.url),
        logger: silentLogger,
        hashPassword: hasher.hash,
        announce: (m) => said.push(m),
        backupPort: backups(db, s3),
        seeders: SEEDERS,
      });
      const name = databaseName(db.label);

      const noConfirm = await refusal(prod.reset({ triggeredBy: "t" }));
      assert.equal(noConfirm.code, "CONFIRMATION_REQUIRED");
      assert.match(
        noConfirm.message,
        new RegExp(`a reset in production .*"confirm": "${name}" \\(the database name\\)`),
      );
      const wrong = await refusal(prod.reset({ triggeredBy: "t", confirm: "other-db" }));
      assert.match(
        wrong.message,
        new RegExp(`"confirm" must be the database name "${name}", got "other-db"`),
      );
      const restore = await refusal(prod.restore({ triggeredBy: "t" }));
      assert.equal(restore.code, "CONFIRMATION_REQUIRED");
      // Refused before anything was recorded or changed.
      assert.equal((await prod.listExecutions()).total, 0);

      // A dry-run reset needs no confirmation, and never prints a password it rolled back.
      const dry = await prod.reset({ triggeredBy: "t", dryRun: true });
      assert.equal(dry.dry_run, true);
      assert.ok(said.length > 0, "the super admin seeder announced something");
      for (const m of said) {
        assert.doesNotMatch(m, /shown once/);
        assert.doesNotMatch(m, /\n/);
      }
      assert.ok(said.some((m) => /DRY RUN: rolled back, so no password was set/.test(m)), said.join("\n"));

      // Confirmed: it runs (backup first, then reset).
      const done = await prod.reset({ triggeredBy: "t", confirm: name });
      assert.equal(done.backup_created, true);
      assert.ok(said.some((m) => /shown once/.test(m)), "a real reset shows the generated password once");
      assert.equal(hasher.calls > 0, true);
    } finally {
      await s3.close();
    }
  },
);

dbTest("production CLI: --restore asks on a terminal, needs --force otherwise", async (db, ctx) => {
  const s3 = await startTestS3();
  try {
    await insertSampleData(db);
    const b = backups(db, s3);
    await b.create({ kind: "manual", createdBy: "t" });
    const config = PROD(s3, ctx.url);
    const lines: string[] = [];
    const cli = (over: { isTerminal: boolean; answer?: string }): CliContext => ({
      config,
      db,
      logger: silentLogger,
      out: (l: string) => void lines.push(l),
      note: (l: string) => void lines.push(l),
      interactive: over.isTerminal,
      ask: () => Promise.resolve(over.isTerminal ? over.answer ?? null : null),
      stderrIsTerminal: false,
      style: (t: string) => t,
    });
    const name = databaseName(db.label);
    await assert.rejects(
      runSeed(cli({ isTerminal: false }), ["--restore"]),
      (e: unknown) =>
        e instanceof UsageError && /run it on a terminal to be asked, or pass --force/.test(e.message),
    );
    assert.equal(await runSeed(cli({ isTerminal: true, answer: "nope" }), ["--restore"]), 1);
    assert.equal(await runSeed(cli({ isTerminal: true, answer: name }), ["--restore"]), 0);
    assert.equal(await runSeed(cli({ isTerminal: false }), ["--restore", "--force"]), 0);
    // The plan needs no confirmation.
    assert.equal(await runSeed(cli({ isTerminal: false }), ["--restore", "--dry-run"]), 0);
    assert.ok(lines.some((l) => /DRY RUN — restore plan for/.test(l)));
  } finally {
    await s3.close();
  }
});

dbTest("restore plan: rows now → after per table, verified, nothing touched", async (db) => {
  const s3 = await startTestS3();
  try {
    const b = backups(db, s3);
    await insertSampleData(db, "one");
    const one = await b.create({ kind: "manual", createdBy: "t" });
    await insertSampleData(db, "two");
    const before = await snapshot(db);
    const catalog = (await b.list({ limit: 100, offset: 0 })).total;
    const plan = await b.plan({ s3Key: one.s3Key, triggeredBy: "t" });
    assert.equal(plan.dry_run, true);
    assert.equal(plan.verified, true);
    assert.equal(plan.trust, "catalog");
    assert.deepEqual(plan.tables.users, { now: 4, after: 2 });
    assert.deepEqual(plan.tables.crm_leads, { now: 4, after: 2 });
    assert.equal(plan.total.after, one.manifest!.total_rows);
    assert.deepEqual(await snapshot(db), before);
    assert.equal(
      (await b.list({ limit: 100, offset: 0 })).total,
      catalog,
      "no safety backup, nothing catalogued",
    );
    // A tampered object: the plan is refused like the restore would be.
    await s3.store.upload(one.s3Key, new Blob([new Uint8Array([1, 2, 3])]).stream());
    const e = await refusal(b.plan({ s3Key: one.s3Key, triggeredBy: "t" }));
    assert.equal(e.code, "BACKUP_INVALID");
  } finally {
    await s3.close();
  }
});

dbTest("restore plan: names the database the backup came from, and warns when it is another", async (db) => {
  // Newcomer finding 15: a backup taken by the in-memory dev server, restored into Postgres, looked like any
  // other in the plan. The manifest records its source (label, no credentials) and dialect; the plan shows both.
  const s3 = await startTestS3();
  const other = await openTestDatabase("libsql");
  try {
    // Keys hold the backup id, and both catalogs count from 1: three there first (the third is a key this
    // catalog never had), then two here.
    await insertSampleData(other.db, "elsewhere");
    const there = backups(other.db, s3);
    await there.create({ kind: "manual", createdBy: "t" });
    await there.create({ kind: "manual", createdBy: "t" });
    const foreign = await there.create({ kind: "manual", createdBy: "t" });
    await insertSampleData(db, "here");
    await backups(db, s3).create({ kind: "manual", createdBy: "t" });
    const own = await backups(db, s3).create({ kind: "manual", createdBy: "t" });
    assert.notEqual(own.s3Key, foreign.s3Key);
    const b = backups(db, s3);

    const mine = await b.plan({ s3Key: own.s3Key, triggeredBy: "t" });
    assert.deepEqual(mine.source, { database: db.label, dialect: db.dialect });
    assert.deepEqual(mine.target, { database: db.label, dialect: db.dialect });
    assert.ok(!mine.warnings.some((w) => /another database/.test(w)), mine.warnings.join("; "));

    const theirs = await b.plan({ s3Key: foreign.s3Key, triggeredBy: "t" });
    assert.deepEqual(theirs.source, { database: other.db.label, dialect: "sqlite" });
    const dialect = (d: string) => d === "sqlite" ? "libSQL" : "Postgres";
    assert.ok(
      theirs.warnings.includes(
        `the backup was taken from another database: ${other.db.label} (libSQL); this is ${db.label} (${
          dialect(db.dialect)
        })`,
      ),
      theirs.warnings.join("; "),
    );
    for (const w of theirs.warnings) assert.doesNotMatch(w, /:\/\/[^/\s]*:[^@\s]*@/, "no credentials");

    // The CLI's plan says both, one line each.
    const lines: string[] = [];
    const ctx: CliContext = {
      config: testConfig(s3.env),
      db,
      logger: silentLogger,
      out: (l: string) => void lines.push(l),
      note: (l: string) => void lines.push(l),
      interactive: false,
      ask: () => Promise.resolve(null),
      stderrIsTerminal: false,
      style: (t: string) => t,
    };
    assert.equal(
      await runSeed(ctx, ["--restore", "--dry-run", "--key", foreign.s3Key, "--untrusted"]),
      0,
      lines.join("\n"),
    );
    assert.ok(lines.includes(`  from:  ${other.db.label} (libSQL)`), lines.join("\n"));
    assert.ok(lines.includes(`  into:  ${db.label} (${dialect(db.dialect)})`), lines.join("\n"));
    assert.ok(lines.some((l) => /warning: the backup was taken from another database/.test(l)));
  } finally {
    await other.dispose();
    await s3.close();
  }
});

dbTest(
  "restore drill: into a scratch database, checked, reported and dropped; live data untouched",
  async (db, ctx) => {
    const s3 = await startTestS3();
    try {
      const b = backups(db, s3);
      await insertSampleData(db);
      const bk = await b.create({ kind: "manual", createdBy: "t" });
      await insertSampleData(db, "later");
      const before = await snapshot(db);
      const report = await drillRestore(b.restoreCollaborators(), ctx.url, { triggeredBy: "t" });
      assert.equal(report.restore_from, bk.s3Key);
      assert.equal(report.total_rows, bk.manifest!.total_rows);
      assert.deepEqual(report.tables.users, 2);
      assert.deepEqual(await snapshot(db), before);
      if (report.scratch.startsWith("libSQL file ")) {
        const path = report.scratch.slice("libSQL file ".length);
        await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
      } else if (report.scratch.startsWith("Postgres schema ")) {
        const schema = report.scratch.slice("Postgres schema ".length);
        const rows = await db.rows(
          sql`SELECT 1 FROM information_schema.schemata WHERE schema_name = ${schema}`,
        );
        assert.equal(rows.length, 0, "the scratch schema is dropped");
      }
    } finally {
      await s3.close();
    }
  },
);
