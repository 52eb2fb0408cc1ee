/** The real entry point, as a process: startup validation, listening, graceful shutdown. */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { openDatabase } from "../src/db/client.ts";
import { freePort } from "./helpers/ports.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

function spawnMain(env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    env: { LOG_LEVEL: "info", SEED_DEMO: "false", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Starts the service on a free port and waits for its "listening" line; `finish` collects the rest. */
async function startServing(env: Record<string, string> = {}) {
  const port = freePort();
  const child = spawnMain({ PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: ":memory:", ...env });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!log.includes('"event":"listening"')) {
    const { value, done } = await reader.read();
    if (done) break;
    log += value;
  }
  if (!log.includes('"event":"listening"')) {
    // It exited before listening: say how, with what it wrote.
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.fail(`the service exited (${status.code}, ${status.signal}) before listening:\n${log}\n${stderr}`);
  }
  return {
    port,
    child,
    /** Waits for the exit; returns the exit code and the whole log. */
    async finish(): Promise<{ code: number; signal: Deno.Signal | null; log: string; stderr: string }> {
      const stderr = new Response(child.stderr).text();
      const status = await child.status;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        log += value;
      }
      return { code: status.code, signal: status.signal, log, stderr: await stderr };
    },
  };
}

Deno.test("main: a bad DATABASE_URL stops startup naming the variable", async () => {
  const child = spawnMain({ DATABASE_URL: "mysql://x" });
  const out = await child.output();
  assert.equal(out.code, 1);
  const err = new TextDecoder().decode(out.stderr);
  assert.match(err, /DATABASE_URL: must be/);
});

Deno.test("main: production without SECRET_KEY refuses to start, secret values never printed", async () => {
  const child = spawnMain({
    APP_ENV: "production",
    DATABASE_URL: "file:/tmp/x.db",
    SECRET_KEY: "tiny-secret",
  });
  const out = await child.output();
  assert.equal(out.code, 1);
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.match(text, /SECRET_KEY: must be at least 32 characters/);
  assert.ok(!text.includes("tiny-secret"));
});

