/**
 * Database blips on a real Postgres: backends killed under load
 * (pg_terminate_backend), the network cut and restored, the server
 * black-holed — requests fail fast with 503 + Retry-After (or succeed on
 * their one retry), /ready answers within READY_TIMEOUT_MS whatever
 * happens, the outage's start and end are logged at warn, and no log line
 * holds a seeded e-mail address or a query's parameters.
 * Story: docs/reliability.md.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrator.ts";
import { memoryLogger } from "../../src/log.ts";
import { AuditService } from "../../src/audit/audit.ts";
import { testApp } from "../helpers/app.ts";
import { CuttableProxy, freshSchema, PG_URL, waitFor } from "./helpers.ts";
import { DEMO_USERS } from "../../seeders/demo_data.ts";

const TIMEOUTS = {
  connectTimeoutSeconds: 1,
  reconnectMaxMs: 100,
  statementTimeoutMs: 2_000,
  responseTimeoutMs: 2_500,
};
const READY_MS = 300;
/** Longest a request may take while the database is away: a connect timeout, plus slack for a busy machine. */
const NO_HANG_MS = TIMEOUTS.connectTimeoutSeconds * 1000 + 1_500;
const SEEDED_EMAILS = ["admin@foodfleet.com", "superadmin@example.com", ...DEMO_USERS.map((u) => u.email)];

interface Setup {
  db: Database;
  app: Awaited<ReturnType<typeof testApp>>["app"];
  logs: ReturnType<typeof memoryLogger>;
  token: string;
  appName: string;
  proxy: CuttableProxy;
  dispose(): Promise<void>;
}

/** A migrated, seeded schema; an app over it whose pool goes through a cuttable proxy. */
async function setup(): Promise<Setup> {
  const { url, schema } = freshSchema();
  const direct = await openDatabase(url, { maxConnections: 2 });
  await migrate(direct);
  const seeder = await testApp(direct);
  await seeder.deps.seeding.execute({ triggeredBy: "test", createBackup: false });
  const target = new URL(url);
  const proxy = new CuttableProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  proxy.open();
  const appName = `blip_${crypto.randomUUID().slice(0, 8)}`;
  const proxied = new URL(url);
  proxied.port = String(proxy.port);
  proxied.searchParams.set("application_name", appName);
  const db = await openDatabase(proxied.toString(), { maxConnections: 4, timeouts: TIMEOUTS });
  const logs = memoryLogger();
  const { app } = await testApp(db, {
    logger: logs,
    env: { READY_TIMEOUT_MS: String(READY_MS), DATABASE_STATEMENT_TIMEOUT_MS: "2000" },
  });
  const login = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "admin@foodfleet.com", password: "SuperAdmin@123" }),
  });
  assert.equal(login.status, 200);
  const token = (await login.json()).access_token;
  return {
    db,
    app,
    logs,
    token,
    appName,
    proxy,
    async dispose() {
      await proxy.cut();
      await db.close(0).catch(() => {});
      await direct.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await direct.close();
    },
  };
}

async function get(s: Setup, path: string) {
  const started = performance.now();
  const res = await s.app.request(path, { headers: { Authorization: `Bearer ${s.token}` } });
  const body = await res.json();
  return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
}

/** Every log line so far, as written. */
function logText(s: Setup): string {
  return s.logs.records.map((r) => JSON.stringify(r)).join("\n");
}

function assertNoPersonalData(s: Setup) {
  const text = logText(s);
  for (const email of SEEDED_EMAILS) assert.ok(!text.includes(email), `a log line holds ${email}`);
  assert.doesNotMatch(text, /params: (?!\[redacted\])/, "a log line holds a query's parameters");
}

