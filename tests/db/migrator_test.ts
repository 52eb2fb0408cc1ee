import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { AppError } from "../../src/errors.ts";
import { headVersion, migrate, migrationStatus, schemaVersion } from "../../src/db/migrator.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";

const ROOT = new URL("../../migrations/", import.meta.url);

/** A scratch copy of the migrations folder that a test may edit. */
async function copyMigrations(): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-mig-" });
  for (const d of ["sqlite", "postgres"]) {
    await Deno.mkdir(`${dir}/${d}/meta`, { recursive: true });
    for await (const f of Deno.readDir(new URL(`${d}/`, ROOT))) {
      if (f.isFile) {
        await Deno.copyFile(
          new URL(`${d}/${f.name}`, ROOT),
          `${dir}/${d}/${f.name}`,
        );
      }
    }
    for await (const f of Deno.readDir(new URL(`${d}/meta/`, ROOT))) {
      await Deno.copyFile(
        new URL(`${d}/meta/${f.name}`, ROOT),
        `${dir}/${d}/meta/${f.name}`,
      );
    }
  }
  return new URL(`file://${dir}/`);
}

dbTest(
  "migrator: status lists pending then applied migrations with hashes",
  async (db) => {
    const before = await migrationStatus(db);
    assert.ok(before.length >= 1);
    assert.ok(
      before.every((s) => s.state === "pending" && /^[0-9a-f]{64}$/.test(s.hash)),
    );
    assert.equal(await schemaVersion(db), null);

    const r = await migrate(db);
    assert.deepEqual(
      r.applied,
      before.map((s) => s.tag),
    );
    const after = await migrationStatus(db);
    assert.ok(
      after.every((s) => s.state === "applied" && s.appliedAt instanceof Date),
    );
    assert.equal(await schemaVersion(db), await headVersion(db));

    // Idempotent: nothing more to apply.
    assert.deepEqual((await migrate(db)).applied, []);
    // The tables exist.
    const n = await db.rows<{ n: number }>(
      sql`SELECT COUNT(*) AS n FROM organizations`,
    );
    assert.equal(Number(n[0].n), 0);
  },
  { migrated: false },
);

dbTest(
  "migrator: a changed migration file is drift, reported and refused",
  async (db) => {
    const root = await copyMigrations();
    try {
      await migrate(db, root);
      const folder = db.dialect === "sqlite" ? "sqlite" : "postgres";
      const status = await migrationStatus(db, root);
      const file = new URL(`${folder}/${status[0].tag}.sql`, root);
      await Deno.writeTextFile(
        file,
        (await Deno.readTextFile(file)) + "\n-- edited after apply\n",
      );
      const drifted = await migrationStatus(db, root);
      assert.equal(drifted[0].state, "drift");
      assert.notEqual(drifted[0].hash, drifted[0].appliedHash);
      await assert.rejects(() => migrate(db, root), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, "MIGRATION_DRIFT");
        assert.match(err.message, new RegExp(status[0].tag));
        return true;
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
  { migrated: false },
);

dbTest("migrator: two replicas starting together apply migrations once", async (db, { url }) => {
  // Two processes, as two replicas would be: both must succeed, and each
  // migration is recorded once (idx is the primary key of the record).
  const cli = new URL("../../src/cli.ts", import.meta.url).pathname;
  const run = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "migrate"],
      env: { DATABASE_URL: url, APP_ENV: "test", LOG_LEVEL: "error" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [a, b] = await Promise.all([run(), run()]);
  const text = (o: Deno.CommandOutput) =>
    new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assert.equal(a.code, 0, text(a));
  assert.equal(b.code, 0, text(b));
  const applied = (text(a) + text(b)).match(/^Applied /gm)?.length ?? 0;
  const status = await migrationStatus(db);
  assert.equal(applied, status.length, "each migration applied exactly once across both processes");
  assert.ok(status.every((s) => s.state === "applied"));
}, { migrated: false, only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] });

Deno.test({
  name: "migrate CLI: status and history show full SHA-256s; down explains the way back and exits 1",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-migrate-cli-" });
    const cli = new URL("../../src/cli.ts", import.meta.url).pathname;
    const run = async (...args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", cli, "migrate", ...args],
        env: { DATABASE_URL: `file:${dir}/m.db`, APP_ENV: "test", LOG_LEVEL: "error" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: o.code, out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr) };
    };
    try {
      const pending = await run("status");
      assert.equal(pending.code, 0, pending.out);
      assert.match(pending.out, /^PENDING +0000_initial +sha256:[0-9a-f]{64}$/m);
      assert.equal((await run()).code, 0);
      const status = await run("status");
      assert.match(status.out, /^APPLIED +0000_initial +sha256:[0-9a-f]{64} +applied \d{4}-/m);
      assert.match(status.out, /\d+ applied, 0 pending, 0 drifted/);
      const history = await run("history");
      assert.match(history.out, /^\d{4}-\S+ +0000_initial +sha256:[0-9a-f]{64}$/m);
      const down = await run("down");
      assert.equal(down.code, 1);
      assert.match(down.out, /forward-only/);
      assert.match(down.out, /previous release .* new, empty database/);
      assert.match(down.out, /deno task seed --restore --key/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
