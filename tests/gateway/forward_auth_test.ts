/** `/access/v1/forward-auth` through the real app and database: the three layers, identity headers, 401 / 403. */
import assert from "node:assert/strict";
import { createLocalJWKSet, exportPKCS8, generateKeyPair, jwtVerify } from "jose";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

const FA = "/access/v1/forward-auth";
const nginx = (method: string, uri: string, headers: Record<string, string> = {}) => ({
  method: "GET",
  headers: { "x-original-method": method, "x-original-uri": uri, ...headers },
});

dbTest(
  "forward-auth: allows with identity headers, refuses with 401 / 403 and the usual body",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const exec = await login(app, "exec@acme.test");
    const admin = await login(app, "admin@acme.test");

    // Entitled executive reading leads (crm_leads_read): 200 with who he is.
    let res = await app.request(FA, nginx("GET", "/api/v1/crm/leads?skip=0", bearer(exec)));
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("x-user-id"), String(w.executive.id));
    assert.equal(res.headers.get("x-user-email"), "exec@acme.test");
    assert.equal(res.headers.get("x-organization-id"), String(w.acme.id));
    assert.equal(res.headers.get("x-user-role"), "executive");
    assert.equal(res.headers.get("x-record-scope"), "own");
    assert.match(res.headers.get("x-permissions")!, /crm_leads_read/);

    // Missing permission (rbac), unlicensed module (entitlement): 403 with layer and reason.
    res = await app.request(FA, nginx("DELETE", "/api/v1/crm/leads/1", bearer(exec)));
    assert.equal(res.status, 403);
    const body = await json(res);
    assert.equal(body.code, "FORBIDDEN");
    assert.equal(body.layer, "rbac");
    assert.equal(body.reason, "missing_permission");
    assert.ok(body.request_id);
    res = await app.request(FA, nginx("GET", "/api/v1/manufacturing/orders", bearer(admin)));
    assert.equal((await json(res)).layer, "entitlement");

    // Cross-tenant: an Acme admin naming Globex.
    res = await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(admin, w.globex.id)));
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "cross_tenant");

    // No token, a garbage one: 401 with WWW-Authenticate.
    for (const h of [{}, { authorization: "Bearer nope.nope.nope" }] as Record<string, string>[]) {
      res = await app.request(FA, nginx("GET", "/api/v1/crm/leads", h));
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), "Bearer");
      assert.equal((await json(res)).detail, "Could not validate credentials");
    }

    // Unmapped: denied even with a token; public: let through without one and with no identity.
    res = await app.request(FA, nginx("GET", "/internal/admin", bearer(admin)));
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "no_route");
    res = await app.request(FA, nginx("POST", "/api/v1/auth/login"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-user-id"), null);

    // A non-canonical path never reaches the table.
    res = await app.request(FA, nginx("GET", "/health/../api/v1/users", bearer(admin)));
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "path_not_canonical");

    // The super admin acts on an organization he names; without one, a platform list is allowed.
    const root = await login(app, "root@platform.test");
    res = await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(root, w.acme.id)));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-organization-id"), String(w.acme.id));
    assert.equal(res.headers.get("x-permissions"), "*");
    res = await app.request(FA, nginx("GET", "/api/v1/users", bearer(root)));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-organization-id"), "");

    // Only authenticated denials reach the audit table.
    const rows = await db.db.select().from(db.t.auditLogs);
    const denied = rows.filter((r) => r.event === "access.denied");
    assert.ok(denied.some((r) => r.target === "DELETE /api/v1/crm/leads/1"));
    assert.ok(!denied.some((r) => r.target?.includes("forward-auth")));
  },
);

