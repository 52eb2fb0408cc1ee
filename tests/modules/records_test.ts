import assert from "node:assert/strict";
import fc from "fast-check";
import { IdParam } from "../../src/http/paging.ts";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login, type World } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";

async function setup(db: Database) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const tokens = {
    admin: await login(app, "admin@acme.test"),
    manager: await login(app, "manager@acme.test"),
    exec: await login(app, "exec@acme.test"),
    exec2: await login(app, "exec2@acme.test"),
    auditor: await login(app, "auditor@acme.test"),
    other: await login(app, "admin@globex.test"),
    root: await login(app, "root@platform.test"),
  };
  return { w, app, tokens };
}

async function lead(db: Database, w: World, ownerId: number, name: string, orgId = w.acme.id) {
  const [row] = await db.db.insert(db.t.crmLeads).values({ organizationId: orgId, ownerId, name })
    .returning();
  return row;
}

const jsonPost = (token: string, body: unknown, orgId?: number) => ({
  method: "POST",
  headers: { ...bearer(token, orgId), "content-type": "application/json" },
  body: JSON.stringify(body),
});

dbTest("crm leads: create, list with pagination, get, update, delete", async (db) => {
  const { app, tokens } = await setup(db);
  const created = [];
  for (let i = 0; i < 3; i++) {
    const res = await app.request(
      "/api/v1/crm/leads",
      jsonPost(tokens.admin, { name: `Lead ${i}`, value_cents: 100 * i }),
    );
    assert.equal(res.status, 201);
    created.push(await json(res));
  }
  assert.equal(created[0].status, "new");
  assert.equal(created[0].name, "Lead 0");
  let res = await app.request("/api/v1/crm/leads?limit=2&skip=1", { headers: bearer(tokens.admin) });
  assert.equal(res.status, 200);
  const page = await json<{ items: { name: string }[]; total: number; skip: number; limit: number }>(res);
  assert.equal(page.total, 3);
  assert.deepEqual(page.items.map((i) => i.name), ["Lead 1", "Lead 2"]);
  assert.equal(page.limit, 2);

  res = await app.request(`/api/v1/crm/leads/${created[1].id}`, {
    method: "PATCH",
    headers: { ...bearer(tokens.admin), "content-type": "application/json" },
    body: JSON.stringify({ status: "qualified" }),
  });
  assert.equal(res.status, 200);
  assert.equal((await json(res)).status, "qualified");

  res = await app.request(`/api/v1/crm/leads/${created[1].id}`, {
    method: "DELETE",
    headers: bearer(tokens.admin),
  });
  assert.equal(res.status, 204);
  res = await app.request(`/api/v1/crm/leads/${created[1].id}`, { headers: bearer(tokens.admin) });
  assert.equal(res.status, 404);

  // Validation: a bad status names the field; a duplicate name is a conflict.
  res = await app.request("/api/v1/crm/leads", jsonPost(tokens.admin, { name: "X", status: "bogus" }));
  assert.equal(res.status, 422);
  assert.match((await json(res)).detail as string, /status/);
  res = await app.request("/api/v1/crm/leads", jsonPost(tokens.admin, { name: "Lead 0" }));
  assert.equal(res.status, 409);
});

