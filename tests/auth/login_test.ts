import assert from "node:assert/strict";
import { dbTest, singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import {
  bearer,
  createOrg,
  createUser,
  createWorld,
  login,
  PASSWORD,
  seedProfiles,
} from "../helpers/fixtures.ts";
import { memoryLogger } from "../../src/log.ts";

const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

singleDialectTest("login returns a bearer token and /auth/me describes the user", async (db) => {
  await seedProfiles(db);
  const org = await createOrg(db, { name: "Acme", tier: "starter" });
  const u = await createUser(db, {
    email: "Admin@Acme.test",
    role: "admin",
    organizationId: org.id,
    isCompanyAdmin: true,
  });
  const logger = memoryLogger();
  const { app } = await testApp(db, { logger });
  const res = await app.request("/api/v1/auth/login", post({ email: "admin@acme.test", password: PASSWORD }));
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.token_type, "bearer");
  assert.equal(body.expires_in, 30 * 60);
  assert.equal(typeof body.access_token, "string");
  const me = await app.request("/api/v1/auth/me", { headers: bearer(body.access_token as string) });
  assert.equal(me.status, 200);
  const mb = await json(me);
  assert.equal(mb.id, u.id);
  assert.equal(mb.organization_id, org.id);
  assert.equal(mb.role_kind, "admin");
  assert.equal(mb.record_scope, "all");
  // An admin is assigned no modules, but sees what the starter tier gives the organization.
  assert.deepEqual(mb.modules, []);
  const entitled = mb.entitled_modules as string[];
  for (const m of ["crm", "sales", "inventory", "email", "dashboard", "users", "roles"]) {
    assert.ok(entitled.includes(m), `${m} in ${entitled}`);
  }
  assert.ok(!entitled.includes("manufacturing"));
  assert.deepEqual(entitled, [...entitled].sort());
  const [audit] = await db.db.select().from(db.t.auditLogs);
  assert.equal(audit.event, "auth.login_succeeded");
  assert.equal(audit.actorUserId, u.id);
  assert.ok(logger.records.some((r) => r.event === "audit" && r.audit_event === "auth.login_succeeded"));
  // The token never reaches the log.
  assert.ok(!JSON.stringify(logger.records).includes(body.access_token as string));
});

singleDialectTest(
  "login: unknown email, wrong password and inactive accounts get the same 401",
  async (db) => {
    const org = await createOrg(db, { name: "Acme" });
    const off = await createOrg(db, { name: "Closed", isActive: false });
    await createUser(db, { email: "a@acme.test", role: "admin", organizationId: org.id });
    await createUser(db, { email: "gone@acme.test", role: "admin", organizationId: org.id, isActive: false });
    await createUser(db, { email: "x@closed.test", role: "admin", organizationId: off.id });
    const { app } = await testApp(db);
    const bodies: unknown[] = [];
    for (
      const [email, password] of [
        ["nobody@acme.test", PASSWORD],
        ["a@acme.test", "wrong-password"],
        ["gone@acme.test", PASSWORD],
        ["x@closed.test", PASSWORD],
      ]
    ) {
      const res = await app.request("/api/v1/auth/login", post({ email, password }));
      assert.equal(res.status, 401, email);
      const b = await json(res);
      delete b.request_id;
      bodies.push(b);
    }
    for (const b of bodies) assert.deepEqual(b, bodies[0]);
    assert.deepEqual(bodies[0], { detail: "Incorrect email or password", code: "UNAUTHORIZED" });
    const events = await db.db.select().from(db.t.auditLogs);
    assert.deepEqual(
      events.map((e) => (e.details as { reason: string }).reason),
      ["unknown_email", "wrong_password", "user_inactive", "organization_inactive"],
    );
  },
);

singleDialectTest("login accepts a JSON body sent without a JSON content type (curl -d)", async (db) => {
  const org = await createOrg(db, { name: "Acme" });
  await createUser(db, { email: "a@acme.test", role: "admin", organizationId: org.id });
  const { app } = await testApp(db);
  const res = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: JSON.stringify({ email: "a@acme.test", password: PASSWORD }),
  });
  assert.equal(res.status, 200);
});

