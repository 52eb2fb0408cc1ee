/**
 * The access matrix: every guarded route × {no token, bad token, each role,
 * another organization's user, super admin}, on libSQL and Postgres.
 *
 * Part 1 walks /openapi.json, so routes added by any module are covered:
 * without a token, with a bad token and with an account that must change its
 * password, every bearer route refuses (401 / 401 / 403).
 * Part 2 states the expected status of every route for each principal.
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import {
  bearer,
  createOrg,
  createRole,
  createUser,
  createWorld,
  login,
  type World,
} from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";

type Who = "super" | "admin" | "manager" | "exec" | "custom" | "other";
type Expect = number | "allowed" | "skip";

interface Ctx {
  w: World;
  db: Database;
  spare: number;
  n: () => number;
  lead: (ownerId?: number) => Promise<number>;
  order: () => Promise<number>;
  user: () => Promise<number>;
  role: () => Promise<number>;
}

interface Row {
  method: string;
  path: (c: Ctx) => string | Promise<string>;
  body?: (c: Ctx) => unknown;
  expect: Record<Who, Expect>;
}

const all = (s: Expect): Record<Who, Expect> => ({
  super: s,
  admin: s,
  manager: s,
  exec: s,
  custom: s,
  other: s,
});
const e = (superS: Expect, admin: Expect, manager: Expect, exec: Expect, custom: Expect, other: Expect) => ({
  super: superS,
  admin,
  manager,
  exec,
  custom,
  other,
});

const ROWS: Row[] = [
  // auth
  { method: "GET", path: () => "/api/v1/auth/me", expect: all(200) },
  {
    method: "POST",
    path: () => "/api/v1/auth/password/change",
    body: () => ({ current_password: "wrong-password", new_password: "Another-Strong-Pass1" }),
    expect: all(400),
  },
  // crm leads (Acme: starter, entitled); the other organization acts on Acme's ids → 404.
  { method: "GET", path: () => "/api/v1/crm/leads?limit=5", expect: all(200) },
  {
    method: "GET",
    path: async (c) => `/api/v1/crm/leads/${await c.lead()}`,
    expect: e(200, 200, 200, 200, 200, 404),
  },
  // A super admin names the owner (he is no member of the organization): 422 without owner_id.
  {
    method: "POST",
    path: () => "/api/v1/crm/leads",
    body: (c) => ({ name: `lead ${c.n()}` }),
    expect: e(422, 201, 201, 201, 403, 201),
  },
  {
    method: "POST",
    path: () => "/api/v1/crm/leads",
    body: (c) => ({ name: `lead ${c.n()}`, owner_id: c.w.executive.id }),
    expect: e(201, 201, 201, 201, 403, 403),
  },
  {
    method: "PATCH",
    path: async (c) => `/api/v1/crm/leads/${await c.lead()}`,
    body: () => ({ status: "won" }),
    expect: e(200, 200, 200, 403, 403, 404),
  },
  {
    method: "PUT",
    path: async (c) => `/api/v1/crm/leads/${await c.lead()}`,
    body: () => ({ status: "lost" }),
    expect: e(200, 200, 200, 403, 403, 404),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/crm/leads/${await c.lead()}`,
    expect: e(204, 204, 204, 403, 403, 404),
  },
  // manufacturing (Acme not entitled; Globex is): the other organization's admin works on Globex's orders.
  { method: "GET", path: () => "/api/v1/manufacturing/orders", expect: e(403, 403, 403, 403, 403, 200) },
  {
    method: "GET",
    path: async (c) => `/api/v1/manufacturing/orders/${await c.order()}`,
    expect: e(403, 403, 403, 403, 403, 200),
  },
  {
    method: "POST",
    path: () => "/api/v1/manufacturing/orders",
    body: (c) => ({ order_number: `MO-${c.n()}`, product: "Widget", quantity: 1 }),
    expect: e(403, 403, 403, 403, 403, 201),
  },
  {
    method: "PATCH",
    path: async (c) => `/api/v1/manufacturing/orders/${await c.order()}`,
    body: () => ({ quantity: 2 }),
    expect: e(403, 403, 403, 403, 403, 200),
  },
  {
    method: "PUT",
    path: async (c) => `/api/v1/manufacturing/orders/${await c.order()}`,
    body: () => ({ quantity: 3 }),
    expect: e(403, 403, 403, 403, 403, 200),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/manufacturing/orders/${await c.order()}`,
    expect: e(403, 403, 403, 403, 403, 204),
  },
  // the read-only modules: Acme is not entitled to them, Globex (enterprise) is
  ...[
    "hr/employees",
    "marketing/campaigns",
    "service/tickets",
    "assets",
    "transport/vehicles",
    "transport/trips",
  ].map((p) => ({
    method: "GET",
    path: () => `/api/v1/${p}`,
    expect: e(403, 403, 403, 403, 403, 200),
  })),
  // users
  { method: "GET", path: () => "/api/v1/users", expect: e(200, 200, 200, 403, 403, 200) },
  {
    method: "GET",
    path: (c) => `/api/v1/users/${c.w.executive.id}`,
    expect: e(200, 200, 200, 403, 403, 404),
  },
  {
    method: "POST",
    path: () => "/api/v1/users",
    body: (c) => ({
      email: `new${c.n()}@acme.test`,
      password: "Str0ng-Initial-Pass",
      role: "executive",
      reports_to_id: c.w.manager.id,
      permissions: ["crm_leads_read"],
    }),
    expect: e(201, 201, 201, 403, 403, 422),
  },
  {
    method: "PATCH",
    path: (c) => `/api/v1/users/${c.w.executive.id}`,
    body: () => ({ full_name: "E" }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "PUT",
    path: (c) => `/api/v1/users/${c.w.executive.id}`,
    body: () => ({ full_name: "F" }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "POST",
    path: async (c) => `/api/v1/users/${await c.user()}/deactivate`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "POST",
    path: async (c) => `/api/v1/users/${await c.user()}/activate`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "POST",
    path: async (c) => `/api/v1/users/${await c.user()}/revoke-tokens`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/users/${await c.user()}`,
    expect: e(204, 204, 403, 403, 403, 404),
  },
  // roles and permissions
  { method: "GET", path: () => "/api/v1/roles", expect: e(200, 200, 403, 403, 403, 200) },
  {
    method: "GET",
    path: async (c) => `/api/v1/roles/${await c.role()}`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "POST",
    path: () => "/api/v1/roles",
    body: (c) => ({ name: `role${c.n()}`, permissions: ["crm.read"] }),
    expect: e(201, 201, 403, 403, 403, 201),
  },
  {
    method: "PATCH",
    path: async (c) => `/api/v1/roles/${await c.role()}`,
    body: () => ({ description: "d" }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "PUT",
    path: async (c) => `/api/v1/roles/${await c.role()}`,
    body: () => ({ description: "d2" }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/roles/${await c.role()}`,
    expect: e(204, 204, 403, 403, 403, 404),
  },
  {
    method: "POST",
    path: async (c) => `/api/v1/roles/${await c.role()}/permissions`,
    body: () => ({ permissions: ["crm.update"] }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/roles/${await c.role()}/permissions`,
    body: () => ({ permissions: ["crm.read"] }),
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "DELETE",
    path: async (c) => `/api/v1/roles/${await c.role()}/permissions/crm.read`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  { method: "GET", path: () => "/api/v1/permissions", expect: e(200, 200, 403, 403, 403, 200) },
  // organizations: platform writes, org admins read their own
  { method: "GET", path: () => "/api/v1/organizations", expect: e(200, 200, 403, 403, 403, 200) },
  {
    method: "POST",
    path: () => "/api/v1/organizations",
    body: (c) => ({ name: `Org ${c.n()}` }),
    expect: e(201, 403, 403, 403, 403, 403),
  },
  {
    method: "GET",
    path: (c) => `/api/v1/organizations/${c.w.acme.id}`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "PATCH",
    path: (c) => `/api/v1/organizations/${c.spare}`,
    body: (c) => ({ name: `Spare ${c.n()}` }),
    expect: e(200, 403, 403, 403, 403, 403),
  },
  {
    method: "POST",
    path: (c) => `/api/v1/organizations/${c.spare}/deactivate`,
    expect: e(200, 403, 403, 403, 403, 403),
  },
  {
    method: "POST",
    path: (c) => `/api/v1/organizations/${c.spare}/activate`,
    expect: e(200, 403, 403, 403, 403, 403),
  },
  {
    method: "GET",
    path: (c) => `/api/v1/organizations/${c.w.acme.id}/entitlements`,
    expect: e(200, 200, 403, 403, 403, 404),
  },
  {
    method: "PATCH",
    path: (c) => `/api/v1/organizations/${c.spare}/entitlements`,
    body: () => ({ enabled_modules: { hr: true } }),
    expect: e(200, 403, 403, 403, 403, 403),
  },
  // seeders: platform operations (running them is covered by the seeding tests)
  { method: "GET", path: () => "/api/v1/seeders/?skip=0&limit=5", expect: e(200, 403, 403, 403, 403, 403) },
  { method: "GET", path: () => "/api/v1/seeders/999999", expect: e(404, 403, 403, 403, 403, 403) },
  {
    method: "POST",
    path: () => "/api/v1/seeders/execute",
    body: () => ({ create_backup: false }),
    expect: e("skip", 403, 403, 403, 403, 403),
  },
  { method: "POST", path: () => "/api/v1/seeders/reset", expect: e("skip", 403, 403, 403, 403, 403) },
  {
    method: "POST",
    path: () => "/api/v1/seeders/restore",
    body: () => ({}),
    expect: e("skip", 403, 403, 403, 403, 403),
  },
  // AuthZEN: anyone asks about himself; subject search needs an admin
  {
    method: "POST",
    path: () => "/access/v1/evaluation",
    body: (c) => ({
      subject: { type: "user", id: "self" },
      action: { name: "crm.read" },
      resource: { type: "module", id: "crm" },
      context: { organization_id: c.w.acme.id },
    }),
    expect: all(200),
  },
  {
    method: "POST",
    path: () => "/access/v1/evaluations",
    body: () => ({
      subject: { type: "user", id: "self" },
      evaluations: [{ action: { name: "crm.read" }, resource: { type: "module", id: "crm" } }],
    }),
    expect: all(200),
  },
  {
    method: "POST",
    path: () => "/access/v1/search/subject",
    body: () => ({
      subject: { type: "user" },
      action: { name: "crm.read" },
      resource: { type: "module", id: "crm" },
    }),
    expect: e(200, 200, 403, 403, 403, 200),
  },
  {
    method: "POST",
    path: () => "/access/v1/search/resource",
    body: () => ({
      subject: { type: "user", id: "self" },
      action: { name: "crm.read" },
      resource: { type: "crm_lead" },
    }),
    expect: all(200),
  },
  {
    method: "POST",
    path: () => "/access/v1/search/action",
    body: () => ({ subject: { type: "user", id: "self" }, resource: { type: "module", id: "crm" } }),
    expect: all(200),
  },
];

async function world(db: Database) {
  const w = await createWorld(db);
  const spare = (await createOrg(db, { name: "Spare", tier: "starter" })).id;
  let counter = 0;
  const ctx: Ctx = {
    w,
    db,
    spare,
    n: () => ++counter,
    lead: async (ownerId = w.executive.id) =>
      (await db.db.insert(db.t.crmLeads).values({ organizationId: w.acme.id, ownerId, name: `m${++counter}` })
        .returning())[0].id,
    order: async () =>
      (await db.db.insert(db.t.manufacturingOrders).values({
        organizationId: w.globex.id,
        ownerId: w.otherAdmin.id,
        orderNumber: `O${++counter}`,
        product: "P",
        quantity: 1,
      }).returning())[0].id,
    user: async () =>
      (await createUser(db, {
        email: `u${++counter}@acme.test`,
        role: "executive",
        organizationId: w.acme.id,
        reportsToId: w.manager.id,
      })).id,
    role: async () =>
      (await createRole(db, { name: `r${++counter}`, organizationId: w.acme.id, permissions: ["crm.read"] }))
        .id,
  };
  return ctx;
}

dbTest(
  "matrix part 1: every bearer route refuses no token, a bad token and a must-change-password account",
  async (db) => {
    const w = await createWorld(db);
    await createUser(db, {
      email: "locked@acme.test",
      role: "admin",
      organizationId: w.acme.id,
      isCompanyAdmin: true,
      mustChangePassword: true,
    });
    // /metrics is on (it is off, 404, without a token) so that it is walked too.
    const { app } = await testApp(db, { env: { METRICS_TOKEN: "m".repeat(32) } });
    const locked = await login(app, "locked@acme.test");
    const doc = await (await app.request("/openapi.json")).json() as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    let count = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!op.security?.length) continue;
        count++;
        const url = path.replace(/\{[^}]+\}/g, "1");
        const init = (headers: Record<string, string>) => ({
          method: method.toUpperCase(),
          headers: { ...headers, "content-type": "application/json" },
          body: method === "get" ? undefined : "{}",
        });
        for (
          const [name, headers] of [["no token", {}], ["bad token", {
            authorization: "Bearer not.a.token",
          }]] as const
        ) {
          const res = await app.request(url, init(headers));
          assert.equal(res.status, 401, `${method.toUpperCase()} ${path} with ${name}`);
          await res.body?.cancel();
        }
        // Logout is open to any valid token, and would revoke the one the rest of this loop uses.
        if (path === "/api/v1/auth/logout") continue;
        const res = await app.request(url, init(bearer(locked)));
        const open = path === "/api/v1/auth/me" || path === "/api/v1/auth/password/change";
        if (!open) {
          assert.equal(
            res.status,
            // A user's token is never the metrics token.
            path === "/metrics" ? 401 : 403,
            `${method.toUpperCase()} ${path} with a must-change-password account`,
          );
        }
        await res.body?.cancel();
      }
    }
    assert.ok(count >= 50, `${count} bearer routes`);
  },
);

dbTest(
  "matrix part 2: every guarded route × each role, another organization's user and the super admin",
  async (db) => {
    const c = await world(db);
    const { app } = await testApp(db);
    const tokens: Record<Who, string> = {
      super: await login(app, "root@platform.test"),
      admin: await login(app, "admin@acme.test"),
      manager: await login(app, "manager@acme.test"),
      exec: await login(app, "exec@acme.test"),
      custom: await login(app, "auditor@acme.test"),
      other: await login(app, "admin@globex.test"),
    };
    const ids: Record<Who, number> = {
      super: c.w.superAdmin.id,
      admin: c.w.admin.id,
      manager: c.w.manager.id,
      exec: c.w.executive.id,
      custom: c.w.auditor.id,
      other: c.w.otherAdmin.id,
    };
    const failures: string[] = [];
    for (const row of ROWS) {
      for (const who of Object.keys(tokens) as Who[]) {
        const expected = row.expect[who];
        if (expected === "skip") continue;
        const path = await row.path(c);
        // The super admin acts on Acme by naming it (platform routes ignore the header).
        const platformPath = /^\/api\/v1\/(organizations|seeders)/.test(path) || path.startsWith("/access/");
        const headers = bearer(tokens[who], who === "super" && !platformPath ? c.w.acme.id : undefined);
        let body = row.body?.(c);
        if (body !== undefined) {
          body = JSON.parse(
            JSON.stringify(body).replaceAll('"id":"self"', `"id":"${ids[who]}"`),
          );
        }
        const res = await app.request(path, {
          method: row.method,
          headers: { ...headers, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const ok = expected === "allowed"
          ? res.status !== 401 && res.status !== 403
          : res.status === expected;
        if (!ok) {
          failures.push(
            `${row.method} ${path} as ${who}: ${res.status} (expected ${expected}) ${await res.text()}`,
          );
        } else await res.body?.cancel();
      }
    }
    assert.deepEqual(failures, []);
  },
);
