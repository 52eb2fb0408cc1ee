/**
 * `/metrics` after real work: a seeding run, backups on a real S3, failed logins and denials on every
 * decision path; the endpoint's guard (off by default, bearer token); the decision log's modes.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest, singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { memoryLogger } from "../../src/log.ts";
import { DecisionLog, type DecisionLogMode } from "../../src/observability/decision_log.ts";
import { Metrics } from "../../src/observability/metrics.ts";

const TOKEN = "metrics-token-0123456789";

/** `name{labels} value` lines → value by series (labels as written). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
const value = (m: Map<string, number>, series: string) => m.get(series) ?? 0;
const sumOf = (m: Map<string, number>, prefix: string, ...parts: string[]) =>
  [...m].filter(([k]) => k.startsWith(prefix) && parts.every((p) => k.includes(p))).reduce(
    (a, [, v]) => a + v,
    0,
  );

dbTest("metrics: a scrape after a seeding run, backups and denials shows every series", async (db, ctx) => {
  const s3 = await startTestS3();
  const logger = memoryLogger();
  try {
    const { app, deps } = await testApp(db, {
      env: {
        ...s3.env,
        METRICS_TOKEN: TOKEN,
        SEED_DEMO: "false",
        ACCESS_DECISION_LOG: "all",
        LOG_LEVEL: "debug",
      },
      logger,
    });
    // A seeding run (through the service, as the startup and the CLI do), then one through the API.
    await deps.seeding.execute({ triggeredBy: "test", createBackup: false });
    const login = (email: string, password: string) =>
      app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password }),
      });
    const root = (await json(await login("admin@foodfleet.com", "SuperAdmin@123"))).access_token as string;
    const auth = { authorization: `Bearer ${root}`, "content-type": "application/json" };
    assert.equal((await login("admin@foodfleet.com", "wrong-password")).status, 401);
    let res = await app.request("/api/v1/seeders/execute", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ create_backup: true }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    res = await app.request("/api/v1/backups", { method: "POST", headers: auth, body: "{}" });
    assert.equal(res.status, 201);
    const backup = await json<{ s3_key: string }>(res);
    // Denials: the guard (a super admin naming no organization), forward-auth (unmapped), AuthZEN.
    assert.equal((await app.request("/api/v1/crm/leads", { headers: auth })).status, 400);
    res = await app.request("/access/v1/forward-auth", {
      headers: { ...auth, "x-original-uri": "/nowhere", "x-original-method": "GET" },
    });
    assert.equal(res.status, 403);
    res = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        subject: { type: "user", id: "admin@foodfleet.com" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }),
    });
    assert.equal(res.status, 200);
    // Throttled logins: the account from this address has 5 free guesses (one spent above).
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push((await login("admin@foodfleet.com", "wrong-password")).status);
    assert.deepEqual(guesses, [401, 401, 401, 401, 429, 429]);
    // A restore (the last call with the super admin's token: it ends every session).
    res = await app.request("/api/v1/seeders/restore", {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ s3_key: backup.s3_key }),
    });
    assert.equal(res.status, 200, await res.clone().text());

    // Guarded: no token or a wrong one is 401, the right one scrapes.
    assert.equal((await app.request("/metrics")).status, 401);
    assert.equal(
      (await app.request("/metrics", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status,
      401,
    );
    res = await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /text\/plain/);
    const m = parse(await res.text());

    assert.equal(
      value(m, 'seedbed_http_requests_total{method="POST",route="/api/v1/backups",status="201"}'),
      1,
    );
    assert.ok(
      value(
        m,
        'seedbed_http_request_duration_seconds_count{method="POST",route="/api/v1/backups",status="201"}',
      ) >= 1,
    );
    assert.equal(
      value(m, 'seedbed_http_requests_total{method="GET",route="/api/v1/crm/leads",status="400"}'),
      1,
    );
    assert.equal(value(m, 'seedbed_seeding_runs_total{kind="execute",status="completed"}'), 2);
    assert.equal(value(m, 'seedbed_seeding_duration_seconds_count{kind="execute",status="completed"}'), 2);
    assert.equal(value(m, 'seedbed_backup_runs_total{kind="manual",outcome="succeeded"}'), 1);
    assert.equal(value(m, 'seedbed_backup_runs_total{kind="execution",outcome="succeeded"}'), 1);
    // Two backups, and the safety backup the restore took first.
    assert.equal(value(m, "seedbed_backup_size_bytes_count"), 3);
    assert.equal(value(m, 'seedbed_backup_duration_seconds_count{outcome="succeeded"}'), 3);
    const age = m.get("seedbed_backup_last_success_age_seconds");
    assert.ok(age !== undefined && age >= 0 && age < 600, `backup age ${age}`);
    assert.ok(value(m, "seedbed_backup_last_success_timestamp_seconds") > 1.7e9);
    assert.equal(value(m, 'seedbed_login_failures_total{reason="wrong_password"}'), 5);
    assert.equal(value(m, "seedbed_login_throttled_total"), 2);
    assert.equal(value(m, 'seedbed_restore_runs_total{outcome="succeeded"}'), 1);
    assert.equal(value(m, 'seedbed_restore_duration_seconds_count{outcome="succeeded"}'), 1);
    assert.equal(value(m, "seedbed_restore_size_bytes_count"), 1);
    assert.ok(value(m, "seedbed_restore_size_bytes_sum") > 0);
    assert.ok((m.get("seedbed_access_security_version") ?? -1) >= 0, "the caches' security version");
    assert.ok(m.has("seedbed_access_lease_valid"), "lease health");
    assert.equal(
      value(
        m,
        'seedbed_access_decisions_total{source="forward_auth",decision="deny",layer="gateway",reason="no_route"}',
      ),
      1,
    );
    assert.equal(
      value(
        m,
        'seedbed_access_decisions_total{source="guard",decision="deny",layer="tenant",reason="organization_required"}',
      ),
      1,
    );
    assert.ok(sumOf(m, "seedbed_access_decisions_total", 'source="guard"', 'decision="allow"') >= 2);
    assert.equal(sumOf(m, "seedbed_access_decisions_total", 'source="authzen"'), 1);
    if (ctx.dialect === "postgres" && !db.label.startsWith("pglite")) {
      assert.ok(sumOf(m, "seedbed_db_connections") >= 1, "Postgres connections by state");
      // This replica's pool alone: at least the scrape's own connection, never more than its size.
      const mine = sumOf(m, "seedbed_db_pool_connections");
      assert.ok(mine >= 1 && mine <= value(m, "seedbed_db_pool_max"), `pool ${mine}`);
      assert.equal(value(m, "seedbed_db_pool_max"), db.pool!.max);
    }

    // The decision log: one JSON event per decision, with subject, module, action, layer, reason, request id.
    const events = logger.records.filter((r) => r.event === "access_decision");
    const denied = events.find((r) => r.source === "forward_auth");
    assert.ok(denied);
    assert.equal(denied.decision, "deny");
    assert.equal(denied.reason, "no_route");
    assert.equal(denied.resource, "GET /nowhere");
    assert.ok(denied.request_id);
    const asked = events.find((r) => r.source === "authzen");
    assert.equal(asked?.action, "crm.read");
    assert.equal(asked?.resource, "module:crm");
    assert.equal(
      asked?.subject_id,
      "[email]",
      "the subject as asked, e-mail addresses masked (LOG_PERSONAL_DATA)",
    );
    assert.match(String(asked?.caller), /^user:\d+$/);
    const guard = events.find((r) => r.source === "guard" && r.decision === "allow");
    assert.equal(guard?.subject_type, "user");
    assert.ok(!JSON.stringify(events).includes(root), "no token in the decision log");
  } finally {
    await s3.close();
  }
});

singleDialectTest("metrics: /metrics is off unless a token or a port is configured", async (db) => {
  let { app } = await testApp(db);
  let res = await app.request("/metrics");
  assert.equal(res.status, 404);
  assert.match((await json(res)).detail as string, /METRICS_TOKEN/);
  ({ app } = await testApp(db, { env: { METRICS_TOKEN: TOKEN, METRICS_PORT: "9464" } }));
  res = await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 404, "served on the metrics port only");
});

Deno.test("decision log: off / deny / all and sampled allows; every decision counted whatever the mode", () => {
  fc.assert(fc.property(
    fc.constantFrom<DecisionLogMode>("off", "deny", "all"),
    fc.array(fc.boolean(), { maxLength: 30 }),
    fc.constantFrom(0, 0.5, 1),
    (mode, outcomes, sample) => {
      const logger = memoryLogger();
      const metrics = new Metrics({}, { defaultMetrics: false });
      let flip = 0;
      const log = new DecisionLog(logger, metrics, mode, sample, () => (flip++ % 2) / 2);
      for (const allowed of outcomes) {
        log.record({ source: "guard", allowed, subject: { type: "user", id: "1" }, organizationId: 1 });
      }
      const lines = logger.records.filter((r) => r.event === "access_decision");
      const denies = outcomes.filter((a) => !a).length;
      const allows = outcomes.length - denies;
      const loggedAllows = lines.filter((l) => l.decision === "allow").length;
      const loggedDenies = lines.length - loggedAllows;
      if (mode === "off") return lines.length === 0;
      if (loggedDenies !== denies) return false;
      if (mode === "deny") return loggedAllows === 0;
      if (sample === 1) return loggedAllows === allows;
      if (sample === 0) return loggedAllows === 0;
      return loggedAllows <= allows;
    },
  ));
});

singleDialectTest(
  "metrics: made-up request methods cannot mint series (attack report 2026-12-03, finding 3)",
  async (db) => {
    const { app } = await testApp(db, { env: { METRICS_TOKEN: TOKEN } });
    const scrape = async () =>
      parse(await (await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } })).text());
    // Anonymous requests with random RFC 9110 method tokens, to existing and missing paths.
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
        fc.constantFrom("/health", "/api/v1/users", "/nowhere"),
        async (method, path) => {
          if (/^(CONNECT|TRACE|TRACK)$/i.test(method)) return; // refused by fetch's Request itself
          const res = await app.request(path, { method });
          // Never a crash (Hono's router looked `constructor` up in a plain object: 500), and any
          // method outside HTTP's own is 501 before the router, with the usual error body and headers.
          if (!/^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/i.test(method)) {
            assert.equal(res.status, 501, method);
            const body = await res.json();
            assert.equal(body.code, "NOT_IMPLEMENTED");
            assert.equal(body.request_id, res.headers.get("x-request-id"));
          } else {
            assert.ok(res.status < 500, `${method} ${path}: ${res.status}`);
            await res.body?.cancel();
          }
        },
      ),
      {
        numRuns: 150,
        examples: [["constructor", "/health"], ["__proto__", "/api/v1/users"], ["toString", "/nowhere"]],
      },
    );
    const methods = new Set<string>();
    for (const key of (await scrape()).keys()) {
      const m = /^seedbed_http_requests_total\{.*method="([^"]*)"/.exec(key);
      if (m) methods.add(m[1]);
    }
    for (const m of methods) assert.match(m, /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|OTHER)$/);
    assert.ok(methods.has("OTHER"), [...methods].join());
  },
);
