/**
 * `deno task backup [create|list|show|verify|prune|drill]` against a real database and S3: the CLI's own
 * entry (`runCli`) in this process for what the commands do, and a real process for a backup and for a
 * failure's exit code (what a shell or a cron job sees).
 */
import assert from "node:assert/strict";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { insertSampleData } from "./fixtures.ts";
import { download, plant } from "./helpers.ts";
import { cli as cliProcess, cliInProcess, type CliRun } from "../cli/helpers.ts";

/** `backup …` in this process, or as a real process with `process`. */
function cli(args: string[], env: Record<string, string>, process = false): Promise<CliRun> {
  const all = { APP_ENV: "test", LOG_LEVEL: "warn", SECRET_KEY: "x".repeat(40), ...env };
  return process ? cliProcess(["backup", ...args], all) : cliInProcess(["backup", ...args], all);
}

dbTest(
  "cli: backup create, list, show, verify, prune; bad input exits non-zero naming it",
  async (db, ctx) => {
    const s3 = await startTestS3();
    try {
      await insertSampleData(db);
      const env = { ...s3.env, DATABASE_URL: ctx.url, BACKUP_RETENTION_COUNT: "1" };

      const created = await cli(["create"], env, true); // a real process
      assert.equal(created.code, 0, created.stderr);
      const key = /completed: (database-backups\/\S+_manual_\d+\.json\.gz)/.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      assert.match(created.stdout, /rows: +13 in \d+ tables/);
      assert.match(created.stdout, /sha256: +[0-9a-f]{64}/);

      const listed = await cli(["list", "--json"], env);
      assert.equal(listed.code, 0, listed.stderr);
      const page = JSON.parse(listed.stdout) as { items: { id: number; s3Key: string }[]; total: number };
      assert.equal(page.total, 1);
      assert.equal(page.items[0].s3Key, key);

      const shown = await cli(["show", String(page.items[0].id)], env);
      assert.equal(shown.code, 0);
      assert.match(shown.stdout, /crm_leads +2/);

      const verified = await cli(["verify", key!], env);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /^OK /);
      assert.match(verified.stdout, /matches the catalog/);

      // A second backup prunes the first (BACKUP_RETENTION_COUNT=1).
      assert.equal((await cli([], env)).code, 0);
      const pruned = JSON.parse((await cli(["list", "--json", "--status", "pruned"], env)).stdout);
      assert.equal(pruned.items[0].s3Key, key);

      const unknown = await cli(["verify", "database-backups/nope.json.gz"], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /"database-backups\/nope\.json\.gz" not found.*\[NOT_FOUND\]/);
      const badId = await cli(["show", "x"], env);
      assert.equal(badId.code, 2);
      assert.match(badId.stderr, /backup id must be a positive whole number, got "x"/);
      const badSub = await cli(["explode"], env);
      assert.equal(badSub.code, 2);
      assert.match(badSub.stderr, /unknown backup command "explode"/);

      const down = await cli(["create"], { ...env, S3_ENDPOINT: "http://127.0.0.1:9" }, true); // a process
      assert.equal(down.code, 1);
      assert.match(down.stderr, /S3 is unreachable at http:\/\/127\.0\.0\.1:9.*\[STORAGE_UNAVAILABLE\]/);
    } finally {
      await s3.close();
    }
  },
  { only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] },
);

