/**
 * The seeds' own checks against the real seeders' demo data (seed 000's
 * Test Corp and seed 002's super admin), through the HTTP API.
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer } from "../helpers/fixtures.ts";

const login = (email: string, password: string) => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email, password }),
});

dbTest("seeded demo: Test Corp's admin gets 200 on crm leads and 403 on manufacturing orders", async (db) => {
  const { app, deps } = await testApp(db);
  await deps.seeding.execute({ createBackup: false, triggeredBy: "test" });
  const res = await app.request("/api/v1/auth/login", login("admin@testcorp.com", "password123"));
  assert.equal(res.status, 200);
  const token = (await json(res)).access_token as string;
  const leads = await app.request("/api/v1/crm/leads", { headers: bearer(token) });
  assert.equal(leads.status, 200);
  const body = await json<{ items: { organization_id: number }[]; total: number }>(leads);
  assert.ok(body.total > 0, "Test Corp has demo leads");
  const mfg = await app.request("/api/v1/manufacturing/orders", { headers: bearer(token) });
  assert.equal(mfg.status, 403);
  const denial = await json(mfg);
  assert.equal(denial.layer, "entitlement");
  assert.equal(denial.module, "manufacturing");
  assert.match(denial.detail as string, /not entitled/);
});

dbTest("seeded demo: seed 002's super admin logs in and the seeders' roles drive the guard", async (db) => {
  const { app, deps } = await testApp(db);
  await deps.seeding.execute({ createBackup: false, triggeredBy: "test" });
  const res = await app.request("/api/v1/auth/login", login("admin@foodfleet.com", "SuperAdmin@123"));
  assert.equal(res.status, 200);
  const token = (await json(res)).access_token as string;
  const me = await json(await app.request("/api/v1/auth/me", { headers: bearer(token) }));
  assert.equal(me.role_kind, "super_admin");
  assert.equal(me.organization_id, null);
  // Platform-level lists work without naming an organization.
  assert.equal((await app.request("/api/v1/organizations", { headers: bearer(token) })).status, 200);
  assert.equal((await app.request("/api/v1/roles", { headers: bearer(token) })).status, 200);
  // The Test Corp manager and executive: seed 000's rules.
  const mgr = await json(
    await app.request("/api/v1/auth/login", login("manager@testcorp.com", "password123")),
  );
  const exec = await json(
    await app.request("/api/v1/auth/login", login("executive@testcorp.com", "password123")),
  );
  const mgrLeads = await app.request("/api/v1/crm/leads", { headers: bearer(mgr.access_token as string) });
  const execLeads = await app.request("/api/v1/crm/leads", { headers: bearer(exec.access_token as string) });
  assert.equal(mgrLeads.status, 200);
  assert.equal(execLeads.status, 200);
  const mTotal = (await json(mgrLeads)).total as number;
  const eTotal = (await json(execLeads)).total as number;
  assert.ok(eTotal <= mTotal, `executive sees ${eTotal} ≤ manager's ${mTotal}`);
  // Executives cannot create users.
  const create = await app.request("/api/v1/users", {
    method: "POST",
    headers: { ...bearer(exec.access_token as string), "content-type": "application/json" },
    body: JSON.stringify({ email: "x@testcorp.com", password: "Valid-Passw0rd!", role: "executive" }),
  });
  assert.equal(create.status, 403);
});