dbTest("forward-auth: Traefik and Envoy dialects; any method on the check path", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db);
  const exec = await login(app, "exec@acme.test");
  let res = await app.request(FA, {
    headers: { ...bearer(exec), "x-forwarded-method": "POST", "x-forwarded-uri": "/api/v1/crm/leads" },
  });
  assert.equal(res.status, 200);
  res = await app.request(FA, {
    headers: { ...bearer(exec), "x-forwarded-method": "DELETE", "x-forwarded-uri": "/api/v1/crm/leads/3" },
  });
  assert.equal(res.status, 403);
  // Envoy: the original method on the check request, the original path appended.
  res = await app.request(`${FA}/api/v1/crm/leads/3`, { method: "GET", headers: bearer(exec) });
  assert.equal(res.status, 200);
  res = await app.request(`${FA}/api/v1/crm/leads/3`, { method: "DELETE", headers: bearer(exec) });
  assert.equal(res.status, 403);
  // No target at all: 400 naming what a gateway must send.
  res = await app.request(FA, { method: "POST", headers: bearer(exec) });
  assert.equal(res.status, 400);
  assert.match((await json(res)).detail as string, /X-Original-URI/);
});

dbTest("forward-auth: a route table file replaces the defaults; a bad one stops startup", async (db) => {
  await createWorld(db);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/routes.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ routes: [{ method: "GET", path: "/shop/**", module: "crm", action: "read" }] }),
    );
    const { app } = await testApp(db, { env: { FORWARD_AUTH_ROUTES: file } });
    const admin = await login(app, "admin@acme.test");
    let res = await app.request(FA, nginx("GET", "/shop/cart", bearer(admin)));
    assert.equal(res.status, 200);
    res = await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(admin)));
    assert.equal((await json(res)).reason, "no_route");
    await Deno.writeTextFile(file, JSON.stringify({ routes: [{ path: "/x" }] }));
    await assert.rejects(
      testApp(db, { env: { FORWARD_AUTH_ROUTES: file } }),
      /FORWARD_AUTH_ROUTES .*routes\.json: routes\[0\]: needs module and action/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // One dialect: the route table file is read at start-up; no database work differs.
}, { only: ["libsql"] });

dbTest("forward-auth: a logged-out token is refused at the gateway at once", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db);
  const exec = await login(app, "exec@acme.test");
  assert.equal((await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(exec)))).status, 200);
  const out = await app.request("/api/v1/auth/logout", { method: "POST", headers: bearer(exec) });
  assert.equal(out.status, 200);
  assert.equal((await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(exec)))).status, 401);
});

dbTest(
  "forward-auth: FORWARD_AUTH_IDENTITY_TOKEN signs the identity for the upstream; it is never an access token",
  async (db) => {
    const w = await createWorld(db);
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const { app, deps } = await testApp(db, {
      env: {
        ALGORITHM: "ES256",
        JWT_PRIVATE_KEY: await exportPKCS8(privateKey),
        FORWARD_AUTH_IDENTITY_TOKEN: "true",
      },
    });
    const exec = await login(app, "exec@acme.test");
    const res = await app.request(FA, nginx("POST", "/api/v1/crm/leads?x=1", bearer(exec)));
    assert.equal(res.status, 200);
    const identity = res.headers.get("x-seedbed-identity")!;
    // An upstream verifies it with the JWKS alone.
    const { payload, protectedHeader } = await jwtVerify(
      identity,
      createLocalJWKSet(deps.access.tokens.jwks()),
      {
        issuer: "seedbed",
        audience: "seedbed-api:upstream",
      },
    );
    assert.equal(protectedHeader.typ, "seedbed-identity+jwt");
    assert.equal(payload.sub, String(w.executive.id));
    assert.equal(payload.org, w.acme.id);
    assert.equal(payload.htm, "POST");
    assert.equal(payload.htu, "/api/v1/crm/leads");
    assert.ok((payload.exp as number) - (payload.iat as number) <= 60);
    assert.ok((payload.perms as string[]).includes("crm_leads_create"));
    // Presented to Seedbed as a bearer token: refused everywhere.
    assert.equal((await app.request("/api/v1/auth/me", { headers: bearer(identity) })).status, 401);
    assert.equal((await app.request(FA, nginx("GET", "/api/v1/crm/leads", bearer(identity)))).status, 401);
    // One dialect: the identity token is signed from the configuration; the decision's reads run on both above.
  },
  { only: ["libsql"] },
);
