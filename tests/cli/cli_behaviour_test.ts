/**
 * The command line does what it says: `.env` beneath the environment, the database named first, no
 * throw-away database by surprise, exit codes 0/1/2, no JSON log lines unless asked, colours only on a
 * terminal, published placeholders refused in production, and a `.env.example` that works as written.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { colorsEnabled, humanLogLine } from "../../src/cli/context.ts";
import { formatTable } from "../../src/cli/table.ts";
import { createProgress, formatDuration, progressNumbers } from "../../src/cli/progress.ts";
import { countTransfers, rowProgressLines } from "../../src/cli/transfer_progress.ts";
import type { ObjectStore } from "../../src/storage/object_store.ts";
import { ConfigError, envSchema, loadConfig } from "../../src/config.ts";
import { EnvFileError, parseEnvFile, withEnvFile } from "../../src/env_file.ts";
import { placeholderProblems } from "../../src/placeholders.ts";
import { ENV_EXAMPLE, renderEnvExample } from "../../scripts/config_docs.ts";
import { openDatabase } from "../../src/db/client.ts";
import { cli, cliInProcess, CONFIG } from "./helpers.ts";

Deno.test({
  name: "cli: .env in the working directory configures the CLI; a real variable wins over it",
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "seedbed-dotenv-" });
    try {
      await Deno.writeTextFile(
        `${cwd}/.env`,
        "# written by the test\nexport DATABASE_URL=file:./.data/from-dotenv.db\nLOG_LEVEL='error' # quiet\n",
      );
      const fromFile = await cli(["migrate", "current"], {}, cwd);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.match(fromFile.stderr, /^Database: file:\.\/\.data\/from-dotenv\.db \(libSQL\)$/m);
      assert.match(fromFile.stdout, /^base \(no migration applied; \d+ pending\)$/m);
      assert.ok((await Deno.stat(`${cwd}/.data/from-dotenv.db`)).isFile, "the example's folder is created");

      const real = await cli(["migrate", "current"], { DATABASE_URL: `file:${cwd}/real.db` }, cwd);
      assert.equal(real.code, 0, real.stderr);
      assert.match(real.stderr, new RegExp(`^Database: file:${cwd}/real\\.db \\(libSQL\\)$`, "m"));

      await Deno.writeTextFile(`${cwd}/.env`, "DATABASE_URL=file:x.db\nthis line is wrong s3cr3t\n");
      const bad = await cli(["migrate", "current"], {}, cwd);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^seedbed: \.env line 2: expected NAME=value/m);
      assert.doesNotMatch(bad.stderr, /s3cr3t/, "the line's content (maybe a secret) is not echoed");
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test({
  name: "server: main.ts reads .env too (a bad value in it stops the start, naming the variable)",
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "seedbed-dotenv-main-" });
    try {
      await Deno.writeTextFile(`${cwd}/.env`, "PORT=eighty\n");
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", CONFIG, new URL("../../src/main.ts", import.meta.url).pathname],
        cwd,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 1);
      assert.match(new TextDecoder().decode(out.stderr), /PORT: must be a whole number/);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test("cli: .env parsing — comments, export, quotes, and the environment always wins", async () => {
  assert.deepEqual(
    parseEnvFile(
      '# c\n\nA=1\nexport B = two words # comment\nC="quoted # not a comment"\nD=\'single\'\nE=\nF="x\\ny"\n' +
        'K="-----BEGIN\nline\n-----END"\n',
    ),
    {
      A: "1",
      B: "two words",
      C: "quoted # not a comment",
      D: "single",
      E: "",
      F: "x\ny",
      K: "-----BEGIN\nline\n-----END",
    },
  );
  assert.throws(
    () => parseEnvFile("A=1\n=2\n"),
    (e: unknown) => e instanceof EnvFileError && /line 2/.test(e.message),
  );
  assert.throws(() => parseEnvFile('A="open\n'), /closing " is missing/);
  // Invariant: a variable set in the environment is never replaced by the file, whatever both hold.
  const name = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/);
  const value = fc.stringMatching(/^[ -~]{0,20}$/); // printable ASCII, quotes and backslashes included
  await fc.assert(
    fc.asyncProperty(fc.dictionary(name, value), fc.dictionary(name, value), async (file, env) => {
      const dir = await Deno.makeTempDir({ prefix: "seedbed-dotenv-prop-" });
      try {
        await Deno.writeTextFile(
          `${dir}/.env`,
          Object.entries(file).map(([k, v]) => `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`)
            .join("\n"),
        );
        const merged = (await withEnvFile(env, dir)).env;
        return Object.entries(env).every(([k, v]) => merged[k] === v) &&
          Object.entries(file).every(([k, v]) => k in env || merged[k] === v);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }),
    { numRuns: 30 },
  );
  assert.equal((await withEnvFile({ A: "1" }, "/nonexistent-dir")).file, null);
});

Deno.test({
  name:
    "cli: migrate, seed, backup, restore and verify refuse a throw-away database and say how to set one (exit 2)",
  fn: async () => {
    const commands = [["migrate"], ["seed"], ["seed", "--restore"], ["backup", "create"], ["verify"], [
      "migrate",
      "status",
    ]];
    for (const args of commands) {
      const unset = await cliInProcess(args, {});
      assert.equal(unset.code, 2, `${args.join(" ")}: ${unset.stderr}`);
      assert.match(
        unset.stderr,
        /DATABASE_URL is not set, so this would use :memory:: a throw-away database/,
      );
      assert.match(unset.stderr, /DATABASE_URL=file:\.\/\.data\/seedbed\.db/);
      assert.match(unset.stderr, /in \.env in this directory/);
    }
    for (const url of [":memory:"]) {
      const r = await cliInProcess(["migrate"], { DATABASE_URL: url });
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`DATABASE_URL is ${url}: a throw-away database`));
    }
  },
});

Deno.test({
  name: "cli: exit codes — 0 success, 1 failure, 2 usage (unknown command, option or revision; bad config)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-exit-" });
    const env = { DATABASE_URL: `file:${dir}/e.db` };
    try {
      assert.equal((await cliInProcess([], env)).code, 2);
      assert.equal((await cliInProcess(["--help"], env)).code, 0);
      assert.equal((await cliInProcess(["frobnicate"], env)).code, 2);
      assert.equal((await cliInProcess(["migrate", "--log-json"], env)).code, 0, "--log-json is accepted");
      assert.equal((await cliInProcess(["migrate", "up", "--to", "9999_nope"], env)).code, 2);
      const badConfig = await cliInProcess(["migrate"], { ...env, PORT: "eighty" });
      assert.equal(badConfig.code, 2);
      assert.match(badConfig.stderr, /PORT: must be a whole number/);
      // A failure: an applied migration's file is gone from the list the database knows (drift) → 1.
      const db = await openDatabase(env.DATABASE_URL);
      await db.run(
        "INSERT INTO seedbed_migrations (idx, tag, hash, applied_at) VALUES (999, '0999_gone', 'x', 0)",
      );
      await db.close();
      const drift = await cliInProcess(["migrate", "up"], env);
      assert.equal(drift.code, 1);
      assert.match(drift.stderr, /0999_gone \(applied, but its file is missing\).*\[MIGRATION_DRIFT\]/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("cli: log lines are human unless --log-json; colours only on a terminal and never with NO_COLOR", () => {
  const line = JSON.stringify({
    ts: "t",
    level: "warn",
    event: "backup_failed",
    service: "x",
    error: "S3 is down",
  });
  assert.equal(humanLogLine(line), "warning: backup_failed (error: S3 is down)");
  assert.equal(humanLogLine("not json"), "not json");
  assert.equal(colorsEnabled({}, true), true);
  assert.equal(colorsEnabled({}, false), false);
  assert.equal(colorsEnabled({ NO_COLOR: "" }, true), false, "NO_COLOR set to anything, even empty");
  assert.equal(colorsEnabled({ TERM: "dumb" }, true), false);
});

Deno.test("cli: tables are aligned under a header, numbers right-aligned", () => {
  assert.deepEqual(
    formatTable(["NAME", { header: "ROWS", right: true }], [["users", 12], ["permissions", 171]]),
    [
      "NAME         ROWS",
      "users          12",
      "permissions   171",
    ],
  );
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.stringMatching(/^[a-z]{0,12}$/), fc.nat()), { maxLength: 10 }),
    (rows) => {
      const lines = formatTable(["A", { header: "N", right: true }], rows);
      // Every row's second column ends at the same place.
      return new Set(lines.map((l) => l.length)).size === 1;
    },
  ));
});

Deno.test("config: published placeholders are refused in production, never echoed; real secrets pass", () => {
  const prod = (extra: Record<string, string>) =>
    loadConfig({
      APP_ENV: "production",
      DATABASE_URL: "file:/tmp/x.db",
      SECRET_KEY: "prod-key-7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e",
      ...extra,
    });
  const refused = (extra: Record<string, string>, message: RegExp) =>
    assert.throws(() => prod(extra), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      for (const v of Object.values(extra)) assert.ok(!e.message.includes(v), "the value is not echoed");
      return true;
    });
  refused(
    { SECRET_KEY: "change-me-to-a-long-random-string-of-32-chars-or-more" },
    /SECRET_KEY: is a published placeholder/,
  );
  refused(
    { SECRET_KEY: "your-secret-key-here-but-longer-than-32-chars" },
    /SECRET_KEY: is a published placeholder/,
  );
  refused(
    { SUPERADMIN_PASSWORD: "Change-Me-On-First-Login-1!" },
    /SUPERADMIN_PASSWORD: is a published placeholder/,
  );
  refused({ SUPERADMIN_PASSWORD: "SuperAdmin@123" }, /SUPERADMIN_PASSWORD: the published default password/);
  refused(
    { AWS_ACCESS_KEY_ID: "seedbed-minio", AWS_SECRET_ACCESS_KEY: "seedbed-minio-secret" },
    /AWS_SECRET_ACCESS_KEY: is a published default/,
  );
  refused(
    { DATABASE_URL: "postgres://seedbed:seedbed-dev-password@postgres:5432/seedbed" },
    /DATABASE_URL: its password is published/,
  );
  // Development keeps them (the quick start and the compose file's values are for trying things out).
  assert.equal(
    loadConfig({
      APP_ENV: "development",
      SECRET_KEY: "change-me-to-a-long-random-string-of-32-chars-or-more",
    })
      .appEnv,
    "development",
  );
  // Invariant: random keys are never mistaken for placeholders; anything saying "change me" always is.
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), (bytes) => {
    const key = btoa(String.fromCharCode(...bytes));
    return placeholderProblems({ SECRET_KEY: key }).length === 0;
  }));
  fc.assert(
    fc.property(
      fc.string(),
      fc.string(),
      fc.constantFrom("change-me", "CHANGE_ME", "changeme", "replace-me"),
      (a, b, w) => placeholderProblems({ SECRET_KEY: `${a}${w}${b}` }).length === 1,
    ),
  );
});

Deno.test({
  name: ".env.example: generated from the schema, lists every variable, and works as written",
  fn: async () => {
    const text = await Deno.readTextFile(ENV_EXAMPLE);
    assert.equal(text, renderEnvExample(), ".env.example is stale: run `deno task docs:config`");
    for (const name of Object.keys(envSchema.shape)) assert.match(text, new RegExp(`^(# )?${name}=`, "m"));
    const values = parseEnvFile(text);
    const config = loadConfig(values);
    assert.equal(config.databaseUrl, "file:./.data/seedbed.db");
    // Every commented example is a valid value as written.
    for (const [, name, value] of text.matchAll(/^# ([A-Z_0-9]+)=(.+)$/gm)) {
      const pair = name === "AWS_ACCESS_KEY_ID" || name === "AWS_SECRET_ACCESS_KEY"
        ? { AWS_ACCESS_KEY_ID: value, AWS_SECRET_ACCESS_KEY: value }
        : { [name]: value };
      loadConfig({ ...values, ...pair });
    }
    // Its DATABASE_URL opens from a fresh checkout (where .data/ does not exist yet).
    const cwd = await Deno.makeTempDir({ prefix: "seedbed-env-example-" });
    const before = Deno.cwd();
    try {
      Deno.chdir(cwd);
      const db = await openDatabase(config.databaseUrl);
      await db.close();
      assert.ok((await Deno.stat(`${cwd}/.data/seedbed.db`)).isFile);
    } finally {
      Deno.chdir(before);
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

Deno.test("cli: progress — a bar on a terminal, a plain line every few seconds otherwise, never past 100 %", () => {
  let t = 0;
  const out: string[] = [];
  const plain = createProgress({
    label: "Backup",
    total: 1000,
    terminal: false,
    write: (s) => out.push(s),
    now: () => t,
  });
  for (let i = 0; i < 10; i++) {
    t += 1000;
    plain.add(100);
  }
  plain.done();
  plain.add(5); // nothing after done()
  assert.deepEqual(out, [
    "Backup: 500/1,000 rows (50 %), 100 rows/s, about 5 s left\n",
    "Backup: 1,000/1,000 rows (100 %), 100 rows/s, about 0 s left\n",
    "Backup: 1,000 rows in 10 s (100 rows/s)\n",
  ]);
  const tty: string[] = [];
  t = 0;
  const bar = createProgress({
    label: "Restore",
    total: 200,
    terminal: true,
    write: (s) => tty.push(s),
    now: () => t,
  });
  t = 500;
  bar.add(100);
  assert.match(
    tty[0],
    new RegExp(
      String.raw`^\r\u001b\[2KRestore \[█{12}░{12}\] 100/200 rows \(50 %\), 200 rows/s, about 1 s left$`,
    ),
  );
  fc.assert(
    fc.property(fc.integer({ min: -10, max: 10_000 }), fc.nat(5000), fc.nat(100_000), (done, total, ms) => {
      const n = progressNumbers({ label: "x", done, total, unit: "rows", elapsedMs: ms });
      return (n.percent === null || (n.percent >= 0 && n.percent <= 100)) &&
        (n.leftMs === null || n.leftMs >= 0) &&
        n.rate >= 0;
    }),
  );
  assert.equal(formatDuration(65_000), "1:05");
  assert.equal(formatDuration(3_725_000), "1:02:05");
});

Deno.test("cli: backup, restore and verify count their transfers to and from S3 by key; the bytes pass unchanged", async () => {
  const uploaded: Uint8Array[] = [];
  const chunks = [
    new Uint8Array(300_000).fill(1),
    new Uint8Array(300_000).fill(2),
    new Uint8Array(10).fill(3),
  ];
  const body = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(ch);
        c.close();
      },
    });
  const store = {
    upload: async (_key: string, b: ReadableStream<Uint8Array>) => {
      for await (const ch of b) uploaded.push(ch);
    },
    download: () => Promise.resolve({ key: "k", size: 600_010, metadata: {}, body: body() }),
  } as unknown as ObjectStore;
  const { upload, download } = store;
  const bytes = new Map<string, number>();
  const stop = countTransfers(store, (key, n) => bytes.set(key, (bytes.get(key) ?? 0) + n));
  const d = await store.download("database-backups/x.json.gz");
  const got: Uint8Array[] = [];
  for await (const ch of d.body) got.push(ch);
  assert.deepEqual(got, chunks, "downloaded bytes unchanged");
  await store.upload("database-backups/y.json.gz", body());
  assert.deepEqual(uploaded, chunks, "uploaded bytes unchanged");
  stop();
  assert.equal(store.upload, upload);
  assert.equal(store.download, download);
  assert.deepEqual(Object.fromEntries(bytes), {
    "database-backups/x.json.gz": 600_010,
    "database-backups/y.json.gz": 600_010,
  });
});

Deno.test("cli: backup, verify and restore progress lines are in rows: done, rate, time left when the manifest gives a total, MiB after", () => {
  let t = 0;
  let moved = 0;
  const lines: string[] = [];
  const factory = rowProgressLines({
    terminal: false,
    write: (s) => lines.push(s),
    everyMs: 1000,
    bytes: () => moved,
    now: () => t,
  });
  const verify = factory({ kind: "verify", key: "database-backups/x.json.gz", totalRows: 10_000 });
  t = 500;
  moved = 1024 * 1024;
  verify.rows(2_000, "users"); // within the interval: no line
  assert.deepEqual(lines, []);
  t = 1000;
  moved = 2.5 * 1024 * 1024;
  verify.rows(500, "users");
  assert.deepEqual(lines, [
    "Verifying database-backups/x.json.gz: 2,500/10,000 rows (25 %), 2,500 rows/s, about 3 s left, 2.5 MiB read\n",
  ]);
  t = 4000;
  verify.rows(7_500, "crm_leads");
  verify.done();
  verify.done();
  assert.deepEqual(lines.slice(1), [
    "Verifying database-backups/x.json.gz: 10,000/10,000 rows (100 %), 2,500 rows/s, about 0 s left, 2.5 MiB read\n",
    "Verifying database-backups/x.json.gz: 10,000 rows in 4 s (2,500 rows/s), 2.5 MiB read\n",
  ]);

  // A backup being written: its total is unknown, rows so far and no time left.
  lines.length = 0;
  t = 0;
  moved = 0;
  const backup = factory({ kind: "backup", key: "database-backups/y.json.gz", totalRows: null });
  t = 2000;
  backup.rows(3_000, "users");
  assert.deepEqual(lines, [
    "Backing up to database-backups/y.json.gz: 3,000 rows, 1,500 rows/s, 2 s so far, 0.0 MiB uploaded\n",
  ]);

  // On a terminal: one line redrawn in place, with a bar when the total is known.
  const tty: string[] = [];
  t = 0;
  const restore = rowProgressLines({
    terminal: true,
    write: (s) => tty.push(s),
    bytes: () => 0,
    now: () => t,
  })(
    { kind: "restore", key: "k", totalRows: 400 },
  );
  t = 1000;
  restore.rows(100, "users");
  assert.equal(
    tty[0],
    "\r\u001b[2KRestoring k [██████░░░░░░░░░░░░░░░░░░] 100/400 rows (25 %), 100 rows/s, about 3 s left, 0.0 MiB read",
  );
  // A short pass with no line drawn prints nothing (small backups go by silently).
  const quiet: string[] = [];
  t = 0;
  const small = rowProgressLines({
    terminal: false,
    write: (s) => quiet.push(s),
    bytes: () => 0,
    now: () => t,
  })(
    { kind: "backup", key: "k", totalRows: null },
  );
  small.rows(13, "users");
  t = 200;
  small.done();
  assert.deepEqual(quiet, []);
});
