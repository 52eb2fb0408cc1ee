import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";

const PW = "Str0ng-Initial-Pass";
async function setup(db: Database) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  return {
    w,
    app,
    root: await login(app, "root@platform.test"),
    admin: await login(app, "admin@acme.test"),
    manager: await login(app, "manager@acme.test"),
    exec: await login(app, "exec@acme.test"),
    auditor: await login(app, "auditor@acme.test"),
    other: await login(app, "admin@globex.test"),
  };
}
const send = (method: string, token: string, body?: unknown, orgId?: number) => ({
  method,
  headers: { ...bearer(token, orgId), "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

dbTest("users: who may create whom", async (db) => {
  const { w, app, root, admin, manager, exec } = await setup(db);
  const create = (token: string, body: Record<string, unknown>, orgId?: number) =>
    app.request("/api/v1/users", send("POST", token, { password: PW, ...body }, orgId));

  // Admin: managers, executives (with a manager), custom roles; not admins.
  let res = await create(admin, { email: "m2@acme.test", role: "manager", modules: ["crm", "SALES"] });
  assert.equal(res.status, 201);
  const m2 = await json(res);
  assert.deepEqual(m2.modules, ["crm", "sales"]);
  assert.equal(m2.must_change_password, true);
  assert.equal(m2.organization_id, w.acme.id);
  res = await create(admin, {
    email: "e3@acme.test",
    role: "executive",
    reports_to_id: m2.id,
    permissions: ["crm_leads_read"],
  });
  assert.equal(res.status, 201);
  res = await create(admin, { email: "e4@acme.test", role: "executive" });
  assert.equal(res.status, 422);
  assert.match((await json(res)).detail as string, /reports_to_id/);
  res = await create(admin, { email: "e5@acme.test", role: "executive", reports_to_id: w.admin.id });
  assert.equal(res.status, 422);
  res = await create(admin, { email: "aud2@acme.test", role: "auditor" });
  assert.equal(res.status, 201);
  assert.equal((await json(res)).role_id, w.auditorRole.id);
  res = await create(admin, { email: "a2@acme.test", role: "admin" });
  assert.equal(res.status, 403);
  // The platform role, under either name, is never given to a tenant user.
  for (const role of ["super_admin", "superadmin", " SuperAdmin "]) {
    res = await create(admin, { email: `sa-${role.trim()}@acme.test`, role });
    assert.equal(res.status, 403, role);
    assert.equal((await json(res)).reason, "cannot_manage_role");
  }
  res = await app.request(`/api/v1/users/${w.executive.id}`, send("PATCH", admin, { role: "super_admin" }));
  assert.equal(res.status, 403);
  res = await create(admin, { email: "x@acme.test", role: "ghost-role" });
  assert.equal(res.status, 422);
  res = await create(admin, {
    email: "x@acme.test",
    role: "executive",
    reports_to_id: w.manager.id,
    permissions: ["crm-read"],
  });
  assert.equal(res.status, 422);
  res = await create(admin, { email: "weak@acme.test", role: "manager", password: "short" });
  assert.equal(res.status, 422);
  assert.match((await json(res)).detail as string, /password/);
  res = await create(admin, { email: "manager@acme.test", role: "manager" });
  assert.equal(res.status, 409);

  // Manager: executives of his own modules, reporting to him.
  res = await create(manager, { email: "e6@acme.test", role: "executive", permissions: ["crm_leads_read"] });
  assert.equal(res.status, 201);
  assert.equal((await json(res)).reports_to_id, w.manager.id);
  res = await create(manager, { email: "e7@acme.test", role: "executive", permissions: ["sales.read"] });
  assert.equal(res.status, 403);
  res = await create(manager, { email: "e8@acme.test", role: "executive", reports_to_id: m2.id });
  assert.equal(res.status, 403);
  res = await create(manager, { email: "m3@acme.test", role: "manager" });
  assert.equal(res.status, 403);

  // Executive: nobody.
  res = await create(exec, { email: "e9@acme.test", role: "executive", reports_to_id: w.manager.id });
  assert.equal(res.status, 403);
  assert.equal((await json(res)).reason, "executive_cannot_create_users");

  // Super admin: an org admin in a chosen organization, and another platform super admin.
  res = await create(root, { email: "boss@globex.test", role: "admin", organization_id: w.globex.id });
  assert.equal(res.status, 201);
  assert.equal((await json(res)).is_company_admin, true);
  res = await create(root, { email: "root2@platform.test", role: "super_admin" });
  assert.equal(res.status, 201);
  assert.equal((await json(res)).organization_id, null);
  res = await create(root, { email: "lost@platform.test", role: "manager" });
  assert.equal(res.status, 422);
  res = await create(root, { email: "sa@globex.test", role: "superadmin", organization_id: w.globex.id });
  assert.equal(res.status, 422);
  assert.match((await json(res)).detail as string, /platform super admins belong to no organization/);

  const audit = await db.db.select().from(db.t.auditLogs);
  const created = audit.filter((e) => e.event === "user.created");
  assert.equal(created.length, 6);
  // Every 403 is audited exactly once: guard denials (with layer) and service refusals alike.
  const denied = audit.filter((e) => e.event === "access.denied");
  assert.equal(denied.length, 9);
  assert.ok(
    denied.every((e) =>
      e.target === "POST /api/v1/users" || e.target === `PATCH /api/v1/users/${w.executive.id}`
    ),
  );
  assert.ok(
    denied.some((e) => (e.details as { reason?: string }).reason === "executive_cannot_create_users"),
  );
  assert.ok(denied.some((e) => (e.details as { reason?: string }).reason === "cannot_manage_role"));
});

dbTest("users: list and get are scoped; update, deactivate and delete follow the same rules", async (db) => {
  const { w, app, root, admin, manager, exec, other } = await setup(db);
  const emails = async (token: string, orgId?: number) =>
    (await json<{ items: { email: string }[] }>(
      await app.request("/api/v1/users?limit=100", { headers: bearer(token, orgId) }),
    ))
      .items.map((u) => u.email).sort();
  assert.deepEqual(await emails(admin), [
    "admin@acme.test",
    "auditor@acme.test",
    "exec2@acme.test",
    "exec@acme.test",
    "manager@acme.test",
  ]);
  assert.deepEqual(await emails(manager), ["exec2@acme.test", "exec@acme.test", "manager@acme.test"]);
  assert.deepEqual(await emails(other), ["admin@globex.test"]);
  assert.equal((await emails(root)).length, 7);
  assert.deepEqual(await emails(root, w.globex.id), ["admin@globex.test"]);
  assert.equal((await app.request("/api/v1/users", { headers: bearer(exec) })).status, 403);
  assert.equal((await app.request(`/api/v1/users/${w.admin.id}`, { headers: bearer(other) })).status, 404);
  assert.equal((await app.request(`/api/v1/users/${w.admin.id}`, { headers: bearer(manager) })).status, 404);

  // Manager updates his executive's permissions within his modules; not the admin.
  let res = await app.request(
    `/api/v1/users/${w.executive.id}`,
    send("PATCH", manager, { permissions: ["crm_leads_read", "crm_leads_update"] }),
  );
  assert.equal(res.status, 403, "managers have users.create/read, not users.update");
  res = await app.request(
    `/api/v1/users/${w.executive.id}`,
    send("PATCH", admin, { permissions: ["crm_leads_read", "crm.update"], full_name: "Ex Ec" }),
  );
  assert.equal(res.status, 200);
  assert.deepEqual((await json(res)).permissions, ["crm.update", "crm_leads_read"]);
  res = await app.request(`/api/v1/users/${w.admin.id}`, send("PATCH", admin, { role: "manager" }));
  assert.equal(res.status, 403);
  res = await app.request(`/api/v1/users/${w.otherAdmin.id}`, send("PATCH", admin, { full_name: "x" }));
  assert.equal(res.status, 404);

  // Deactivation refuses the user's token on the next request.
  const execToken = exec;
  assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(execToken) })).status, 200);
  res = await app.request(`/api/v1/users/${w.executive.id}/deactivate`, send("POST", admin));
  assert.equal(res.status, 200);
  assert.equal((await json(res)).is_active, false);
  assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(execToken) })).status, 401);
  res = await app.request(`/api/v1/users/${w.executive.id}/activate`, send("POST", admin));
  assert.equal(res.status, 200);
  assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(execToken) })).status, 200);

  // Delete: not oneself; not a user owning records (409); otherwise 204.
  assert.equal((await app.request(`/api/v1/users/${w.admin.id}`, send("DELETE", admin))).status, 403);
  await db.db.insert(db.t.crmLeads).values({
    organizationId: w.acme.id,
    ownerId: w.executive2.id,
    name: "kept",
  });
  res = await app.request(`/api/v1/users/${w.executive2.id}`, send("DELETE", admin));
  assert.equal(res.status, 409);
  res = await app.request(`/api/v1/users/${w.auditor.id}`, send("DELETE", admin));
  assert.equal(res.status, 204);
  assert.equal((await app.request(`/api/v1/users/${w.auditor.id}`, { headers: bearer(admin) })).status, 404);
  const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
  for (const e of ["user.updated", "user.deactivated", "user.activated", "user.deleted"]) {
    assert.ok(events.includes(e), e);
  }
});
