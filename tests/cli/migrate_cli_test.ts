/**
 * `deno task migrate …` as a user runs it: seed 000's migration section step
 * for step (up one, down one, down to a revision, current, history, stamp,
 * the "completely stuck" recipe), the data-loss guard of `down`, and exit codes.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { readMigrations } from "../../src/db/migrator.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { cli, cliInProcess } from "./helpers.ts";

const both = { migrated: false, only: POSTGRES_IS_SERVER ? undefined : ["libsql" as const] };

/** The migration tags of the dialect, oldest first (tests must keep working when migrations are added). */
async function tags(db: Database): Promise<string[]> {
  return (await readMigrations(db)).map((f) => f.tag);
}

dbTest("migrate CLI: seed 000's migration section, step for step", async (db, { url }) => {
  const all = await tags(db);
  const HEAD = all.at(-1)!;
  const run = (...args: string[]) => cliInProcess(["migrate", ...args], { DATABASE_URL: url });

  // As a process once (what a user runs); in-process after that (the same runCli, much faster).
  const status0 = await cli(["migrate", "status"], { DATABASE_URL: url });
  assert.equal(status0.code, 0, status0.stderr);
  assert.match(status0.stderr, /^Database: \S+ \((libSQL|Postgres)\)$/m, "names the database first");
  assert.match(status0.stdout, /^STATE +MIGRATION +SHA-256 +APPLIED$/m);
  assert.match(status0.stdout, /^PENDING +0000_initial +sha256:[0-9a-f]{64}$/m);

  // alembic upgrade +1
  const up1 = await run("upgrade", "+1");
  assert.equal(up1.code, 0, up1.stderr);
  assert.doesNotMatch(
    up1.stderr,
    /warning|access_lease/,
    "no lease wait on a schema without the lease table",
  );
  assert.match(up1.stdout, /^Applied 0000_initial\nNow at 0000_initial \(head is \S+\)\.$/m);
  // alembic current
  const cur = await run("current");
  assert.equal(cur.stdout, `0000_initial (${all.length - 1} pending; head is ${HEAD})\n`);
  // alembic upgrade head
  const head = await run("up");
  assert.equal(head.code, 0, head.stderr);
  assert.ok(head.stdout.endsWith(`Applied ${HEAD}\nNow at head (${HEAD}).\n`), head.stdout);
  assert.equal((await run("current")).stdout, `${HEAD} (head)\n`);
  // alembic downgrade -1 (empty tables: nothing to lose, no question)
  const down1 = await run("downgrade", "-1");
  assert.equal(down1.code, 0, down1.stderr);
  assert.equal(down1.stdout, `Reverted ${HEAD}\nNow at ${all.at(-2)}.\n`);
  // alembic downgrade <revision>
  const downTo = await run("down", "--to", "0000_initial");
  assert.equal(downTo.code, 0, downTo.stderr);
  assert.equal(
    downTo.stdout,
    all.slice(1, -1).reverse().map((t) => `Reverted ${t}\n`).join("") + "Now at 0000_initial.\n",
  );
  // up --to, then history
  assert.equal((await run("up", "--to", "0002")).code, 0);
  const history = await run("history");
  assert.match(history.stdout, /^MIGRATION +STATE +APPLIED +DOWN +SHA-256$/m);
  assert.match(history.stdout, new RegExp(`^${HEAD} +\\(head\\) +pending +yes +[0-9a-f]{12}$`, "m"));
  assert.match(
    history.stdout,
    /^0002_security_version_triggers +\(current\) +applied +\d{4}-\S+ +yes +[0-9a-f]{12}$/m,
  );
  const lines = history.stdout.trim().split("\n");
  assert.ok(lines.every((l) => !l.includes("\t")), "aligned with spaces");
  const verbose = await run("history", "--verbose");
  assert.match(
    verbose.stdout,
    /^Rev: 0001_login_throttles\nParent: 0000_initial\nState: applied, applied \d{4}-/m,
  );
  assert.match(
    verbose.stdout,
    /^Down: migrations\/(sqlite|postgres)\/0002_security_version_triggers\.down\.sql \(\d+ statements\)$/m,
  );
  assert.match(verbose.stdout, /^ {4}Security version triggers: any change/m);

  // The "completely stuck" recipe: note the version, empty the table, stamp head — the emptying done by the
  // CLI, under the migration lock, on the database it names (newcomer finding 5), never by a bare psql.
  assert.equal((await run("up")).code, 0);
  const noTty = await run("stamp", "head", "--reset");
  assert.equal(noTty.code, 1, "no terminal, no --force: refused");
  assert.match(
    noTty.stderr,
    /This empties the migration history \(seedbed_migrations, \d+ record\(s\)\) of \S+/,
  );
  assert.match(noTty.stderr, /Refused: no terminal to ask; run again with --force/);
  assert.match((await run("status")).stdout, new RegExp(`${all.length} applied`), "nothing was changed");
  const reset = await run("stamp", "base", "--reset", "--force");
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(
    reset.stdout,
    new RegExp(`^Emptied the migration history of \\S+: ${all.length} record\\(s\\) removed\\.$`, "m"),
  );
  assert.match((await run("status")).stdout, new RegExp(`0 applied, ${all.length} pending`));
  const stuck = await run("up");
  assert.equal(stuck.code, 1);
  assert.match(stuck.stderr, /already exists/);
  // The schema is all there: stamp head (stamp 0000_initial would record the first migration only; finding 6).
  assert.match(stuck.stderr, /`deno task migrate stamp head`/);
  assert.match(stuck.stderr, /\[MIGRATION_FAILED\]/);
  assert.doesNotMatch(stuck.stderr, /^\s+at /m, "no stack trace");
  const stamped = await run("stamp", "head");
  assert.equal(stamped.code, 0, stamped.stderr);
  assert.match(stamped.stdout, /Recorded as applied \(nothing was run\): 0000_initial, 0001_login_throttles/);
  assert.match(stamped.stdout, new RegExp(`^Stamped ${HEAD} \\(was base\\)\\.$`, "m"));
  assert.match((await run("status")).stdout, new RegExp(`${all.length} applied, 0 pending, 0 drifted`));
}, both);

