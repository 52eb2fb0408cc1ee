/**
 * Security regression tests: tenant isolation (review 2026-12-02, attacks 1-5, 33 and F7). A compact set
 * of the cross-tenant attacks an outside tester tried, so the next test starts from them: another
 * organization's objects by id, the organization header from a tenant user, foreign ids in bodies, list
 * leakage, AuthZEN across tenants, and the cross-tenant e-mail oracle. Both databases.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eq } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login, PASSWORD } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";
import { CONFLICT_RULE } from "../../src/auth/login_throttle.ts";

async function world(db: Database) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const lead = async (orgId: number, ownerId: number, name: string) =>
    (await db.db.insert(db.t.crmLeads).values({ organizationId: orgId, ownerId, name }).returning())[0];
  return {
    w,
    app,
    acmeLead: await lead(w.acme.id, w.admin.id, "acme's"),
    globexLead: await lead(w.globex.id, w.otherAdmin.id, "globex's"),
    acme: await login(app, "admin@acme.test"),
    globex: await login(app, "admin@globex.test"),
  };
}

const send = (token: string, method: string, body?: unknown, extra: Record<string, string> = {}) => ({
  method,
  headers: {
    ...bearer(token),
    ...(body === undefined ? {} : { "content-type": "application/json" }),
    ...extra,
  },
  body: body === undefined ? undefined : JSON.stringify(body),
});

dbTest("isolation: another organization's objects by id are not found, through every verb", async (db) => {
  const { w, app, globexLead, acme } = await world(db);
  const globexRole = (await db.db.insert(db.t.roles).values({
    name: "globex_only",
    organizationId: w.globex.id,
    scopeKey: w.globex.id,
  }).returning())[0];
  const targets: [string, string][] = [
    ["user", `/api/v1/users/${w.otherAdmin.id}`],
    ["role", `/api/v1/roles/${globexRole.id}`],
    ["lead", `/api/v1/crm/leads/${globexLead.id}`],
  ];
  for (const [what, path] of targets) {
    for (
      const [method, body] of [["GET", undefined], ["PATCH", { name: "x", full_name: "x" }], [
        "DELETE",
        undefined,
      ]]
    ) {
      const res = await app.request(path, send(acme, method as string, body));
      assert.ok([403, 404, 422].includes(res.status), `${method} ${what}: ${res.status}`);
      assert.notEqual(res.status, 200);
      const text = await res.text();
      assert.ok(!text.includes("globex"), `${method} ${what} discloses nothing: ${text}`);
    }
  }
  // The organization itself: a tenant admin cannot read or change another organization.
  for (const method of ["GET", "PATCH"]) {
    const res = await app.request(
      `/api/v1/organizations/${w.globex.id}`,
      send(acme, method, method === "PATCH" ? { name: "Mine" } : undefined),
    );
    assert.ok([403, 404].includes(res.status), `${method} organization: ${res.status}`);
    await res.body?.cancel();
  }
  // Nothing changed on Globex's side.
  const still = await db.db.select().from(db.t.crmLeads);
  assert.equal(still.find((l) => l.id === globexLead.id)?.name, "globex's");
});

dbTest("isolation: a tenant user cannot switch organization by header or by body", async (db) => {
  const { w, app, acme } = await world(db);
  for (const header of [String(w.globex.id), "1 OR 1=1", ` ${w.globex.id} `, `0${w.globex.id}`]) {
    const res = await app.request(
      "/api/v1/crm/leads",
      send(acme, "GET", undefined, { "x-organization-id": header }),
    );
    assert.ok([403, 422].includes(res.status), `header ${JSON.stringify(header)}: ${res.status}`);
    await res.body?.cancel();
  }
  // Foreign ids in bodies: owner of another organization, a manager of another organization, the org id.
  const lead = await app.request(
    "/api/v1/crm/leads",
    send(acme, "POST", { name: "x", owner_id: w.otherAdmin.id }),
  );
  assert.ok([403, 404, 422].includes(lead.status), `owner_id: ${lead.status}`);
  await lead.body?.cancel();
  const user = await app.request(
    "/api/v1/users",
    send(acme, "POST", {
      email: "new@acme.test",
      password: "Str0ng!Passw0rd#x",
      role: "executive",
      reports_to_id: w.otherAdmin.id,
    }),
  );
  assert.ok([403, 404, 422].includes(user.status), `reports_to_id: ${user.status}`);
  await user.body?.cancel();
  const org = await app.request(
    "/api/v1/users",
    send(acme, "POST", {
      email: "new2@acme.test",
      password: "Str0ng!Passw0rd#x",
      role: "executive",
      organization_id: w.globex.id,
    }),
  );
  assert.equal(org.status, 403);
  await org.body?.cancel();
  assert.equal(
    (await db.db.select().from(db.t.users)).filter((u) => u.organizationId === w.globex.id).length,
    1,
  );
});

dbTest("isolation: lists show the caller's organization only", async (db) => {
  const { w, app, acme } = await world(db);
  const users = await json<{ items: { organization_id: number }[] }>(
    await app.request("/api/v1/users", send(acme, "GET")),
  );
  assert.ok(users.items.length > 0);
  assert.ok(users.items.every((u) => u.organization_id === w.acme.id));
  const leads = await json<{ items: { organization_id: number }[] }>(
    await app.request("/api/v1/crm/leads", send(acme, "GET")),
  );
  assert.ok(leads.items.every((l) => l.organization_id === w.acme.id));
  const roles = await json<
    { items?: { organization_id: number | null }[] } | { organization_id: number | null }[]
  >(
    await app.request("/api/v1/roles", send(acme, "GET")),
  );
  const list = Array.isArray(roles) ? roles : roles.items ?? [];
  assert.ok(list.every((r) => r.organization_id === null || r.organization_id === w.acme.id));
});

dbTest("isolation: AuthZEN answers nothing about another organization's subjects or records", async (db) => {
  const { w, app, globexLead, acme } = await world(db);
  const ask = (body: unknown) => app.request("/access/v1/evaluation", send(acme, "POST", body));
  // Another organization's user as subject: refused (he may not ask about him) or denied.
  const foreignSubject = await ask({
    subject: { type: "user", id: String(w.otherAdmin.id) },
    action: { name: "crm.read" },
    resource: { type: "module", id: "crm" },
  });
  if (foreignSubject.status === 200) assert.equal((await json(foreignSubject)).decision, false);
  else assert.ok([403, 404].includes(foreignSubject.status));
  // Another organization's record, with properties claiming it is ours: denied.
  const foreignRecord = await ask({
    subject: { type: "user", id: String(w.admin.id) },
    action: { name: "crm.read" },
    resource: { type: "crm_lead", id: String(globexLead.id), properties: { organization_id: w.acme.id } },
    context: { organization_id: w.globex.id },
  });
  assert.equal(foreignRecord.status, 200);
  const d = await json(foreignRecord);
  assert.equal(d.decision, false);
  assert.ok(!JSON.stringify(d).includes(String(w.otherAdmin.id)) || !JSON.stringify(d).includes("owned"));
  // Subject search lists our users only.
  const search = await json<{ results: { id: string }[] }>(
    await app.request(
      "/access/v1/search/subject",
      send(acme, "POST", {
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }),
    ),
  );
  assert.ok(!search.results.some((r) => r.id === String(w.otherAdmin.id) || r.id === "admin@globex.test"));
});

dbTest("isolation: the e-mail oracle answers a generic conflict, audited and throttled (F7)", async (db) => {
  const { w, app, acme } = await world(db);
  const create = (email: string) =>
    app.request(
      "/api/v1/users",
      send(acme, "POST", {
        email,
        password: "Str0ng!Passw0rd#x",
        role: "executive",
        reports_to_id: w.manager.id,
      }),
    );
  // Another organization's user's address: a conflict that names nobody and no organization.
  const taken = await create("admin@globex.test");
  assert.equal(taken.status, 409, await taken.clone().text());
  const text = await taken.text();
  for (const leak of ["admin@globex.test", "globex", "Globex", `"id":${w.otherAdmin.id}`]) {
    assert.ok(!text.includes(leak), `the conflict mentions ${leak}: ${text}`);
  }
  assert.match(JSON.parse(text).detail, /cannot be used/);
  const audited = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
    e.event === "user.identity_conflict"
  );
  assert.equal(audited.length, 1);
  assert.equal(audited[0].actorUserId, w.admin.id);
  // A free address still works; then a probe of many taken ones is throttled, and a throttled actor
  // learns nothing more: even a free address waits.
  const free = await create("fresh@acme.test");
  assert.equal(free.status, 201);
  await free.body?.cancel();
  let throttled = 0;
  for (let i = 0; i < CONFLICT_RULE.free + 2; i++) {
    const r = await create("admin@globex.test");
    if (r.status === 429) throttled++;
    else assert.equal(r.status, 409);
    await r.body?.cancel();
  }
  assert.ok(throttled >= 1, "conflicts are throttled");
  const blocked = await create("another-fresh@acme.test");
  assert.equal(blocked.status, 429);
  assert.ok(Number(blocked.headers.get("retry-after")) > 0);
  await blocked.body?.cancel();
});

dbTest(
  "isolation: a self e-mail change needs the current password, and its conflict is generic",
  async (db) => {
    const { w, app } = await world(db);
    // The organization's admin changes his own address (PATCH /users/{self}).
    const exec = await login(app, "admin@acme.test");
    const patch = (body: unknown) => app.request(`/api/v1/users/${w.admin.id}`, send(exec, "PATCH", body));
    const missing = await patch({ email: "admin.new@acme.test" });
    assert.equal(missing.status, 422);
    assert.match((await json(missing)).detail as string, /current_password/);
    const wrong = await patch({ email: "admin.new@acme.test", current_password: "not-it" });
    assert.equal(wrong.status, 400);
    await wrong.body?.cancel();
    const conflict = await patch({ email: "admin@globex.test", current_password: PASSWORD });
    assert.equal(conflict.status, 409);
    assert.ok(!(await conflict.text()).includes("globex"));
    const ok = await patch({ email: "admin.new@acme.test", current_password: PASSWORD });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal((await json(ok)).email, "admin.new@acme.test");
    // Other fields need no password.
    const name = await patch({ full_name: "Admin" });
    assert.equal(name.status, 200);
    await name.body?.cancel();
  },
);

/**
 * Property: whatever a tenant user sends — any verb, any of the other organization's ids, any body, any
 * organization header — nothing of the other organization is read, listed, disclosed or changed. Lists
 * with random filters never show it; AuthZEN never allows anything on it.
 */
