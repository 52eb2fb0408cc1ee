/**
 * Security regression tests: tokens and sessions (review 2026-12-02, F10/F12/F13 and issue 12's F5).
 * A refused token is refused on EVERY path: REST, AuthZEN (single, batch, the three searches) and the
 * evaluation fast path. Both databases.
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

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

dbTest("tokens: token responses are never cached; every response carries nosniff", async (db) => {
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