dbTest(
  "cli: list --bucket shows signed and unsigned objects; verify --untrusted; drill restores into a scratch database",
  async (db, ctx) => {
    const s3 = await startTestS3();
    try {
      await insertSampleData(db);
      const env = { ...s3.env, DATABASE_URL: ctx.url };
      const created = await cli(["create"], env);
      assert.equal(created.code, 0, created.stderr);
      const key = /completed: (\S+)/.exec(created.stdout)![1];
      await plant(
        s3,
        "database-backups/20990101_000000_manual_9.json.gz",
        await download(s3, key).then((d) => d.bytes),
      );

      const listed = await cli(["list", "--bucket"], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`signed +manual .* ${key.replaceAll(".", "\\.")}`));
      assert.match(listed.stdout, /UNSIGNED .*20990101_000000_manual_9\.json\.gz +\(not in the catalog\)/);
      assert.match(listed.stdout, /it has no signed manifest/);
      assert.match(listed.stdout, /deno task seed --restore --key KEY/);
      const json = JSON.parse((await cli(["list", "--bucket", "--json"], env)).stdout);
      assert.equal(json.length, 2);
      assert.equal(json.find((b: { s3_key: string }) => b.s3_key === key).signed, true);

      const refused = await cli(["verify", "database-backups/20990101_000000_manual_9.json.gz"], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /cannot be trusted: it has no signed manifest.*--untrusted/);
      const untrusted = await cli([
        "verify",
        "database-backups/20990101_000000_manual_9.json.gz",
        "--untrusted",
      ], env);
      assert.equal(untrusted.code, 0, untrusted.stderr);
      assert.match(untrusted.stdout, /UNTRUSTED: neither catalogued nor signed/);

      const drill = await cli(["drill"], env);
      assert.equal(drill.code, 0, drill.stderr);
      assert.match(drill.stdout, new RegExp(`Drill OK: ${key.replaceAll(".", "\\.")} restores cleanly`));
      assert.match(drill.stdout, /13 rows in \d+ tables; verify \d+ ms, load \d+ ms/);
      assert.match(drill.stdout, /\(dropped afterwards\)/);
    } finally {
      await s3.close();
    }
  },
  { only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] },
);

dbTest(
  "cli: backup schedule prints BACKUP_SCHEDULE's next runs; none set or a bad one says so",
  async (_db, ctx) => {
    const s3 = await startTestS3();
    try {
      const env = { ...s3.env, DATABASE_URL: ctx.url };
      const planned = await cli(["schedule", "--count", "3", "--json"], {
        ...env,
        BACKUP_SCHEDULE: "0 3 * * *",
      });
      assert.equal(planned.code, 0, planned.stderr);
      const out = JSON.parse(planned.stdout) as { schedule: string; timezone: string; next_runs: string[] };
      assert.equal(out.schedule, "0 3 * * *");
      assert.equal(out.timezone, "UTC");
      assert.equal(out.next_runs.length, 3);
      const times = out.next_runs.map((s) => new Date(s));
      assert.ok(times.every((t) => t.getUTCHours() === 3 && t.getUTCMinutes() === 0), planned.stdout);
      assert.ok(times[0].getTime() > Date.now() && times[0].getTime() <= Date.now() + 86_400_000);
      assert.deepEqual(times.slice(1).map((t, i) => t.getTime() - times[i].getTime()), [
        86_400_000,
        86_400_000,
      ]);
      const text = await cli(["schedule"], { ...env, BACKUP_SCHEDULE: "*/15 * * * *" });
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /Schedule: \*\/15 \* \* \* \* \(UTC\)/);
      assert.equal(
        (text.stdout.match(/^ {2}\d{4}-\d\d-\d\dT\d\d:(00|15|30|45):00\.000Z$/gm) ?? []).length,
        5,
      );
      const none = await cli(["schedule"], env);
      assert.equal(none.code, 0);
      assert.match(none.stdout, /No schedule: set BACKUP_SCHEDULE/);
      const bad = await cli(["schedule"], { ...env, BACKUP_SCHEDULE: "every day" });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr + bad.stdout, /BACKUP_SCHEDULE/);
    } finally {
      await s3.close();
    }
    // One dialect: the schedule is read from the configuration; no database work.
  },
  { only: ["libsql"] },
);

