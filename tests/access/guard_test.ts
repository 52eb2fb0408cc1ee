import assert from "node:assert/strict";
import { Hono } from "hono";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { HttpEnv } from "../../src/http/types.ts";
import { renderError } from "../../src/http/errors.ts";
import { requireAccess } from "../../src/access/guard.ts";

/** A bare router with the guard on a few probe routes, sharing the app's deps. */
async function probe(db: Parameters<typeof testApp>[0]) {
  const { app, deps } = await testApp(db);
  const r = new Hono<HttpEnv>();
  r.onError((err, c) => renderError(c, err));
  r.use("*", async (c, next) => {
    c.set("requestId", "probe");
    await next();
  });
  const echo = (c: import("hono").Context<HttpEnv>) => c.json(c.get("auth"));
  r.get("/crm", requireAccess(deps.access, "crm", "read", { submodule: "leads" }), echo);
  r.get("/mfg", requireAccess(deps.access, "manufacturing", "read"), echo);
  r.post("/seed", requireAccess(deps.access, "seeders", "execute"), echo);
  r.get("/colon", requireAccess(deps.access, "seeders", "read"), echo);
  return { app, deps, r };
}

dbTest("guard: runs tenant → entitlement → RBAC and hands the handler user and organization", async (db) => {
  const w = await createWorld(db);
  const { app, r } = await probe(db);
  const admin = await login(app, "admin@acme.test");
  let res = await r.request("/crm", { headers: bearer(admin) });
  assert.equal(res.status, 200);
  const auth = await json(res);
  assert.equal(auth.organizationId, w.acme.id);
  assert.equal((auth.user as { id: number }).id, w.admin.id);
  assert.equal(auth.scope, "all");

  res = await r.request("/mfg", { headers: bearer(admin) });
  assert.equal(res.status, 403);
  const body = await json(res);
  assert.equal(body.layer, "entitlement");
  assert.equal(body.reason, "not_entitled");
  assert.equal(body.module, "manufacturing");
  assert.match(body.detail as string, /manufacturing: not entitled/);

  // Seeders are platform operations: an org admin is refused at the tenant layer, the super admin passes.
  res = await r.request("/seed", { method: "POST", headers: bearer(admin) });
  assert.equal(res.status, 403);
  assert.equal((await json(res)).reason, "platform_only");
  const root = await login(app, "root@platform.test");
  res = await r.request("/seed", { method: "POST", headers: bearer(root) });
  assert.equal(res.status, 200);
  assert.equal((await json(res)).organizationId, null);

  // No token, malformed header, garbage token: one identical 401.
  const variants: Record<string, string>[] = [{}, { authorization: "Basic abc" }, {
    authorization: "Bearer abc.def.ghi",
  }];
  for (const h of variants) {
    res = await r.request("/crm", { headers: h });
    assert.equal(res.status, 401);
    const b = await json(res);
    assert.equal(b.detail, "Could not validate credentials");
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
  }
  const denials = (await db.db.select().from(db.t.auditLogs)).filter((e) => e.event === "access.denied");
  assert.equal(denials.length, 2);
});
