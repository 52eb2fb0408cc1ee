/**
 * Security regression tests: tokens and sessions (review 2026-12-02, F10/F12/F13 and issue 12's F5).
 * A refused token is refused on EVERY path: REST, AuthZEN (single, batch, the three searches), the
 * evaluation fast path and forward-auth. Both databases.
 */
import assert from "node:assert/strict";
import { dbTest, singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import fc from "fast-check";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { openDatabase } from "../../src/db/client.ts";
import { bumpTokenEpoch, revocationRefusal } from "../../src/auth/revocation.ts";
import { setup } from "../backups/http.ts";

type Requester = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** One request per authenticated path family; the fast path serves `POST /access/v1/evaluation`. */
export function everyPath(
  subjectId: number,
): { name: string; path: string; init: (t: string) => RequestInit }[] {
  const authzen = (path: string, body: unknown) => ({
    name: path,
    path,
    init: (t: string) => ({
      method: "POST",
      headers: { ...bearer(t), "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  });
  const subject = { type: "user", id: String(subjectId) };
  const resource = { type: "module", id: "crm" };
  return [
    { name: "GET /api/v1/auth/me", path: "/api/v1/auth/me", init: (t) => ({ headers: bearer(t) }) },
    { name: "GET /api/v1/users", path: "/api/v1/users", init: (t) => ({ headers: bearer(t) }) },
    {
      name: "forward-auth",
      path: "/access/v1/forward-auth",
      init: (t) => ({
        headers: { ...bearer(t), "x-original-method": "GET", "x-original-uri": "/api/v1/auth/me" },
      }),
    },
    authzen("/access/v1/evaluation", { subject, action: { name: "crm.read" }, resource }),
    authzen("/access/v1/evaluations", {
      subject,
      resource,
      evaluations: [{ action: { name: "crm.read" } }],
    }),
    authzen("/access/v1/search/action", { subject, resource }),
    authzen("/access/v1/search/resource", {
      subject,
      action: { name: "crm.read" },
      resource: { type: "module" },
    }),
    authzen("/access/v1/search/subject", {
      subject: { type: "user" },
      action: { name: "crm.read" },
      resource,
    }),
  ];
}

/** The status of every path for a token. */
export async function statuses(
  app: Requester,
  token: string,
  subjectId: number,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of everyPath(subjectId)) {
    const res = await app.request(p.path, p.init(token));
    await res.body?.cancel();
    out[p.name] = res.status;
  }
  return out;
}

singleDialectTest("tokens: token responses are never cached; every response carries nosniff", async (db) => {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const res = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "admin@acme.test", password: "Fixture-Passw0rd!" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  const token = (await json(res)).access_token as string;
  // Every path, the fast path and errors included.
  for (const p of everyPath(w.admin.id)) {
    const r = await app.request(p.path, p.init(token));
    await r.body?.cancel();
    assert.equal(r.status, 200, p.name);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", p.name);
  }
  for (const [path, init] of [["/nope", {}], ["/api/v1/users", {}], ["/health", {}]] as const) {
    const r = await app.request(path, init);
    await r.body?.cancel();
    assert.equal(r.headers.get("x-content-type-options"), "nosniff", path);
  }
  const me = await app.request("/api/v1/auth/me", { headers: bearer(token) });
  assert.equal(me.headers.get("cache-control"), "no-store");
  await me.body?.cancel();
});

dbTest(
  "tokens: a deactivated organization's tokens are refused on /api/v1/* and every /access/v1/* path",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const root = await login(app, "root@platform.test");
    const before = await statuses(app, admin, w.admin.id);
    for (const [name, status] of Object.entries(before)) assert.equal(status, 200, `before: ${name}`);
    const off = await app.request(`/api/v1/organizations/${w.acme.id}/deactivate`, {
      method: "POST",
      headers: bearer(root),
    });
    assert.equal(off.status, 200);
    const after = await statuses(app, admin, w.admin.id);
    for (const [name, status] of Object.entries(after)) assert.equal(status, 403, `after: ${name}`);
    // Refusals are audited, the AuthZEN ones included.
    const denied = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
      e.event === "access.denied" && e.target?.includes("/access/v1/")
    );
    assert.ok(denied.length >= 5, `audited AuthZEN refusals: ${denied.length}`);
    // The other organization is untouched.
    const other = await login(app, "admin@globex.test");
    for (const [name, status] of Object.entries(await statuses(app, other, w.otherAdmin.id))) {
      assert.equal(status, 200, `globex: ${name}`);
    }
  },
);

const postJson = (token: string, body?: unknown) => ({
  method: "POST",
  headers: { ...bearer(token), ...(body === undefined ? {} : { "content-type": "application/json" }) },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/** 401 on every path (refused), or accepted on every path (a 403 is an answer to an accepted token). */
function assertAll(got: Record<string, number>, status: 200 | 401, label: string) {
  for (const [name, s] of Object.entries(got)) {
    if (status === 401) assert.equal(s, 401, `${label}: ${name}`);
    else assert.ok(s === 200 || s === 403, `${label}: ${name} ${s}`);
  }
  if (status === 200) assert.equal(got["GET /api/v1/auth/me"], 200, label);
}

singleDialectTest(
  "tokens: logout revokes the token it is called with, on every path; others stay valid",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const a = await login(app, "manager@acme.test");
    const b = await login(app, "manager@acme.test");
    assertAll(await statuses(app, a, w.manager.id), 200, "before");
    const out = await app.request("/api/v1/auth/logout", postJson(a));
    assert.equal(out.status, 200);
    assert.equal(out.headers.get("cache-control"), "no-store");
    assert.match((await json(out)).detail as string, /logged out/);
    assertAll(await statuses(app, a, w.manager.id), 401, "after logout");
    // Logging out again with it: the one 401.
    assert.equal((await app.request("/api/v1/auth/logout", postJson(a))).status, 401);
    // The user's other token still works; logout everywhere revokes it too.
    assertAll(await statuses(app, b, w.manager.id), 200, "other token");
    const c = await login(app, "manager@acme.test");
    assert.equal((await app.request("/api/v1/auth/logout?everywhere=true", postJson(c))).status, 200);
    assertAll(await statuses(app, b, w.manager.id), 401, "after logout everywhere");
    // He logs in again as usual.
    assertAll(await statuses(app, await login(app, "manager@acme.test"), w.manager.id), 200, "new login");
    const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
    assert.equal(events.filter((e) => e === "auth.logout").length, 2);
  },
);

dbTest(
  "tokens: an admin revokes every token of a user of his organization, and of no other",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const other = await login(app, "admin@globex.test");
    const manager = await login(app, "manager@acme.test");
    const exec = await login(app, "exec@acme.test");
    const revoke = (token: string, id: number) =>
      app.request(`/api/v1/users/${id}/revoke-tokens`, postJson(token));
    // Another organization's admin: the user does not exist for him.
    assert.equal((await revoke(other, w.executive.id)).status, 404);
    // A manager cannot revoke his admin's tokens (he may not manage him).
    assert.equal((await revoke(manager, w.admin.id)).status, 403);
    assertAll(await statuses(app, exec, w.executive.id), 200, "before");
    const res = await revoke(admin, w.executive.id);
    assert.equal(res.status, 200);
    assert.equal((await json(res)).user_id, w.executive.id);
    for (const [name, s] of Object.entries(await statuses(app, exec, w.executive.id))) {
      assert.equal(s, 401, name);
    }
    // Nobody else's tokens are touched; the user logs in again.
    assertAll(await statuses(app, admin, w.admin.id), 200, "admin");
    assertAll(await statuses(app, await login(app, "exec@acme.test"), w.executive.id), 200, "new login");
    const audit = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
      e.event === "user.tokens_revoked"
    );
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actorUserId, w.admin.id);
  },
);

for (const freshness of ["read", "lease"] as const) {
  dbTest(
    `tokens: a revoked token is refused at once on another replica (ACCESS_FRESHNESS=${freshness})`,
    async (db, { url }) => {
      const w = await createWorld(db);
      const env = { ACCESS_FRESHNESS: freshness, ACCESS_LEASE_MS: "2000", ACCESS_POLL_MS: "20" };
      const a = await testApp(db, { env });
      const dbB = await openDatabase(url, { maxConnections: 2 });
      const b = await testApp(dbB, { env });
      try {
        await a.deps.access.startLease();
        await b.deps.access.startLease();
        const t1 = await login(a.app, "exec@acme.test");
        const t2 = await login(a.app, "exec@acme.test");
        const admin = await login(a.app, "admin@acme.test");
        // Warm B's caches: under a lease B answers without reading the version.
        assertAll(await statuses(b.app, t1, w.executive.id), 200, "B before");
        assert.equal((await a.app.request("/api/v1/auth/logout", postJson(t1))).status, 200);
        assertAll(await statuses(b.app, t1, w.executive.id), 401, "B after logout on A");
        assertAll(await statuses(b.app, t2, w.executive.id), 200, "B, the other token");
        assert.equal(
          (await a.app.request(`/api/v1/users/${w.executive.id}/revoke-tokens`, postJson(admin))).status,
          200,
        );
        assertAll(await statuses(b.app, t2, w.executive.id), 401, "B after revoke-all on A");
        // The token epoch (what a reset or restore bumps, in its transaction) reaches B the same way.
        const t3 = await login(a.app, "exec@acme.test");
        assertAll(await statuses(b.app, t3, w.executive.id), 200, "B, a new token");
        await db.transaction((tx) => bumpTokenEpoch(db, tx));
        await a.deps.access.changed();
        assertAll(await statuses(b.app, t3, w.executive.id), 401, "B after a new token epoch");
      } finally {
        await a.deps.access.stopLease();
        await b.deps.access.stopLease();
        await dbB.close();
      }
    },
    { needsServer: true },
  );
}

Deno.test("tokens: the revocation rule refuses exactly other epochs, older revoke-alls and revoked ids", () => {
  fc.assert(
    fc.property(
      fc.record({
        epoch: fc.nat(5),
        revokedBefore: fc.nat(5),
        revoked: fc.uniqueArray(fc.constantFrom("a", "b", "c")),
      }),
      fc.record({
        jti: fc.option(fc.constantFrom("a", "b", "c", "d")),
        epoch: fc.nat(5),
        revocation: fc.nat(5),
      }),
      (s, claims) => {
        const state = { ...s, revoked: new Set(s.revoked) };
        const refused = revocationRefusal(claims, state) !== null;
        const expected = claims.epoch !== s.epoch || claims.revocation < s.revokedBefore ||
          (claims.jti !== null && (s.revoked as string[]).includes(claims.jti));
        assert.equal(refused, expected);
      },
    ),
    { numRuns: 1000 },
  );
});

dbTest(
  "tokens: a restore refuses every token issued before it, a revoked one included (issue 12 F3)",
  async (db) => {
    const t = await setup(db);
    try {
      const backup = await json<{ s3_key: string }>(
        await t.call("POST", "/api/v1/backups", t.tokens.root, {}),
      );
      // After the backup: a token revoked by a password change, and one simply issued.
      const revoked = await login(t.app, "admin@backup.test");
      const changed = await t.call("POST", "/api/v1/auth/password/change", revoked, {
        current_password: "Fixture-Passw0rd!",
        new_password: "An0ther-Str0ng-Passw0rd!",
      });
      assert.equal(changed.status, 200);
      assert.equal((await t.call("GET", "/api/v1/auth/me", revoked)).status, 401);
      const fresh = (await json<{ access_token: string }>(changed)).access_token;
      const root = await login(t.app, "root@backup.test");
      const restored = await t.call("POST", "/api/v1/seeders/restore", root, { s3_key: backup.s3_key });
      assert.equal(restored.status, 200, await restored.clone().text());
      // It says so (newcomer finding 4): seed 002's restore curls run one after another with one $TOKEN.
      const r = await json<{ sessions_revoked: boolean; warnings: string[]; restored_from: string }>(
        restored,
      );
      assert.equal(r.sessions_revoked, true);
      assert.deepEqual(r.warnings, ["every token issued before was revoked: log in again"]);
      assert.equal(r.restored_from, backup.s3_key);
      const again = await t.call("POST", "/api/v1/seeders/restore", root, { s3_key: backup.s3_key });
      assert.equal(again.status, 401);
      const why = await json<{ detail: string; code: string }>(again);
      assert.equal(why.code, "UNAUTHORIZED");
      assert.equal(
        why.detail,
        "Could not validate credentials: every session was ended by a database restore or reset; log in again",
      );
      // A token refused for any other reason keeps the one 401 (nothing else is told).
      assert.equal(
        (await json<{ detail: string }>(await t.call("GET", "/api/v1/auth/me", "not-a-token"))).detail,
        "Could not validate credentials",
      );
      // Neither token returns (the epoch, not password_changed_at, refuses them: the restore kept the password
      // changed since the backup); nor do the caller's, nor any other.
      for (const token of [revoked, fresh, root, t.tokens.nobody]) {
        for (const [name, s] of Object.entries(await statuses(t.app, token, 1))) assert.equal(s, 401, name);
      }
      // The password set since the backup logs in (a restore never rolls a password back: docs/backups.md).
      assertAll(
        await statuses(t.app, await login(t.app, "admin@backup.test", "An0ther-Str0ng-Passw0rd!"), 1),
        200,
        "after the restore",
      );
    } finally {
      await t.s3.close();
    }
  },
);

dbTest("tokens: a reset refuses every token issued before it", async (db) => {
  const t = await setup(db);
  try {
    const before = t.tokens.root;
    const res = await t.call("POST", "/api/v1/seeders/reset", before, {});
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await json<{ sessions_revoked: boolean }>(res)).sessions_revoked, true);
    const refused = await t.call("GET", "/api/v1/auth/me", before);
    assert.equal(refused.status, 401);
    assert.match((await json<{ detail: string }>(refused)).detail, /ended by a database restore or reset/);
    // A token issued after the reset is good.
    const seeded = await login(t.app, "admin@foodfleet.com", "SuperAdmin@123");
    assert.equal((await t.call("GET", "/api/v1/auth/me", seeded)).status, 200);
  } finally {
    await t.s3.close();
  }
});

