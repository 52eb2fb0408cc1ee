/**
 * `deno task seed` / `deno task verify` against a libSQL file and a Postgres schema: the CLI's own entry
 * (`runCli`) in this process, its console and stderr captured, for what the commands do; a real process
 * for a success and a usage error (what a shell or a pipeline sees).
 */
import assert from "node:assert/strict";
import { like } from "drizzle-orm";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { rowCount } from "./helpers.ts";
import { VOLUME_RESOURCES } from "../../seeders/volume.ts";
import { cli as cliProcess, cliInProcess, type CliRun } from "../cli/helpers.ts";

/** Runs the CLI on `url` with a throw-away embedded S3 folder (in-process, or as a process with `process`). */
async function cli(
  url: string,
  args: string[],
  env: Record<string, string> = {},
  process = false,
): Promise<CliRun> {
  const s3dir = await Deno.makeTempDir({ prefix: "seedbed-cli-s3-" });
  try {
    const all = {
      DATABASE_URL: url,
      APP_ENV: "development",
      LOG_LEVEL: "error",
      S3_EMBEDDED_DIR: s3dir,
      ...env,
    };
    return process ? await cliProcess(args, all) : await cliInProcess(args, all);
  } finally {
    await Deno.remove(s3dir, { recursive: true }).catch(() => {});
  }
}

const both = { only: POSTGRES_IS_SERVER ? undefined : ["libsql" as const] };