dbTest(
  "cli: backup create, verify and seed --restore print rows-based progress lines without a terminal (rows, rows/s, time left from the manifest, MiB after); --json keeps them off stdout",
  async (db, ctx) => {
    const s3 = await startTestS3();
    try {
      await insertSampleData(db);
      for (let i = 0; i < 6; i++) {
        await db.db.insert(db.t.users).values(
          Array.from({ length: 500 }, (_, j) => ({
            email: `progress-${i}-${j}@example.com`,
            passwordHash: "x",
            role: "executive" as const,
          })),
        );
      }
      const env = {
        ...s3.env,
        DATABASE_URL: ctx.url,
        APP_ENV: "test",
        LOG_LEVEL: "warn",
        SECRET_KEY: "x".repeat(40),
      };
      const run = (args: string[]) => cliInProcess(args, env, undefined, { progressEveryMs: 0 });

      const created = await run(["backup", "create"]);
      assert.equal(created.code, 0, created.stderr);
      const key = /completed: (database-backups\/\S+_manual_\d+\.json\.gz)/.exec(created.stdout)?.[1];
      assert.ok(key, created.stdout);
      const k = key!.replaceAll(".", "\\.");
      const total = Number(/rows: +(\d+)/.exec(created.stdout)?.[1]);
      assert.ok(total > 3000, created.stdout);
      const fmt = (n: number) => n.toLocaleString("en-US");
      // A backup's total is not known while it is written: rows so far, no time left.
      const backupLines = created.stderr.split("\n").filter((l) => l.startsWith(`Backing up to ${key}: `));
      assert.ok(backupLines.length >= 2, created.stderr);
      assert.match(
        backupLines[0],
        new RegExp(`^Backing up to ${k}: [\\d,]+ rows, [\\d,]+ rows/s, \\d+ s so far, [\\d.]+ MiB uploaded$`),
      );
      assert.match(
        created.stderr,
        new RegExp(
          `^Backing up to ${k}: ${fmt(total)} rows in \\d+ s( \\([\\d,]+ rows/s\\))?, [\\d.]+ MiB uploaded$`,
          "m",
        ),
      );
      assert.doesNotMatch(created.stdout, /rows\/s/);

      const verified = await run(["backup", "verify", key!]);
      assert.equal(verified.code, 0, verified.stderr);
      const verifyLines = verified.stderr.split("\n").filter((l) => l.startsWith(`Verifying ${key}: `));
      assert.ok(verifyLines.length >= 2, verified.stderr);
      assert.match(
        verifyLines[0],
        new RegExp(
          `^Verifying ${k}: [\\d,]+/${
            fmt(total)
          } rows \\(\\d+ %\\), [\\d,]+ rows/s, about (\\d+ s|\\d+:\\d\\d) left, [\\d.]+ MiB read$`,
        ),
      );
      assert.match(verified.stderr, new RegExp(`^Verifying ${k}: ${fmt(total)} rows in `, "m"));

      const json = await run(["backup", "verify", key!, "--json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(JSON.parse(json.stdout).total_rows, total, "stdout is the JSON alone");
      assert.match(json.stderr, /^Verifying .* rows/m);

      await db.db.insert(db.t.users).values({
        email: "later@example.com",
        passwordHash: "x",
        role: "executive",
      });
      const restored = await run(["seed", "--restore", "--key", key!]);
      assert.equal(restored.code, 0, restored.stderr);
      const restoreLines = restored.stderr.split("\n").filter((l) => l.startsWith(`Restoring ${key}: `));
      assert.ok(restoreLines.length >= 2, restored.stderr);
      assert.match(
        restoreLines[0],
        new RegExp(
          `^Restoring ${k}: [\\d,]+/${
            fmt(total)
          } rows \\(\\d+ %\\), [\\d,]+ rows/s, about (\\d+ s|\\d+:\\d\\d) left, [\\d.]+ MiB read$`,
        ),
      );
      assert.match(restored.stderr, new RegExp(`^Restoring ${k}: ${fmt(total)} rows in `, "m"));
      // The restore verifies first, and takes a safety backup of what it replaces.
      assert.match(restored.stderr, new RegExp(`^Verifying ${k}: `, "m"));
      assert.match(restored.stderr, /^Backing up to database-backups\/\S+_safety_\S+: /m);
    } finally {
      await s3.close();
    }
  },
  { only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] },
);