dbTest(
  "isolation (property): no request of a tenant user reads, lists or changes another organization",
  async (db) => {
    const { w, app, globexLead } = await world(db);
    const globexRole = (await db.db.insert(db.t.roles).values({
      name: "globexsecret_role",
      organizationId: w.globex.id,
      scopeKey: w.globex.id,
      recordScope: "all",
    }).returning())[0];
    await db.db.update(db.t.crmLeads).set({ name: "globexsecret lead" }).where(
      eq(db.t.crmLeads.id, globexLead.id),
    );
    await db.db.update(db.t.users).set({ fullName: "globexsecret admin" }).where(
      eq(db.t.users.id, w.otherAdmin.id),
    );
    const callers = [
      await login(app, "admin@acme.test"),
      await login(app, "manager@acme.test"),
      await login(app, "exec@acme.test"),
      await login(app, "auditor@acme.test"),
    ];
    const g = { user: w.otherAdmin.id, role: globexRole.id, lead: globexLead.id, org: w.globex.id };
    const globexState = async () => {
      const t = db.t;
      const rows = [
        (await db.db.select().from(t.users)).filter((u) => u.organizationId === g.org),
        (await db.db.select().from(t.roles)).filter((r) => r.organizationId === g.org),
        (await db.db.select().from(t.crmLeads)).filter((l) => l.organizationId === g.org),
        (await db.db.select().from(t.organizations)).filter((o) => o.id === g.org),
        (await db.db.select().from(t.userPermissions)).filter((p) => p.organizationId === g.org),
      ];
      return JSON.stringify(rows);
    };
    const initial = await globexState();
    const byId: [string, string[]][] = [
      [`/api/v1/users/${g.user}`, ["GET", "PATCH", "PUT", "DELETE"]],
      [`/api/v1/users/${g.user}/deactivate`, ["POST"]],
      [`/api/v1/users/${g.user}/activate`, ["POST"]],
      [`/api/v1/users/${g.user}/revoke-tokens`, ["POST"]],
      [`/api/v1/roles/${g.role}`, ["GET", "PATCH", "PUT", "DELETE"]],
      [`/api/v1/roles/${g.role}/permissions`, ["POST", "DELETE"]],
      [`/api/v1/crm/leads/${g.lead}`, ["GET", "PATCH", "PUT", "DELETE"]],
      [`/api/v1/organizations/${g.org}`, ["GET", "PATCH"]],
      [`/api/v1/organizations/${g.org}/entitlements`, ["GET", "PATCH"]],
      [`/api/v1/organizations/${g.org}/deactivate`, ["POST"]],
    ];
    const lists = [
      "/api/v1/users",
      "/api/v1/crm/leads",
      "/api/v1/roles",
      "/api/v1/organizations",
      "/api/v1/permissions",
    ];
    const bodies = [
      undefined,
      { name: "x" },
      { full_name: "x", is_active: false },
      { record_scope: "own", permissions: ["crm.read"] },
      { permissions: ["crm.read"] },
      { organization_id: g.org, name: "y" },
      { owner_id: g.user, name: "z" },
      { license_tier: "free" },
    ];
    const header = fc.constantFrom<Record<string, string>>(
      {},
      {},
      { "x-organization-id": String(g.org) },
      { "x-organization-id": ` ${g.org} ` },
      { "x-organization-id": `0${g.org}` },
    );
    const request = fc.oneof(
      fc.record({
        kind: fc.constant("id" as const),
        target: fc.nat(byId.length - 1),
        method: fc.nat(3),
        body: fc.nat(bodies.length - 1),
      }),
      fc.record({
        kind: fc.constant("list" as const),
        query: fc.constantFrom(
          "",
          "?limit=500",
          "?skip=0&limit=1",
          "?is_active=true",
          "?role=admin",
          `?owner_id=${g.user}`,
        ),
      }),
      fc.record({
        kind: fc.constant("authzen" as const),
        action: fc.constantFrom("crm.read", "crm.update", "crm.delete", "users.read", "roles.update"),
        subjectForeign: fc.boolean(),
        resource: fc.constantFrom(
          { type: "crm_lead", id: String(g.lead) },
          { type: "user", id: String(g.user) },
          { type: "module", id: "crm" },
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(callers.length - 1), header, request, async (c, extra, r) => {
        const token = callers[c];
        let res: Response;
        let what: string;
        if (r.kind === "id") {
          const [path, methods] = byId[r.target];
          const method = methods[r.method % methods.length];
          const body = method === "GET" || method === "DELETE" ? undefined : bodies[r.body] ?? {};
          what = `${method} ${path} ${JSON.stringify(body)} ${JSON.stringify(extra)}`;
          res = await app.request(path, send(token, method, body, extra));
          assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status}`);
        } else if (r.kind === "list") {
          // Every list, with the same filters and header.
          for (const path of lists) {
            const listed = `GET ${path}${r.query} ${JSON.stringify(extra)}`;
            const out = await app.request(path + r.query, send(token, "GET", undefined, extra));
            assert.ok(out.status < 500, `${listed}: ${out.status}`);
            const text = await out.text();
            assert.ok(!/globexsecret|globex\.test/i.test(text), `${listed} disclosed: ${text.slice(0, 300)}`);
            if (out.status !== 200) continue;
            const items = (JSON.parse(text).items ?? []) as {
              organization_id?: number | null;
              id?: number;
            }[];
            assert.ok(items.every((i) => i.organization_id !== g.org), listed);
            if (path.includes("organizations")) assert.ok(items.every((i) => i.id !== g.org), listed);
          }
          assert.equal(await globexState(), initial);
          return;
        } else {
          const subject = { type: "user", id: String(r.subjectForeign ? g.user : w.admin.id) };
          const body = { subject, action: { name: r.action }, resource: r.resource };
          what = `evaluation ${JSON.stringify(body)}`;
          res = await app.request("/access/v1/evaluation", send(token, "POST", body, extra));
          assert.ok(res.status < 500, `${what}: ${res.status}`);
          if (res.status === 200) {
            const d = await json<{ decision: boolean }>(res.clone());
            // The foreign lead or user: never; the crm module of one's own organization may be allowed.
            if (r.subjectForeign || r.resource.type !== "module") assert.equal(d.decision, false, what);
          }
        }
        const text = await res.text();
        assert.ok(!/globexsecret|globex\.test/i.test(text), `${what} disclosed: ${text.slice(0, 300)}`);
        assert.equal(await globexState(), initial, `${what} changed the other organization`);
      }),
      { numRuns: Number(Deno.env.get("ISOLATION_RUNS") ?? "80") },
    );
  },
);
