/** Service keys: created by admins, shown once, stored hashed; they call AuthZEN and forward-auth, never log in. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eq } from "drizzle-orm";
import { dbTest, singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { openDatabase } from "../../src/db/client.ts";
import { hashSecret } from "../../src/gateway/service_keys.ts";

const JSON_HEADERS = { "content-type": "application/json" };

async function createKey(
  app: { request: (p: string, i?: RequestInit) => Response | Promise<Response> },
  token: string,
  body: Record<string, unknown>,
  orgId?: number,
) {
  const res = await app.request("/api/v1/service-keys", {
    method: "POST",
    headers: { ...bearer(token, orgId), ...JSON_HEADERS },
    body: JSON.stringify(body),
  });
  return { res, body: await json(res) };
}

const evaluation = (subject: string) =>
  JSON.stringify({
    subject: { type: "user", id: subject },
    action: { name: "crm.read" },
    resource: { type: "module", id: "crm" },
  });

singleDialectTest(
  "service keys: an admin creates one, the secret is shown once and stored hashed",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const { res, body } = await createKey(app, admin, { name: "edge gateway", scopes: ["forward-auth"] });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const secret = body.key as string;
    assert.match(secret, /^sbk_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.organization_id, w.acme.id);
    assert.equal(body.prefix, secret.slice(0, 12));
    const [row] = await db.db.select().from(db.t.serviceKeys).where(
      eq(db.t.serviceKeys.id, body.id as number),
    );
    assert.equal(row.keyHash, await hashSecret(secret));
    assert.ok(!JSON.stringify(row).includes(secret.slice(12)));

    // Lists and gets never show it again.
    const list = await app.request("/api/v1/service-keys", { headers: bearer(admin) });
    const text = await list.text();
    assert.equal(list.status, 200);
    assert.ok(!text.includes(secret.slice(12)));
    assert.equal(JSON.parse(text).length, 1);

    // Bad input is named.
    const bad = await createKey(app, admin, { name: "x", scopes: ["root"] });
    assert.equal(bad.res.status, 422);
    assert.match(bad.body.detail as string, /scopes/);
    const past = await createKey(app, admin, {
      name: "x",
      scopes: ["forward-auth"],
      expires_at: "2001-01-01T00:00:00Z",
    });
    assert.equal(past.res.status, 422);
    assert.match(past.body.detail as string, /expires_at: must be in the future/);

    // Only admins: an executive or manager may not; Globex's admin does not see Acme's keys.
    for (const email of ["exec@acme.test", "manager@acme.test"]) {
      const t = await login(app, email);
      assert.equal((await createKey(app, t, { name: "x", scopes: ["forward-auth"] })).res.status, 403);
    }
    const globex = await login(app, "admin@globex.test");
    assert.deepEqual(await json(await app.request("/api/v1/service-keys", { headers: bearer(globex) })), []);
    const other = await app.request(`/api/v1/service-keys/${body.id}`, {
      method: "DELETE",
      headers: bearer(globex),
    });
    assert.equal(other.status, 404);
  },
);

dbTest(
  "service keys: call AuthZEN about their organization's users, never log in as a user",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const { body } = await createKey(app, admin, { name: "pep", scopes: ["access.evaluate"] });
    const key = body.key as string;

    let res = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { ...bearer(key), ...JSON_HEADERS },
      body: evaluation("manager@acme.test"),
    });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).decision, true);
    // A user of another organization is invisible to an organization's key.
    res = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { ...bearer(key), ...JSON_HEADERS },
      body: evaluation("admin@globex.test"),
    });
    assert.equal((await json(res)).decision, false);
    // Batches and searches take it too.
    res = await app.request("/access/v1/search/subject", {
      method: "POST",
      headers: { ...bearer(key), ...JSON_HEADERS },
      body: JSON.stringify({
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }),
    });
    assert.equal(res.status, 200);
    const ids = ((await json(res)).results as { id: string }[]).map((r) => Number(r.id));
    assert.ok(ids.includes(w.admin.id) && !ids.includes(w.otherAdmin.id));

    // Not a user: every user-token path refuses it, and it is no password.
    for (const path of ["/api/v1/auth/me", "/api/v1/users", "/api/v1/crm/leads"]) {
      res = await app.request(path, { headers: bearer(key) });
      assert.equal(res.status, 401, path);
    }
    res = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify({ email: "admin@acme.test", password: key }),
    });
    assert.equal(res.status, 401);

    // A key without the scope: 403 naming it.
    const fwd = (await createKey(app, admin, { name: "gw", scopes: ["forward-auth"] })).body.key as string;
    res = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { ...bearer(fwd), ...JSON_HEADERS },
      body: evaluation("manager@acme.test"),
    });
    assert.equal(res.status, 403);
    assert.match((await json(res)).detail as string, /lacks the scope access\.evaluate/);

    // A platform key (super admin, no X-Organization-Id) sees every organization.
    const root = await login(app, "root@platform.test");
    const platform = await createKey(app, root, { name: "platform pep", scopes: ["access.evaluate"] });
    assert.equal(platform.body.organization_id, null);
    res = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { ...bearer(platform.body.key as string), ...JSON_HEADERS },
      body: evaluation("admin@globex.test"),
    });
    assert.equal((await json(res)).decision, true);
    // An org admin cannot make a platform key, and a super admin can make one for an organization.
    const forAcme = await createKey(app, root, { name: "acme", scopes: ["forward-auth"] }, w.acme.id);
    assert.equal(forAcme.body.organization_id, w.acme.id);
  },
);

dbTest(
  "service keys: forward-auth with a gateway key; an organization's key admits only its organization",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db, { env: { FORWARD_AUTH_REQUIRE_KEY: "true" } });
    const admin = await login(app, "admin@acme.test");
    const globex = await login(app, "admin@globex.test");
    const gw = (await createKey(app, admin, { name: "gw", scopes: ["forward-auth"] })).body.key as string;
    const pep = (await createKey(app, admin, { name: "pep", scopes: ["access.evaluate"] })).body
      .key as string;
    const check = (token: string, key?: string) =>
      app.request("/access/v1/forward-auth", {
        headers: {
          ...bearer(token),
          "x-original-method": "GET",
          "x-original-uri": "/api/v1/crm/leads",
          ...(key ? { "x-seedbed-key": key } : {}),
        },
      });
    let res = await check(admin);
    assert.equal(res.status, 401);
    assert.match((await json(res)).detail as string, /X-Seedbed-Key/);
    assert.equal((await check(admin, "sbk_" + "A".repeat(43))).status, 401);
    assert.equal((await check(admin, pep)).status, 403);
    res = await check(admin, gw);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-organization-id"), String(w.acme.id));
    res = await check(globex, gw);
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "cross_tenant");
    // A key is no end-user credential either.
    assert.equal((await check(gw, gw)).status, 401);
  },
);

dbTest(
  "service keys: revocation and expiry take effect on every replica at the next request",
  async (db, ctx) => {
    await createWorld(db);
    const a = await testApp(db);
    const db2 = await openDatabase(ctx.url, { maxConnections: 2 });
    try {
      const b = await testApp(db2);
      const admin = await login(a.app, "admin@acme.test");
      const created = (await createKey(a.app, admin, { name: "pep", scopes: ["access.evaluate"] })).body;
      const ask = (app: typeof a.app, key: string) =>
        app.request("/access/v1/evaluation", {
          method: "POST",
          headers: { ...bearer(key), ...JSON_HEADERS },
          body: evaluation("manager@acme.test"),
        });
      // Both replicas accept (and cache) it.
      assert.equal((await ask(a.app, created.key as string)).status, 200);
      assert.equal((await ask(b.app, created.key as string)).status, 200);
      // Revoked through replica A: replica B refuses it at once.
      const res = await a.app.request(`/api/v1/service-keys/${created.id}`, {
        method: "DELETE",
        headers: bearer(admin),
      });
      assert.equal(res.status, 200);
      assert.ok((await json(res)).revoked_at);
      assert.equal((await ask(b.app, created.key as string)).status, 401);
      assert.equal((await ask(a.app, created.key as string)).status, 401);

      // Expiry set behind the API's back (raw SQL): the trigger bumps the version, both replicas refuse.
      const second = (await createKey(a.app, admin, { name: "pep2", scopes: ["access.evaluate"] })).body;
      assert.equal((await ask(b.app, second.key as string)).status, 200);
      await db.db.update(db.t.serviceKeys).set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(db.t.serviceKeys.id, second.id as number));
      assert.equal((await ask(b.app, second.key as string)).status, 401);
      const [row] = await db.db.select().from(db.t.serviceKeys).where(
        eq(db.t.serviceKeys.id, second.id as number),
      );
      assert.ok(row.lastUsedAt, "last use is recorded");
    } finally {
      await db2.close();
    }
  },
  { needsServer: true },
);

singleDialectTest("invariant: no string but the issued secret authenticates as the key", async (db) => {
  await createWorld(db);
  const { app, deps } = await testApp(db);
  const admin = await login(app, "admin@acme.test");
  const secret = (await createKey(app, admin, { name: "k", scopes: ["forward-auth"] })).body.key as string;
  await deps.serviceKeys.authenticate(secret, "forward-auth");
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string(),
        fc.stringMatching(/^sbk_[A-Za-z0-9_-]{43}$/),
        fc.nat({ max: 46 }).map((i) =>
          secret.slice(0, i) + (secret[i] === "A" ? "B" : "A") + secret.slice(i + 1)
        ),
      ),
      async (candidate) => {
        if (candidate === secret) return;
        await assert.rejects(deps.serviceKeys.authenticate(candidate, "forward-auth"), /credentials/);
      },
    ),
    { numRuns: 60 },
  );
});

dbTest(
  "service keys: no audit, no change — creating or revoking a key whose audit row fails changes nothing",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const kept = await createKey(app, admin, { name: "kept", scopes: ["access.evaluate"] });
    assert.equal(kept.res.status, 201);
    // The audit table refuses every row from now on (as when it cannot be written).
    if (db.dialect === "postgres") {
      await db.run(
        `CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit down'; END $$`,
      );
      await db.run(
        `CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_down()`,
      );
    } else {
      await db.run(
        `CREATE TRIGGER audit_down BEFORE INSERT ON audit_logs BEGIN SELECT RAISE(ABORT, 'audit down'); END`,
      );
    }
    const keys = async () =>
      (await db.db.select().from(db.t.serviceKeys)).map((k) => ({
        name: k.name,
        revoked: k.revokedAt !== null,
      }));
    const created = await createKey(app, admin, { name: "unaudited", scopes: ["forward-auth"] });
    assert.equal(created.res.status, 500, JSON.stringify(created.body));
    assert.ok(!JSON.stringify(created.body).includes("sbk_"), "no secret handed out");
    const revoke = await app.request(`/api/v1/service-keys/${kept.body.id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    assert.notEqual(revoke.status, 200);
    await revoke.body?.cancel();
    assert.deepEqual(await keys(), [{ name: "kept", revoked: false }], "neither change happened");
    await db.run(`DROP TRIGGER audit_down${db.dialect === "postgres" ? " ON audit_logs" : ""}`);
    const auth = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { authorization: `Bearer ${kept.body.key}`, ...JSON_HEADERS },
      body: evaluation("manager@acme.test"),
    });
    assert.equal(auth.status, 200, `the unrevoked key still works (${auth.status})`);
    await auth.body?.cancel();
  },
);