dbTest(
  "record scope: executives see their own, managers their team, admins and scope-all roles everything",
  async (db) => {
    const { w, app, tokens } = await setup(db);
    const mine = await lead(db, w, w.executive.id, "exec lead");
    const peer = await lead(db, w, w.executive2.id, "exec2 lead");
    const boss = await lead(db, w, w.manager.id, "manager lead");
    const top = await lead(db, w, w.admin.id, "admin lead");
    const foreign = await lead(db, w, w.otherAdmin.id, "globex lead", w.globex.id);
    const names = async (token: string, orgId?: number) => {
      const res = await app.request("/api/v1/crm/leads", { headers: bearer(token, orgId) });
      assert.equal(res.status, 200);
      return (await json<{ items: { name: string }[] }>(res)).items.map((i) => i.name).sort();
    };
    assert.deepEqual(await names(tokens.exec), ["exec lead"]);
    assert.deepEqual(await names(tokens.manager), ["exec lead", "exec2 lead", "manager lead"]);
    assert.deepEqual(await names(tokens.admin), ["admin lead", "exec lead", "exec2 lead", "manager lead"]);
    assert.deepEqual(await names(tokens.auditor), ["admin lead", "exec lead", "exec2 lead", "manager lead"]);
    assert.deepEqual(await names(tokens.other), ["globex lead"]);
    assert.deepEqual(await names(tokens.root, w.globex.id), ["globex lead"]);

    // Out of scope or another organization: 404, never the record.
    for (
      const [token, id] of [[tokens.exec, peer.id], [tokens.exec, boss.id], [tokens.manager, top.id], [
        tokens.admin,
        foreign.id,
      ], [tokens.other, mine.id]] as const
    ) {
      const res = await app.request(`/api/v1/crm/leads/${id}`, { headers: bearer(token) });
      assert.equal(res.status, 404, `lead ${id}`);
    }
    // An executive holds no update permission at all (RBAC); a manager cannot update the admin's lead (out of scope: 404).
    let res = await app.request(`/api/v1/crm/leads/${peer.id}`, {
      method: "PATCH",
      headers: { ...bearer(tokens.exec), "content-type": "application/json" },
      body: JSON.stringify({ name: "hijacked" }),
    });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).layer, "rbac");
    res = await app.request(`/api/v1/crm/leads/${top.id}`, {
      method: "PATCH",
      headers: { ...bearer(tokens.manager), "content-type": "application/json" },
      body: JSON.stringify({ name: "hijacked" }),
    });
    assert.equal(res.status, 404);
    res = await app.request(`/api/v1/crm/leads/${peer.id}`, {
      method: "PATCH",
      headers: { ...bearer(tokens.manager), "content-type": "application/json" },
      body: JSON.stringify({ name: "renamed by manager" }),
    });
    assert.equal(res.status, 200);
    // ... and an executive cannot create a lead owned by someone else.
    res = await app.request(
      "/api/v1/crm/leads",
      jsonPost(tokens.exec, { name: "for peer", owner_id: w.executive2.id }),
    );
    assert.equal(res.status, 403);
    assert.equal((await json(res)).layer, "record");
    // ... but can create his own (crm_leads_create), and cannot delete (no crm delete permission).
    res = await app.request("/api/v1/crm/leads", jsonPost(tokens.exec, { name: "own new" }));
    assert.equal(res.status, 201);
    assert.equal((await json(res)).owner_id, w.executive.id);
    res = await app.request(`/api/v1/crm/leads/${mine.id}`, {
      method: "DELETE",
      headers: bearer(tokens.exec),
    });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).layer, "rbac");
    // exec2 holds only crm_leads_read: create is refused by RBAC.
    res = await app.request("/api/v1/crm/leads", jsonPost(tokens.exec2, { name: "nope" }));
    assert.equal(res.status, 403);
    // A manager assigns a lead to his team member; not to the admin.
    res = await app.request(
      "/api/v1/crm/leads",
      jsonPost(tokens.manager, { name: "for team", owner_id: w.executive2.id }),
    );
    assert.equal(res.status, 201);
    res = await app.request(
      "/api/v1/crm/leads",
      jsonPost(tokens.manager, { name: "for admin", owner_id: w.admin.id }),
    );
    assert.equal(res.status, 403);
    // The other organization's admin cannot write into Acme by naming it.
    res = await app.request("/api/v1/crm/leads", jsonPost(tokens.other, { name: "intrusion" }, w.acme.id));
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "cross_tenant");
  },
);