singleDialectTest("login validation names the missing field", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/api/v1/auth/login", post({ email: "a@b.c" }));
  assert.equal(res.status, 422);
  const b = await json(res);
  assert.match(b.detail as string, /password/);
});

singleDialectTest(
  "login is throttled per account: 429 with Retry-After, for unknown emails too",
  async (db) => {
    const org = await createOrg(db, { name: "Acme" });
    await createUser(db, { email: "a@acme.test", role: "admin", organizationId: org.id });
    const { app } = await testApp(db);
    for (const email of ["a@acme.test", "ghost@acme.test"]) {
      for (let i = 0; i < 5; i++) {
        const r = await app.request("/api/v1/auth/login", post({ email, password: "nope" }));
        assert.equal(r.status, 401);
      }
      const r = await app.request("/api/v1/auth/login", post({ email, password: PASSWORD }));
      assert.equal(r.status, 429, email);
      const after = Number(r.headers.get("retry-after"));
      assert.ok(after > 0 && after <= 15 * 60, `Retry-After ${after}`);
      assert.equal((await json(r)).code, "RATE_LIMITED");
    }
    const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
    assert.ok(events.includes("auth.login_throttled"));
  },
);

singleDialectTest(
  "login is throttled per client address; X-Forwarded-For only counts behind a trusted proxy",
  async (db) => {
    const org = await createOrg(db, { name: "Acme" });
    await createUser(db, { email: "victim@acme.test", role: "admin", organizationId: org.id });
    const trusted = (await testApp(db, { env: { TRUST_PROXY: "true" } })).app;
    // 20 failures from one address, each on a different account.
    for (let i = 0; i < 20; i++) {
      const r = await trusted.request(
        "/api/v1/auth/login",
        post({ email: `u${i}@x.test`, password: "nope" }, { "x-forwarded-for": "203.0.113.9" }),
      );
      assert.equal(r.status, 401);
    }
    const blocked = await trusted.request(
      "/api/v1/auth/login",
      post({ email: "victim@acme.test", password: PASSWORD }, { "x-forwarded-for": "203.0.113.9" }),
    );
    assert.equal(blocked.status, 429);
    // Another address is not blocked.
    const other = await trusted.request(
      "/api/v1/auth/login",
      post({ email: "victim@acme.test", password: PASSWORD }, {
        "x-forwarded-for": "203.0.113.9, 198.51.100.7",
      }),
    );
    assert.equal(other.status, 200);
    // Without TRUST_PROXY the header is ignored: the spoofed blocked address changes nothing.
    const untrusted = (await testApp(db)).app;
    const r = await untrusted.request(
      "/api/v1/auth/login",
      post({ email: "victim@acme.test", password: PASSWORD }, { "x-forwarded-for": "203.0.113.9" }),
    );
    assert.equal(r.status, 200);
  },
);

singleDialectTest(
  "a successful login is not counted as a failure (and erases none: tests/security/throttling_test.ts)",
  async (db) => {
    const org = await createOrg(db, { name: "Acme" });
    await createUser(db, { email: "a@acme.test", role: "admin", organizationId: org.id });
    const { app } = await testApp(db);
    for (let i = 0; i < 4; i++) {
      assert.equal(
        (await app.request("/api/v1/auth/login", post({ email: "a@acme.test", password: "x" }))).status,
        401,
      );
    }
    // Four failures: the owner logs in, as often as he likes.
    for (let i = 0; i < 10; i++) await login(app, "a@acme.test");
  },
);

dbTest(
  "/auth/me: a platform super admin has no entitled modules of his own (null)",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const token = await login(app, "root@platform.test");
    const me = await json(await app.request("/api/v1/auth/me", { headers: bearer(token) }));
    assert.equal(me.role_kind, "super_admin");
    assert.equal(me.entitled_modules, null);
  },
);