dbTest(
  "cli: seed, seed again (zeros), --list, --only, --dry-run --scale, verify, --reset",
  async (db, { url }) => {
    const list = await cli(url, ["seed", "--list"], {}, true); // a real process
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ +# +SEEDER +RUNS IN +DEPENDS ON +DESCRIPTION$/m, "a header");
    const order = [...list.stdout.matchAll(/^[* ] +\d+ {2}(\w+Seeder) /gm)].map((m) => m[1]);
    assert.deepEqual(order.slice(0, 5), [
      "PermissionsSeeder",
      "RolesSeeder",
      "EntitlementsSeeder",
      "SuperAdminSeeder",
      "SMSTemplatesSeeder",
    ]);
    assert.match(list.stdout, /VolumeSeeder +with --scale N +DemoUsersSeeder /);

    const first = await cli(url, ["seed", "--no-backup"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Seeded \(execution 1\)/);
    assert.match(first.stdout, /PermissionsSeeder +completed +\d+ +0 +0/);
    assert.match(first.stdout, /backup: none/);

    const again = await cli(url, ["seed", "--no-backup", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const r = JSON.parse(again.stdout);
    assert.deepEqual(r.results.total, { created: 0, updated: 0, deleted: 0 });
    assert.equal(r.execution_id, 2);

    const only = await cli(url, ["seed", "--no-backup", "--json", "--only", "SuperAdminSeeder"]);
    assert.equal(only.code, 0, only.stderr);
    assert.deepEqual(Object.keys(JSON.parse(only.stdout).results.seeders), [
      "PermissionsSeeder",
      "RolesSeeder",
      "SuperAdminSeeder",
    ]);

    const dry = await cli(url, ["seed", "--dry-run", "--scale", "5", "--random-seed", "3"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /DRY RUN, nothing was saved/);
    const volumeRows = 5 * VOLUME_RESOURCES.length; // --scale 5: five rows per volume table
    assert.match(dry.stdout, new RegExp(`VolumeSeeder +completed +${volumeRows} +0 +0`));
    // Progress goes to stderr: without a terminal, plain lines and a summary.
    assert.match(dry.stderr, new RegExp(`^Volume data \\(--scale 5\\): ${volumeRows} rows in \\d+ s`, "m"));
    assert.equal(
      (await db.db.select().from(db.t.crmLeads).where(like(db.t.crmLeads.name, "VOL-%"))).length,
      0,
    );

    const verify = await cli(url, ["verify"]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /✓ tables: (\d+)\/\1 present/);
    assert.match(verify.stdout, /✓ migrations: \d+ applied, 0 pending, 0 drifted/);
    assert.match(verify.stdout, /SELECT COUNT\(\*\) FROM organizations; → 2/);
    assert.match(
      verify.stdout,
      /Org: Test Corp \(id \d+\)\n +License Tier: starter\n +Enabled Modules: \{[^}]*"CRM":true/,
    );
    assert.match(verify.stdout, /User: executive@testcorp\.com +Role: executive/);
    assert.match(verify.stdout, /Role Permissions: [1-9]\d*/);
    assert.match(verify.stdout, /Result: OK/);

    const users = await rowCount(db, db.t.users);
    await db.db.insert(db.t.users).values({ email: "temp@x.com", passwordHash: "x", role: "admin" });
    const reset = await cli(url, ["seed", "--reset", "--no-backup"]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /^Reset and seeded \(execution \d+\)/m);
    assert.equal(
      await rowCount(db, db.t.users),
      users,
      "the hand-made user is gone, the seeded ones are back",
    );
    assert.equal(
      await rowCount(db, db.t.seederExecutions),
      5,
      "history kept: 4 runs before the reset, and the reset",
    );
  },
  both,
);

dbTest("cli: bad input exits 2 with a clear message and records no execution", async (db, { url }) => {
  const unknown = await cli(url, ["seed", "--no-backup", "--only", "RolesSeeder", "Nope"], {}, true); // a process
  assert.equal(unknown.code, 2, "an unknown seeder is a usage error");
  assert.match(unknown.stderr, /unknown seeder "Nope"; known seeders: PermissionsSeeder, /);
  assert.equal((await db.db.select().from(db.t.seederExecutions)).length, 0, "not a failed execution");
  assert.equal(await rowCount(db, db.t.roles), 0);

  const usage = await cli(url, ["seed", "--scale", "lots"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--scale needs a whole number \(0 or more\), got lots/);
  const bogus = await cli(url, ["seed", "--frobnicate"]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /unknown seed option "--frobnicate"/);
  const mixed = await cli(url, ["seed", "--key", "k"]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--key and --execution go with --restore/);
}, both);

dbTest(
  "cli: backup before seeding, then --restore --execution N and --key K through the backups module",
  async (db, { url }) => {
    const s3dir = await Deno.makeTempDir({ prefix: "seedbed-cli-s3-shared-" });
    try {
      const env = { S3_EMBEDDED_DIR: s3dir };
      // Seeding an empty database takes no backup (there is nothing to protect; issue 12, finding 4).
      const first = await cli(url, ["seed", "--json"], env);
      assert.equal(first.code, 0, first.stderr);
      // Which S3 it uses, on stderr, as docs/backups.md says (newcomer finding 15).
      assert.match(
        first.stderr,
        /^Embedded S3 at http:\/\/127\.0\.0\.1:\d+ \(bucket "[^"]+", data in \S+\)$/m,
      );
      const f = JSON.parse(first.stdout);
      assert.equal(f.backup_created, false);
      assert.match(f.warnings.join("\n"), /backup not taken: the database holds no application rows/);
      const seeded = await cli(url, ["seed", "--json"], env);
      assert.equal(seeded.code, 0, seeded.stderr);
      const r = JSON.parse(seeded.stdout);
      assert.equal(r.backup_created, true, seeded.stdout);
      assert.match(r.backup_s3_key, /^database-backups\/\d{8}_\d{6}_execution_2\.json\.gz$/);

      // A user added since; restoring execution 2's backup (taken before its run) removes it again.
      const users = await rowCount(db, db.t.users);
      assert.ok(users > 0);
      await db.db.insert(db.t.users).values({
        email: "later@example.com",
        passwordHash: "x",
        role: "executive",
      });
      const restored = await cli(url, ["seed", "--restore", "--execution", "2"], env);
      assert.equal(restored.code, 0, restored.stderr);
      assert.match(
        restored.stdout,
        new RegExp(`Restored ${r.backup_s3_key.replaceAll(".", "\\.")} \\(execution \\d+\\)`),
      );
      assert.equal(await rowCount(db, db.t.users), users);

      const missing = await cli(url, ["seed", "--restore", "--key", "database-backups/nope.json.gz"], env);
      assert.equal(missing.code, 1);
      // One human line says it (docs/cli.md), not three (restore_failed, seeding_restore_failed and the
      // command's own line; newcomer finding 13).
      const said = missing.stderr.split("\n").filter((l) => l.includes("nope.json.gz"));
      assert.equal(said.length, 1, missing.stderr);
      assert.match(said[0], /^seedbed: .*nope\.json\.gz.*\[NOT_FOUND\]/);
    } finally {
      await Deno.remove(s3dir, { recursive: true }).catch(() => {});
    }
  },
  both,
);

dbTest("cli: verify fails on a database that is not migrated", async (_db, { url }) => {
  const v = await cli(url, ["verify"]);
  assert.equal(v.code, 1);
  assert.match(v.stdout, /✗ tables: 0\/\d+ present \(missing: /);
  assert.match(v.stdout, /Result: \d+ problems?\n +✗ missing tables: .*run `deno task migrate`/);
  // No row counts from tables that do not exist (they would read as 0 and contradict the result).
  assert.doesNotMatch(v.stdout, /SELECT COUNT/);
  assert.match(v.stdout, /skipped: the database is not migrated/);
  // seed and backup on the same database say what to do instead of a driver stack trace.
  for (const args of [["seed"], ["backup"]]) {
    const r = await cli(url, args);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(
      r.stderr,
      /the database is not migrated \(table \w+ is missing\): run `(deno|npx -y deno@2) task migrate` first/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
}, { ...both, migrated: false });