dbTest(
  "module entitlements: starter has crm but not manufacturing; super admins do not bypass entitlements",
  async (db) => {
    const { w, app, tokens } = await setup(db);
    let res = await app.request("/api/v1/manufacturing/orders", { headers: bearer(tokens.admin) });
    assert.equal(res.status, 403);
    let body = await json(res);
    assert.equal(body.layer, "entitlement");
    assert.equal(body.reason, "not_entitled");
    assert.match(body.detail as string, /manufacturing: not entitled/);
    // Hr is not in the starter tier either.
    res = await app.request("/api/v1/hr/employees", { headers: bearer(tokens.admin) });
    assert.equal(res.status, 403);
    // Globex (enterprise) has both.
    res = await app.request("/api/v1/manufacturing/orders", { headers: bearer(tokens.other) });
    assert.equal(res.status, 200);
    // A super admin acting on Acme is bound by Acme's entitlements.
    res = await app.request("/api/v1/manufacturing/orders", { headers: bearer(tokens.root, w.acme.id) });
    assert.equal(res.status, 403);
    body = await json(res);
    assert.equal(body.layer, "entitlement");
    // A super admin must name an organization on tenant routes.
    res = await app.request("/api/v1/crm/leads", { headers: bearer(tokens.root) });
    assert.equal(res.status, 400);
    assert.match((await json(res)).detail as string, /X-Organization-Id/);
    res = await app.request("/api/v1/crm/leads", { headers: bearer(tokens.root, 999999) });
    assert.equal(res.status, 404);
    res = await app.request("/api/v1/crm/leads", {
      headers: { ...bearer(tokens.root), "x-organization-id": "abc" },
    });
    assert.equal(res.status, 422);
    // Every cross-organization action of a super admin is audited.
    res = await app.request("/api/v1/crm/leads", { headers: bearer(tokens.root, w.globex.id) });
    assert.equal(res.status, 200);
    const audits = (await db.db.select().from(db.t.auditLogs)).filter((a) =>
      a.event === "access.cross_organization"
    );
    assert.ok(audits.some((a) => a.organizationId === w.globex.id && a.actorUserId === w.superAdmin.id));
  },
);

dbTest("manufacturing orders CRUD and the read-only demo modules", async (db) => {
  const { w, app, tokens } = await setup(db);
  let res = await app.request(
    "/api/v1/manufacturing/orders",
    jsonPost(tokens.other, {
      order_number: "MO-1",
      product: "Widget",
      quantity: 5,
      due_date: "2030-01-01T00:00:00Z",
    }),
  );
  assert.equal(res.status, 201);
  const mo = await json(res);
  assert.equal(mo.due_date, "2030-01-01T00:00:00.000Z");
  res = await app.request(`/api/v1/manufacturing/orders/${mo.id}`, {
    method: "PUT",
    headers: { ...bearer(tokens.other), "content-type": "application/json" },
    body: JSON.stringify({ quantity: 7 }),
  });
  assert.equal((await json(res)).quantity, 7);
  res = await app.request(`/api/v1/manufacturing/orders/${mo.id}`, {
    method: "DELETE",
    headers: bearer(tokens.other),
  });
  assert.equal(res.status, 204);

  const t = db.t;
  const g = { organizationId: w.globex.id, ownerId: w.otherAdmin.id };
  await db.db.insert(t.hrEmployees).values({
    ...g,
    employeeNumber: "E1",
    fullName: "Ann",
    department: "Ops",
    position: "Lead",
  });
  await db.db.insert(t.marketingCampaigns).values({ ...g, name: "Spring", channel: "email" });
  await db.db.insert(t.serviceTickets).values({ ...g, ticketNumber: "T1", subject: "Broken" });
  await db.db.insert(t.assets).values({ ...g, assetTag: "A1", name: "Laptop", category: "IT" });
  const [v] = await db.db.insert(t.transportVehicles).values({
    ...g,
    plateNumber: "P1",
    model: "Van",
    capacityKg: 900,
  })
    .returning();
  await db.db.insert(t.transportTrips).values({
    ...g,
    tripNumber: "TR1",
    vehicleId: v.id,
    origin: "A",
    destination: "B",
    distanceKm: 12,
  });
  for (
    const path of [
      "hr/employees",
      "marketing/campaigns",
      "service/tickets",
      "assets",
      "transport/vehicles",
      "transport/trips",
    ]
  ) {
    res = await app.request(`/api/v1/${path}`, { headers: bearer(tokens.other) });
    assert.equal(res.status, 200, path);
    const list = await json<{ items: { id: number }[]; total: number }>(res);
    assert.equal(list.total, 1, path);
    res = await app.request(`/api/v1/${path}/${list.items[0].id}`, { headers: bearer(tokens.other) });
    assert.equal(res.status, 200, path);
    // Acme's admin never sees Globex's rows (and Acme is not entitled to most of these modules anyway).
    res = await app.request(`/api/v1/${path}/${list.items[0].id}`, { headers: bearer(tokens.admin) });
    assert.ok(res.status === 404 || res.status === 403, `${path}: ${res.status}`);
  }
});