Deno.test("main: a port in use stops startup before migrating, with a clear message", async () => {
  const taken = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const out = await spawnMain({ PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: ":memory:" }).output();
    assert.equal(out.code, 1);
    const err = new TextDecoder().decode(out.stderr);
    assert.match(
      err,
      new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use: stop the other process or set PORT`),
    );
    assert.doesNotMatch(new TextDecoder().decode(out.stdout), /migrations_applied/);
  } finally {
    taken.close();
  }
});

Deno.test("main: an unreachable database stops startup with exit 1 and no stack trace or password", async () => {
  const out = await spawnMain({
    PORT: "0",
    DATABASE_URL: "postgres://seedbed:hunter2-secret@127.0.0.1:1/seedbed",
  }).output();
  assert.equal(out.code, 1);
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.match(
    text,
    /seedbed: startup failed: the database is unreachable \(ECONNREFUSED\) \[DATABASE_UNAVAILABLE\]/,
  );
  assert.doesNotMatch(text, /hunter2-secret/);
  assert.doesNotMatch(text, /\n\s+at /);
});

Deno.test({
  name:
    "main: serves, then SIGTERM stops it cleanly: database closed, exit 0; its log is JSON lines, no runtime warning",
  fn: async () => {
    const { port, child, finish } = await startServing();
    const res = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // Requests with bodies (the body limit and lenient JSON middleware, the AuthZEN fast path): Deno 2.9 warned
    // in plain text, once per process, when a handler read request.signal (the README's first curl did it).
    for (
      const [path, body] of [
        ["/api/v1/auth/login", { email: "admin@testcorp.com", password: "password123" }],
        ["/access/v1/evaluation", { subject: { type: "user", id: "1" } }],
      ] as const
    ) {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await r.body?.cancel();
    }
    child.kill("SIGTERM");
    const { code, log, stderr } = await finish();
    assert.equal(code, 0);
    assert.match(log, /"event":"shutdown_completed"/);
    // stderr holds the development banner (the database, the credentials) for a person; no runtime warning.
    assert.doesNotMatch(stderr, /^(Deno\.|warning|Warning)/m);
    for (const line of log.split("\n").filter(Boolean)) {
      assert.doesNotThrow(() => JSON.parse(line), `a log line that is not JSON: ${line}`);
    }
  },
});

Deno.test({
  name: "main: with ACCESS_FRESHNESS=lease the server is a replica while it serves, and leaves on SIGTERM",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-main-lease-" });
    const url = `file:${dir}/lease.db`;
    try {
      const { child, finish } = await startServing({ DATABASE_URL: url, ACCESS_FRESHNESS: "lease" });
      const db = await openDatabase(url);
      try {
        const live = async () =>
          (await db.rows<{ n: number }>(sql`SELECT count(*) AS n FROM access_replicas`))[0].n;
        assert.equal(Number(await live()), 1, "registered while serving");
        child.kill("SIGTERM");
        const { code } = await finish();
        assert.equal(code, 0);
        assert.equal(Number(await live()), 0, "no writer waits for a replica that has stopped");
      } finally {
        await db.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "main: SIGTERM lets an in-flight request finish before exiting 0",
  fn: async () => {
    const { port, child, finish } = await startServing();
    // A request whose body arrives slowly: in flight when SIGTERM lands.
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(enc.encode('{"email": "nobody@example.com", '));
        await new Promise((r) => setTimeout(r, 800));
        controller.enqueue(enc.encode('"password": "wrong-password"}'));
        controller.close();
      },
    });
    const pending = fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      // @ts-ignore: streamed request bodies need duplex in Deno's fetch
      duplex: "half",
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 150));
    // New work is refused while draining (the gateway retries it on another replica).
    const late = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(late.status, 503);
    const lateBody = await late.json();
    assert.equal(lateBody.code, "SERVICE_UNAVAILABLE");
    assert.match(lateBody.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(late.headers.get("x-request-id"), lateBody.request_id);
    const res = await pending;
    assert.equal(res.status, 401, `the in-flight request got its answer: ${await res.clone().text()}`);
    await res.body?.cancel();
    const { code, log } = await finish();
    assert.equal(code, 0);
    const started = log.indexOf('"event":"shutdown_started"');
    const answered = log.indexOf('"path":"/api/v1/auth/login"');
    assert.ok(started >= 0 && answered > started, "the request finished after shutdown began");
  },
});

Deno.test({
  name: "main: BACKUP_SCHEDULE takes backups on schedule; METRICS_PORT serves /metrics alone, with its token",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-main-schedule-" });
    const metricsPort = freePort();
    try {
      const { port, child, finish } = await startServing({
        BACKUP_SCHEDULE: "* * * * * *",
        S3_EMBEDDED_DIR: `${dir}/s3`,
        METRICS_PORT: String(metricsPort),
        METRICS_HOST: "127.0.0.1",
        METRICS_TOKEN: "metrics-token-0123456789",
      });
      // The main port does not serve metrics; the metrics port does, for the token only.
      let res = await fetch(`http://127.0.0.1:${port}/metrics`, {
        headers: { authorization: "Bearer metrics-token-0123456789" },
      });
      assert.equal(res.status, 404);
      await res.body?.cancel();
      res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(res.status, 401);
      await res.body?.cancel();
      // Within a few seconds a scheduled backup has completed and is counted.
      let text = "";
      for (
        let i = 0;
        i < 100 && !/seedbed_scheduled_backups_total\{outcome="succeeded"\} [1-9]/.test(text);
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
        res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
          headers: { authorization: "Bearer metrics-token-0123456789" },
        });
        text = await res.text();
      }
      assert.match(text, /seedbed_scheduled_backups_total\{outcome="succeeded"\} [1-9]/);
      assert.match(text, /seedbed_backup_runs_total\{kind="scheduled",outcome="succeeded"\} [1-9]/);
      assert.match(
        text,
        /seedbed_process_resident_memory_bytes \d/,
        "the server adds the process collectors",
      );
      child.kill("SIGTERM");
      const { code, log } = await finish();
      assert.equal(code, 0);
      assert.match(log, /"event":"backup_schedule_started"/);
      assert.match(log, /"event":"backup_schedule_run_completed"/);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "main: development says which database it runs on, and that DATABASE_URL came from .env",
  fn: async () => {
    // Seed 000 says `cp .env.example .env`: `deno task dev` then runs on .env's database, not in memory
    // (newcomer finding 8). The line is on stderr, before anything else is done with the database.
    const dir = await Deno.makeTempDir({ prefix: "seedbed-main-env-" });
    try {
      await Deno.writeTextFile(`${dir}/.env`, `DATABASE_URL=file:${dir}/dev.db\nSEED_DEMO=false\n`);
      const port = freePort();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", new URL("../deno.json", import.meta.url).pathname, MAIN],
        cwd: dir,
        // Without a DATABASE_URL of the test run's own: the .env's must be the one used.
        clearEnv: true,
        env: {
          ...Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => k !== "DATABASE_URL")),
          PORT: String(port),
          HOST: "127.0.0.1",
          LOG_LEVEL: "warn",
        },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let err = "";
      while (!err.includes("Seedbed listening")) {
        const { value, done } = await reader.read();
        if (done) break;
        err += value;
      }
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel();
      assert.match(err, /^Database: \S*dev\.db \(libSQL; DATABASE_URL in \.env\)$/m, err);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