// The black-hole test leaves its 15 s hang guard (the setTimeout it races) running into the tests after it.
const opts = { ignore: !PG_URL, sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...opts,
  name:
    "faults: network cut — fast 503 with Retry-After, /ready in time, recovery logged at warn, no personal data",
  async fn() {
    const s = await setup();
    try {
      assert.equal((await get(s, "/api/v1/seeders/")).status, 200);
      await s.proxy.cut();
      for (const path of ["/api/v1/seeders/", "/api/v1/users"]) {
        const r = await get(s, path);
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.code, "DATABASE_UNAVAILABLE");
        assert.equal(r.headers.get("Retry-After"), "1");
        assert.equal(r.headers.get("x-seedbed-connection-lost"), null, "the internal marker never leaves");
        assert.ok(r.ms < NO_HANG_MS, `${path} took ${Math.round(r.ms)} ms`);
      }
      // A login during the outage: its failed query has the e-mail as a parameter.
      const login = await s.app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: "manager@testcorp.com", password: "password123" }),
      });
      assert.equal(login.status, 503);
      const ready = await get(s, "/ready");
      assert.equal(ready.status, 503);
      assert.equal(ready.headers.get("Retry-After"), "1");
      assert.ok(ready.ms < READY_MS + 1_000, `/ready took ${Math.round(ready.ms)} ms`);

      const down = performance.now();
      s.proxy.open();
      await waitFor(
        "reads to work again",
        async () => (await get(s, "/api/v1/seeders/")).status === 200 || undefined,
      );
      console.log(
        `      reads answered ${Math.round(performance.now() - down)} ms after the network came back`,
      );
      assert.equal((await get(s, "/ready")).status, 200);
      const recovered = await waitFor(
        "database_recovered",
        () => Promise.resolve(s.logs.records.find((r) => r.event === "database_recovered")),
      );
      const start = s.logs.records.find((r) => r.event === "database_unavailable");
      assert.ok(start, "the outage's start is logged");
      assert.equal(start.level, "warn");
      assert.equal(recovered.level, start.level, "the end is logged at the level of the start");
      assert.ok(Number(recovered.failed_requests) >= 3);
      assert.ok(
        s.logs.records.some((r) => r.event === "request_failed"),
        "the failures themselves are logged",
      );
      assertNoPersonalData(s);
    } finally {
      await s.dispose();
    }
  },
});