dbTest("record routes: the {id} parameter is judged exactly as IdParam judges it", async (db) => {
  const { w, app, tokens } = await setup(db);
  const mine = await lead(db, w, w.admin.id, "Mine");
  const auth = bearer(tokens.admin);
  const chars = fc.constantFrom(..."0123456789 +-.xXeEob_aZ");
  const idText = fc.oneof(
    fc.constantFrom(String(mine.id), ` ${mine.id}`, `0${mine.id}`, `${mine.id}.0`, `+${mine.id}`, "0", "-1"),
    fc.constantFrom("0x1", "1e0", "1e3", "9007199254740991", "9007199254740993", "999999999999999", "1.5"),
    fc.integer({ min: 1, max: 2 ** 31 - 1 }).map(String),
    fc.constantFrom("2147483647", "2147483648", "4294967296", "99999999999"),
    fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }).map(String),
    fc.string({ unit: chars, minLength: 1, maxLength: 18 }).filter((s) =>
      s.trim() !== "." && !s.includes("..")
    ),
  );
  await fc.assert(
    fc.asyncProperty(idText, async (text) => {
      const zod = IdParam.safeParse({ id: text });
      const res = await app.request(`/api/v1/crm/leads/${encodeURIComponent(text)}`, { headers: auth });
      const body = await json(res);
      if (!zod.success) {
        assert.equal(res.status, 422, `${JSON.stringify(text)}: ${JSON.stringify(body)}`);
        assert.deepEqual([...new Set((body.errors as { field: string }[]).map((e) => e.field))], ["id"]);
      } else if (zod.data.id === mine.id) {
        assert.equal(res.status, 200, JSON.stringify(text));
        assert.equal(body.id, mine.id);
      } else assert.equal(res.status, 404, `${JSON.stringify(text)}: ${JSON.stringify(body)}`);
    }),
    { numRuns: 150 },
  );
  // On an update the id is judged after the guard and before the body, as before.
  const patch = (id: string, token: string, body: unknown) =>
    app.request(`/api/v1/crm/leads/${id}`, {
      method: "PATCH",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  let res = await patch("abc", tokens.admin, { nope: 1 });
  assert.equal(res.status, 422);
  assert.deepEqual(((await json(res)).errors as { field: string }[]).map((e) => e.field), ["id"]);
  res = await patch("abc", "not-a-token", { nope: 1 });
  assert.equal(res.status, 401);
  res = await patch(String(mine.id), tokens.admin, { nope: 1 });
  assert.equal(res.status, 422);
  assert.notDeepEqual(((await json(res)).errors as { field: string }[]).map((e) => e.field), ["id"]);
  res = await patch(String(mine.id), tokens.admin, { name: "Renamed" });
  assert.equal((await json(res)).name, "Renamed");
});