dbTest(
  "migrate CLI: a down that drops data says so, refuses without a terminal, runs with --force",
  async (db, { url }) => {
    const run = (...args: string[]) => cliInProcess(["migrate", ...args], { DATABASE_URL: url });
    assert.equal((await run()).code, 0);
    await db.run(
      db.dialect === "sqlite"
        ? "INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('k', 1, 0)"
        : "INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('k', 1, now())",
    );
    const refused = await run("down", "--to", "0000");
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /This down migration destroys data:\n {2}- 0001_login_throttles: drops table login_throttles \(1 row\)/,
    );
    assert.match(refused.stderr, /add --backup/);
    assert.match(refused.stderr, /no terminal to ask; run again with --force/);
    assert.match((await run("current")).stdout, /\(head\)$/m, "nothing was changed");
    // --sql prints what would run, and runs nothing.
    const pretend = await run("down", "--to", "0000", "--sql");
    assert.match(
      pretend.stdout,
      /^-- down 0001_login_throttles \((sqlite|postgres)\/0001_login_throttles\.down\.sql\)$/m,
    );
    assert.match(pretend.stdout, /DROP TABLE [`"]login_throttles[`"]/);
    const forced = await run("down", "--to", "0000", "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /Now at 0000_initial\./);
    const [t] = await db.rows<{ n: number }>(
      db.dialect === "sqlite"
        ? sql`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'login_throttles'`
        : sql`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'login_throttles'`,
    );
    assert.equal(Number(t.n), 0);
  },
  both,
);

Deno.test({
  name: "migrate CLI: on a terminal the data-loss question decides; in production only --force does",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-migrate-tty-" });
    const env = { DATABASE_URL: `file:${dir}/m.db`, APP_ENV: "development", LOG_LEVEL: "error" };
    try {
      const run = (args: string[], answers: string[], extra: Record<string, string> = {}) =>
        cliInProcess(["migrate", ...args], { ...env, ...extra }, answers);
      assert.equal((await run([], [])).code, 0);
      // Rows in a table the down drops.
      const { openDatabase } = await import("../../src/db/client.ts");
      const db = await openDatabase(env.DATABASE_URL);
      await db.run("INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('k', 1, 0)");
      await db.close();

      const no = await run(["down", "--to", "0000"], ["no"]);
      assert.equal(no.code, 1);
      assert.match(no.stderr, /Type yes to continue:/);
      assert.match(no.stderr, /Nothing was changed\./);

      const prod = await run(["down", "--to", "0000"], ["yes"], {
        APP_ENV: "production",
        SECRET_KEY: "a-real-production-secret-key-of-forty-chars!",
      });
      assert.equal(prod.code, 1);
      assert.match(prod.stderr, /Refused: in production a down migration that drops data needs --force/);
      assert.doesNotMatch(prod.stderr, /Type yes/, "production does not ask: it needs --force");

      const yes = await run(["down", "--to", "0000"], ["yes"]);
      assert.equal(yes.code, 0, yes.stderr);
      assert.match(yes.stdout, /Now at 0000_initial\./);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "migrate CLI: usage mistakes exit 2 and name what was wrong",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-migrate-usage-" });
    const env = { DATABASE_URL: `file:${dir}/m.db` };
    try {
      const cases: [string[], RegExp][] = [
        [["migrate", "sideways"], /unknown migrate command "sideways"/],
        [["migrate", "up", "--step", "0"], /--step needs a whole number of at least 1, got 0/],
        [["migrate", "down", "--step", "1", "--to", "base"], /give --step or --to, not both/],
        [["migrate", "up", "--to", "nope"], /unknown revision "nope": the migrations are 0000_initial/],
        [["migrate", "up", "-1"], /use \+N with up and -N with down/],
        [["migrate", "stamp"], /migrate stamp needs one revision/],
        [["migrate", "status", "--force"], /migrate status does not take --force/],
      ];
      for (const [args, message] of cases) {
        const r = await cliInProcess(args, env);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "migrate CLI: down --backup takes a backup before dropping data, at the schema it was taken at",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-migrate-backup-" });
    const env = { DATABASE_URL: `file:${dir}/m.db`, APP_ENV: "development", S3_EMBEDDED_DIR: `${dir}/s3` };
    try {
      assert.equal((await cliInProcess(["migrate"], env)).code, 0);
      const { openDatabase } = await import("../../src/db/client.ts");
      const db = await openDatabase(env.DATABASE_URL);
      await db.run("INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('k', 1, 0)");
      const head = (await readMigrations(db)).at(-1)!.tag;
      await db.close();
      const r = await cliInProcess(["migrate", "down", "--to", "0000", "--backup", "--force"], env);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /Back it up first/, "--backup given: no advice to take one");
      const m = /^Backup (\d+) completed: (\S+) \(restorable at schema (\S+)\)$/m.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.equal(m[3], head, "taken before the down ran");
      assert.ok(r.stdout.indexOf("Backup ") < r.stdout.indexOf("Reverted "), "the backup comes first");
      assert.match(r.stdout, /Now at 0000_initial\./);
      // The backup is in the catalog: `backup list` is an aligned table under a header.
      await cliInProcess(["migrate"], env);
      const list = await cliInProcess(["backup", "list"], env);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ *ID +STATUS +KIND +CREATED +SIZE +ROWS +KEY$/m);
      assert.match(
        list.stdout,
        new RegExp(`^ *${m[1]} +completed +manual +\\d{4}-\\S+ +[\\d.]+ \\w?i?B +\\d+ +${m[2]}$`, "m"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