/** A cached snapshot equals a fresh load, token state included (what the cache must never get wrong). */
function sameSnapshot(cached: unknown, fresh: unknown, what: string) {
  assert.deepStrictEqual(cached, fresh, what);
}

for (const freshness of ["read", "lease"] as const) {
  dbTest(
    `tokens: a logout empties no cache; any other change still does, on every replica (property, ACCESS_FRESHNESS=${freshness})`,
    async (db, { url }) => {
      const w = await createWorld(db);
      const env = { ACCESS_FRESHNESS: freshness, ACCESS_LEASE_MS: "2000", ACCESS_POLL_MS: "20" };
      const a = await testApp(db, { env });
      const dbB = await openDatabase(url, { maxConnections: 2 });
      const b = await testApp(dbB, { env });
      try {
        await a.deps.access.startLease();
        await b.deps.access.startLease();
        const people = [
          ["exec@acme.test", w.executive.id],
          ["exec2@acme.test", w.executive2.id],
          ["manager@acme.test", w.manager.id],
          ["auditor@acme.test", w.auditor.id],
        ] as const;
        const admin = await login(a.app, "admin@acme.test");
        const tokens = new Map<number, string>();
        for (const [email, id] of people) tokens.set(id, await login(a.app, email));
        const me = (token: string) => b.app.request("/api/v1/auth/me", { headers: bearer(token) });
        const warm = async () => {
          for (const [email, id] of people) {
            let res = await me(tokens.get(id)!);
            if (res.status === 401) {
              await res.body?.cancel();
              tokens.set(id, await login(a.app, email));
              res = await me(tokens.get(id)!);
            }
            assert.equal(res.status, 200, email);
            await res.body?.cancel();
          }
        };
        await warm();
        // Precision: a logout on A leaves B's snapshots in place (no load), and B refuses the token.
        const cache = b.deps.access.cache;
        const loads = cache.loads;
        const refreshes = cache.revocationRefreshes;
        const gone = tokens.get(w.executive.id)!;
        assert.equal((await a.app.request("/api/v1/auth/logout", postJson(gone))).status, 200);
        assert.equal((await me(gone)).status, 401, "B refuses the logged-out token");
        const other = await me(tokens.get(w.manager.id)!);
        assert.equal(other.status, 200);
        await other.body?.cancel();
        assert.equal(cache.loads, loads, "no snapshot was reloaded on B");
        assert.equal(cache.revocationRefreshes, refreshes + 1);
        tokens.set(w.executive.id, await login(a.app, "exec@acme.test"));

        // Any sequence of logouts, revoke-alls and other changes between two requests on B: B's cached
        // snapshots always equal fresh loads.
        const step = fc.oneof(
          fc.record({ kind: fc.constant("logout" as const), who: fc.nat(people.length - 1) }),
          fc.record({ kind: fc.constant("revoke_all" as const), who: fc.nat(people.length - 1) }),
          fc.record({
            kind: fc.constant("permissions" as const),
            who: fc.constantFrom(0, 1),
            perms: fc.subarray(["crm_leads_read", "crm_leads_create", "crm_leads_update"]),
          }),
        );
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 4 }), async (steps) => {
            for (const s of steps) {
              const id = people[s.who][1];
              let res: Response;
              if (s.kind === "logout") {
                res = await a.app.request("/api/v1/auth/logout", postJson(tokens.get(id)!));
              } else if (s.kind === "revoke_all") {
                res = await a.app.request(`/api/v1/users/${id}/revoke-tokens`, postJson(admin));
              } else {
                res = await a.app.request(`/api/v1/users/${id}`, {
                  method: "PATCH",
                  headers: { ...bearer(admin), "content-type": "application/json" },
                  body: JSON.stringify({ permissions: s.perms }),
                });
              }
              assert.ok([200, 401].includes(res.status), `${s.kind}: ${res.status}`);
              await res.body?.cancel();
            }
            await warm();
            for (const [email, id] of people) {
              sameSnapshot(cache.loadedUser(id), await cache.loader.loadUser(id), email);
            }
          }),
          { numRuns: 15 },
        );
      } finally {
        await a.deps.access.stopLease();
        await b.deps.access.stopLease();
        await dbB.close();
      }
    },
    { needsServer: true },
  );
}