Deno.test({
  ...opts,
  name: "faults: a database that stops answering (black hole) — /ready still answers within READY_TIMEOUT_MS",
  async fn() {
    const s = await setup();
    try {
      assert.equal((await get(s, "/ready")).status, 200);
      s.proxy.stall();
      // Every probe answers within the deadline: at first "slow" (ready a moment ago), then not ready.
      const r = await waitFor("/ready to say not ready", async () => {
        const x = await get(s, "/ready");
        assert.ok(x.ms < READY_MS + 1_000, `/ready took ${Math.round(x.ms)} ms`);
        if (x.status === 200) assert.equal(x.body.checks.database, "slow");
        return x.status === 503 ? x : undefined;
      }, { everyMs: 10 });
      assert.equal(r.body.checks.database, "timeout");
      assert.equal(r.headers.get("Retry-After"), "1");
      // A second probe while the first check still hangs shares it.
      assert.equal((await get(s, "/ready")).status, 503);
      s.proxy.resume();
      await waitFor(
        "/ready to be ready again",
        async () => (await get(s, "/ready")).status === 200 || undefined,
      );
    } finally {
      await s.dispose();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "faults: a connection black-holed mid-query — 503 with Retry-After at DATABASE_RESPONSE_TIMEOUT_MS, not minutes",
  async fn() {
    const s = await setup();
    try {
      assert.equal((await get(s, "/api/v1/seeders/")).status, 200);
      s.proxy.stall();
      // Without the client-side deadline this waits for the kernel to give up on the connection (minutes).
      const r = await Promise.race([
        get(s, "/api/v1/seeders/"),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the request hung")), 15_000)),
      ]);
      console.log(
        `      answered ${r.status} after ${Math.round(r.ms)} ms (deadline ${TIMEOUTS.responseTimeoutMs} ms)`,
      );
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal(r.body.code, "DATABASE_UNAVAILABLE");
      assert.match(r.body.detail, /RESPONSE_TIMEOUT/);
      assert.equal(r.headers.get("Retry-After"), "1");
      assert.ok(r.ms >= TIMEOUTS.responseTimeoutMs - 100, `answered after ${Math.round(r.ms)} ms`);
      assert.ok(r.ms < TIMEOUTS.responseTimeoutMs + 1_500, `answered after ${Math.round(r.ms)} ms`);
      s.proxy.resume();
      await waitFor(
        "reads to work again",
        async () => (await get(s, "/api/v1/seeders/")).status === 200 || undefined,
        { timeoutMs: 10_000 },
      );
      assertNoPersonalData(s);
    } finally {
      await s.dispose();
    }
  },
});

/** Failures stop within this long after the last kill (issue 17's bound; a loaded CI machine needs it). */
const RECOVERY_MS = 3_000;

Deno.test({
  ...opts,
  name:
    "faults: backends killed by the database under load — reads retried once, failures fast, recovery at once",
  async fn() {
    const s = await setup();
    const admin = await openDatabase(PG_URL!, { maxConnections: 1 });
    try {
      const results: { status: number; ms: number; at: number; retryAfter: string | null }[] = [];
      const t0 = performance.now();
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const r = await get(s, "/api/v1/seeders/");
          results.push({
            status: r.status,
            ms: r.ms,
            at: performance.now() - t0,
            retryAfter: r.headers.get("Retry-After"),
          });
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      const kills: number[] = [];
      let killedTotal = 0;
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 400));
        const killed = await admin.rows<{ n: number }>(sql`SELECT count(pg_terminate_backend(pid))::int AS n
          FROM pg_stat_activity WHERE application_name = ${s.appName}`);
        kills.push(performance.now() - t0);
        killedTotal += killed[0].n;
      }
      assert.ok(killedTotal > 0, "backends were killed");
      // Long enough for reads sent after the recovery bound to run and finish on a loaded machine.
      await new Promise((r) => setTimeout(r, RECOVERY_MS + 1_500));
      stop = true;
      await Promise.all(workers);
      const failed = results.filter((r) => r.status !== 200);
      const slowest = Math.max(...results.map((r) => r.ms));
      console.log(
        `      ${results.length} reads, ${failed.length} failed, slowest ${
          Math.round(slowest)
        } ms, kills at ${kills.map((k) => Math.round(k)).join("/")} ms`,
      );
      if (failed.length) {
        // What the failed reads met, counted (the kills are the subject: these are expected).
        const seen = new Map<string, number>();
        for (const r of s.logs.records.filter((r) => r.event === "request_failed")) {
          seen.set(String(r.error), (seen.get(String(r.error)) ?? 0) + 1);
        }
        console.log(`      failures, as expected: ${[...seen].map(([e, n]) => `${n}× ${e}`).join("; ")}`);
      }
      for (const f of failed) {
        assert.equal(f.status, 503);
        assert.equal(f.retryAfter, "1");
      }
      assert.ok(slowest < NO_HANG_MS, `a request waited ${Math.round(slowest)} ms`);
      const lastKill = kills[kills.length - 1];
      // Reads sent once the database has had its moment to come back (issue 17: failures stop within
      // 3 s; on a quiet machine it is the 500 ms reconnect backoff) all succeed.
      const after = results.filter((r) => r.at - r.ms > lastKill + RECOVERY_MS);
      const late = after.filter((r) => r.status !== 200);
      assert.ok(after.length > 0, "reads went on after the blip");
      assert.deepEqual(late, [], `reads failed after the blip (last kill at ${Math.round(lastKill)} ms)`);
      assertNoPersonalData(s);
    } finally {
      await admin.close();
      await s.dispose();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "faults: a 1-second database restart under load — no request waits past its timeouts, failures stop within 3 s of the database answering",
  async fn() {
    const s = await setup();
    const admin = await openDatabase(PG_URL!, { maxConnections: 1 });
    try {
      type Result = {
        path: string;
        status: number;
        ms: number;
        sent: number;
        retryAfter: string | null;
        detail?: string;
      };
      const results: Result[] = [];
      const t0 = performance.now();
      let stop = false;
      const worker = (path: string) => async () => {
        while (!stop) {
          const sent = performance.now() - t0;
          const r = await get(s, path);
          results.push({
            path,
            status: r.status,
            ms: r.ms,
            sent,
            retryAfter: r.headers.get("Retry-After"),
            detail: r.status === 200 ? undefined : JSON.stringify(r.body).slice(0, 200),
          });
          if (r.status !== 200) await new Promise((ok) => setTimeout(ok, 20)); // a client's pause, not a spin
        }
      };
      const paths = ["/api/v1/seeders/", "/api/v1/users", "/api/v1/users?limit=5&skip=1", "/ready"];
      const workers = Array.from({ length: 8 }, (_, i) => worker(paths[i % paths.length])());
      await new Promise((r) => setTimeout(r, 500));
      // The restart: the server ends every session (57P01, as a fast shutdown does) and refuses
      // connections for a second, then answers again.
      const down = performance.now() - t0;
      await admin.run(
        sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${s.appName}`,
      );
      await s.proxy.cut();
      await new Promise((r) => setTimeout(r, 1_000));
      s.proxy.open();
      const up = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 3_500));
      stop = true;
      await Promise.all(workers);
      const failed = results.filter((r) => r.status !== 200);
      const lastFailure = Math.max(...failed.map((r) => r.sent + r.ms), up);
      const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
      const firstOk = Math.min(
        ...results.filter((r) => r.status === 200 && r.sent >= up).map((r) => r.sent + r.ms),
      );
      console.log(
        `      down ${Math.round(up - down)} ms; ${results.length} requests, ${failed.length} failed ` +
          `(${failed.filter((r) => r.path === "/ready").length} of them /ready); slowest ${
            Math.round(slowest.ms)
          } ms (${slowest.path}); first success ${Math.round(firstOk - up)} ms and last failure ${
            Math.round(lastFailure - up)
          } ms after the database answered again`,
      );
      const late = failed.filter((r) => r.sent + r.ms > up + 500);
      if (late.length) {
        console.log(late.map((r) => ({ ...r, sent: Math.round(r.sent - up), ms: Math.round(r.ms) })));
      }
      for (const f of failed) {
        assert.equal(f.status, 503, JSON.stringify(f));
        assert.ok(f.retryAfter, `a 503 without Retry-After: ${JSON.stringify(f)}`);
      }
      assert.ok(failed.length > 0, "the restart was felt");
      // No request waited longer than the configured timeouts allow (a silent server: the response deadline).
      assert.ok(
        slowest.ms < TIMEOUTS.responseTimeoutMs + 1_500,
        `a request waited ${Math.round(slowest.ms)} ms (${slowest.path})`,
      );
      for (const r of results.filter((r) => r.path === "/ready")) {
        assert.ok(r.ms < READY_MS + 1_000, `/ready took ${Math.round(r.ms)} ms`);
      }
      // Issue 17, "done when": failures stop within 3 s of the database answering again.
      assert.ok(
        lastFailure - up < 3_000,
        `failures went on ${Math.round(lastFailure - up)} ms after the restart`,
      );
      assertNoPersonalData(s);
    } finally {
      await admin.close();
      await s.dispose();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "faults: audit events written during an outage are kept and written, in order, when the database is back",
  async fn() {
    const s = await setup();
    try {
      const logs = memoryLogger();
      const audit = new AuditService(s.db, logs);
      await s.proxy.cut();
      const before = new Date();
      for (const n of [1, 2, 3]) {
        await audit.recordSafely({
          event: "auth.login_failed",
          target: "manager@testcorp.com",
          details: { n },
        });
      }
      assert.equal(audit.backlog, 3);
      s.proxy.open();
      await waitFor("the backlog to be written", () => Promise.resolve(audit.backlog === 0 || undefined));
      const rows = (await audit.list({ event: "auth.login_failed" })).reverse();
      assert.deepEqual(rows.map((r) => r.details.n), [1, 2, 3], "every event, in order");
      assert.ok(rows.every((r) => r.createdAt >= before && r.target === "manager@testcorp.com"));
      const deferred = logs.records.find((r) => r.event === "audit_write_deferred");
      const written = logs.records.find((r) => r.event === "audit_backlog_written");
      assert.equal(deferred?.level, "error");
      assert.equal(written?.level, deferred.level, "the end is logged at the level of the start");
      assert.equal(written.written, 3);
      audit.close();
      assert.ok(!logs.records.some((r) => r.event === "audit_backlog_lost"));
      assert.ok(!JSON.stringify(logs.records).includes("testcorp.com"));
    } finally {
      await s.dispose();
    }
  },
});
