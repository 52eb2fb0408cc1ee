/**
 * Security regression suite — escalation: nobody gives any principal more effective access than he has
 * himself (src/access/escalation.ts; docs/access.md "No escalation"). Examples from the 2026-12-02 security
 * review (finding 1), then a fast-check property over random organizations, role graphs, record scopes and
 * sequences of user / role API calls by random actors, checked through decide() after every step, on
 * libSQL and Postgres.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import {
  bearer,
  createOrg,
  createRole,
  createUser,
  createWorld,
  login,
  seedProfiles,
} from "../helpers/fixtures.ts";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { eq, sql } from "drizzle-orm";
import { ACTION_CATALOG } from "../../src/access/actions.ts";
import { type AccessOrganization, type AccessPrincipal, decide } from "../../src/access/decide.ts";
import { snapshotEntitlements } from "../../src/tenants/entitlements.ts";
import { gainedBeyond, roleBeyond } from "../../src/access/escalation.ts";
import { GrantSet } from "../../src/access/permissions.ts";
import type { AccessService } from "../../src/access/access_service.ts";
import type { TokenService } from "../../src/auth/tokens.ts";

type App = Awaited<ReturnType<typeof testApp>>["app"];

const send = (method: string, token: string, body?: unknown) => ({
  method,
  headers: { ...bearer(token), "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const STRONG = "Str0ng!Passw0rd#Seedbed";

/** The review's delegated role manager: a custom role `clerk` (own scope) holding roles.read/update. */
async function clerkWorld(db: Database, extra: string[] = []) {
  const w = await createWorld(db);
  for (let i = 0; i < 3; i++) {
    await db.db.insert(db.t.crmLeads).values({
      organizationId: w.acme.id,
      ownerId: w.executive.id,
      name: `L${i}`,
    });
  }
  const clerkRole = await createRole(db, {
    name: "clerk",
    organizationId: w.acme.id,
    permissions: ["crm.read", "roles.read", "roles.update", ...extra],
    recordScope: "own",
  });
  await createUser(db, {
    email: "clerk@acme.test",
    role: "clerk",
    roleId: clerkRole.id,
    organizationId: w.acme.id,
  });
  const { app } = await testApp(db);
  return {
    w,
    app,
    clerkRole,
    clerk: await login(app, "clerk@acme.test"),
    admin: await login(app, "admin@acme.test"),
  };
}

async function leadTotal(app: App, token: string): Promise<number> {
  const res = await app.request("/api/v1/crm/leads", { headers: bearer(token) });
  assert.equal(res.status, 200);
  return (await json<{ total: number }>(res)).total;
}

dbTest("escalation (F1): a roles:update holder cannot widen his own role's record scope", async (db) => {
  const { app, clerkRole, clerk } = await clerkWorld(db);
  assert.equal(await leadTotal(app, clerk), 0);
  for (const scope of ["all", "team"]) {
    const res = await app.request(
      `/api/v1/roles/${clerkRole.id}`,
      send("PATCH", clerk, { record_scope: scope }),
    );
    const body = await json(res);
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.equal(body.reason, "escalation");
    assert.match(String(body.detail), /you do not have yourself/);
  }
  assert.equal(await leadTotal(app, clerk), 0);
  // Narrowing or keeping his own scope is fine.
  const ok = await app.request(
    `/api/v1/roles/${clerkRole.id}`,
    send("PATCH", clerk, { record_scope: "own" }),
  );
  assert.equal(ok.status, 200);
});

dbTest("escalation (F1): no all-scope role and no sock puppet holding it", async (db) => {
  const { w, app, clerk } = await clerkWorld(db, ["roles.create", "users.create"]);
  let res = await app.request(
    "/api/v1/roles",
    send("POST", clerk, { name: "x", record_scope: "all", permissions: ["crm.read"] }),
  );
  assert.equal(res.status, 403);
  // A role within his reach is fine; it cannot be widened afterwards.
  res = await app.request(
    "/api/v1/roles",
    send("POST", clerk, { name: "y", record_scope: "own", permissions: ["crm.read"] }),
  );
  assert.equal(res.status, 201);
  const y = await json<{ id: number }>(res);
  res = await app.request(`/api/v1/roles/${y.id}`, send("PATCH", clerk, { record_scope: "all" }));
  assert.equal(res.status, 403);
  // An all-scope role an admin made: the clerk cannot hand it to an account of his.
  const wide = await createRole(db, {
    name: "wide",
    organizationId: w.acme.id,
    permissions: ["crm.read"],
    recordScope: "all",
  });
  res = await app.request(
    "/api/v1/users",
    send("POST", clerk, {
      email: "puppet@acme.test",
      password: STRONG,
      role: "wide",
      must_change_password: false,
    }),
  );
  assert.equal(res.status, 403, await res.clone().text());
  assert.equal((await json(res)).reason, "escalation");
  assert.equal(
    (await db.db.select().from(db.t.users)).some((u) => u.email === "puppet@acme.test"),
    false,
    "the refused user was not created (the transaction rolled back)",
  );
  void wide;
});

dbTest(
  "escalation (F1): a role holding grants the actor lacks cannot be edited, re-scoped or deleted by him",
  async (db) => {
    const { w, app, clerk } = await clerkWorld(db, ["roles.delete"]);
    const strong = await createRole(db, {
      name: "strong",
      organizationId: w.acme.id,
      permissions: ["crm.delete", "crm.read"],
      recordScope: "own",
    });
    for (
      const [method, path, body] of [
        ["PATCH", `/api/v1/roles/${strong.id}`, { record_scope: "all" }],
        ["PATCH", `/api/v1/roles/${strong.id}`, { description: "harmless?" }],
        ["PATCH", `/api/v1/roles/${strong.id}`, { permissions: ["crm.read"] }],
        ["DELETE", `/api/v1/roles/${strong.id}/permissions`, { permissions: ["crm.delete"] }],
        ["DELETE", `/api/v1/roles/${strong.id}`, undefined],
      ] as const
    ) {
      const res = await app.request(path, send(method, clerk, body));
      assert.equal(res.status, 403, `${method} ${path}: ${await res.clone().text()}`);
    }
    // A role with the same scope whose grants he holds is his to edit.
    const weak = await createRole(db, { name: "weak", organizationId: w.acme.id, permissions: ["crm.read"] });
    const res = await app.request(`/api/v1/roles/${weak.id}`, send("PATCH", clerk, { description: "fine" }));
    assert.equal(res.status, 200);
  },
);

dbTest(
  "escalation (F1): widening a role is refused when a holder's own permissions would reach further",
  async (db) => {
    // The clerk's scope is all, so a role with scope all is within his reach — but a holder of it also has
    // crm.delete of his own (granted by the admin): widening the role would give that holder crm.delete on
    // every lead, which the clerk lacks.
    const w = await createWorld(db);
    const clerkRole = await createRole(db, {
      name: "clerk",
      organizationId: w.acme.id,
      permissions: ["crm.read", "roles.read", "roles.update"],
      recordScope: "all",
    });
    await createUser(db, {
      email: "clerk@acme.test",
      role: "clerk",
      roleId: clerkRole.id,
      organizationId: w.acme.id,
    });
    const reader = await createRole(db, {
      name: "reader",
      organizationId: w.acme.id,
      permissions: ["crm.read"],
    });
    await createUser(db, {
      email: "holder@acme.test",
      role: "reader",
      roleId: reader.id,
      organizationId: w.acme.id,
      permissions: ["crm.delete"],
    });
    const { app } = await testApp(db);
    const clerk = await login(app, "clerk@acme.test");
    const res = await app.request(
      `/api/v1/roles/${reader.id}`,
      send("PATCH", clerk, { record_scope: "all" }),
    );
    assert.equal(res.status, 403, await res.clone().text());
    const [row] = (await db.db.select().from(db.t.roles)).filter((r) => r.id === reader.id);
    assert.equal(row.recordScope, "own", "rolled back");
  },
);

dbTest(
  "escalation: a users:update holder cannot reset the password of (or re-role) a stronger user",
  async (db) => {
    const w = await createWorld(db);
    const helpdesk = await createRole(db, {
      name: "helpdesk",
      organizationId: w.acme.id,
      permissions: ["users.read", "users.update", "crm.read"],
      recordScope: "all",
    });
    await createUser(db, {
      email: "hd@acme.test",
      role: "helpdesk",
      roleId: helpdesk.id,
      organizationId: w.acme.id,
    });
    const power = await createRole(db, {
      name: "power",
      organizationId: w.acme.id,
      permissions: ["crm.*"],
      recordScope: "all",
    });
    const victim = await createUser(db, {
      email: "power@acme.test",
      role: "power",
      roleId: power.id,
      organizationId: w.acme.id,
    });
    const peer = await createUser(db, {
      email: "peer@acme.test",
      role: "helpdesk",
      roleId: helpdesk.id,
      organizationId: w.acme.id,
    });
    const { app } = await testApp(db);
    const hd = await login(app, "hd@acme.test");
    let res = await app.request(`/api/v1/users/${victim.id}`, send("PATCH", hd, { password: STRONG }));
    assert.equal(res.status, 403, await res.clone().text());
    assert.equal((await json(res)).reason, "escalation");
    // ...nor give a peer the stronger role, nor an auditor his scope.
    res = await app.request(`/api/v1/users/${peer.id}`, send("PATCH", hd, { role: "power" }));
    assert.equal(res.status, 403);
    res = await app.request(`/api/v1/users/${peer.id}`, send("PATCH", hd, { permissions: ["crm.delete"] }));
    assert.equal(res.status, 403);
    // A peer with exactly his access is his to manage.
    res = await app.request(`/api/v1/users/${peer.id}`, send("PATCH", hd, { full_name: "Peer" }));
    assert.equal(res.status, 200);
  },
);

/**
 * The 2026-12-03 outside attack (A19–A21): decide() denies everything to a deactivated user, so judged as
 * he is, any grant to him looked harmless. A team lead with users.update deactivated his report, gave him
 * rights and a password of his choosing, and had them the day an admin reactivated the report.
 */
async function leadWorld(db: Database) {
  const w = await createWorld(db);
  const leadRole = await createRole(db, {
    name: "teamlead",
    organizationId: w.acme.id,
    permissions: ["crm.read", "users.read", "users.update"],
    recordScope: "team",
  });
  const lead = await createUser(db, {
    email: "lead@acme.test",
    role: "teamlead",
    roleId: leadRole.id,
    organizationId: w.acme.id,
  });
  const plain = await createRole(db, { name: "plain", organizationId: w.acme.id, permissions: ["crm.read"] });
  const report = await createUser(db, {
    email: "report@acme.test",
    role: "plain",
    roleId: plain.id,
    organizationId: w.acme.id,
    reportsToId: lead.id,
  });
  const { app } = await testApp(db);
  return {
    w,
    app,
    report,
    plain,
    lead: await login(app, "lead@acme.test"),
    admin: await login(app, "admin@acme.test"),
  };
}

dbTest(
  "escalation (A21): a users:update holder cannot give a report he deactivated rights he lacks",
  async (db) => {
    const { app, report, lead, admin } = await leadWorld(db);
    const grant = { permissions: ["users.delete", "roles.create", "hr.read", "crm.delete"] };
    let res = await app.request(`/api/v1/users/${report.id}`, send("PATCH", lead, grant));
    assert.equal(res.status, 403, "refused while the report is active");
    res = await app.request(`/api/v1/users/${report.id}/deactivate`, send("POST", lead, {}));
    assert.equal(res.status, 200, await res.clone().text());
    res = await app.request(
      `/api/v1/users/${report.id}`,
      send("PATCH", lead, { ...grant, password: STRONG, must_change_password: false }),
    );
    const body = await json(res);
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.equal(body.reason, "escalation");
    // Nothing was written: reactivated by an admin, the report has his old rights and password.
    res = await app.request(`/api/v1/users/${report.id}/activate`, send("POST", admin, {}));
    assert.equal(res.status, 200);
    const perms = await db.db.select().from(db.t.userPermissions);
    assert.deepEqual(perms.filter((p) => p.userId === report.id), []);
    res = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "report@acme.test", password: STRONG }),
    });
    assert.equal(res.status, 401, "the lead's password was not set");
    await res.body?.cancel();
    // What the lead has himself he may still give a deactivated report.
    res = await app.request(`/api/v1/users/${report.id}/deactivate`, send("POST", lead, {}));
    assert.equal(res.status, 200);
    res = await app.request(`/api/v1/users/${report.id}`, send("PATCH", lead, { permissions: ["crm.read"] }));
    assert.equal(res.status, 200, await res.clone().text());
  },
);

dbTest(
  "escalation (A19): a deactivated user stronger than the actor is still not his to manage",
  async (db) => {
    const { w, app, report, lead, admin } = await leadWorld(db);
    const hr = await createRole(db, {
      name: "hrclerk",
      organizationId: w.acme.id,
      permissions: ["crm.read", "hr.read"],
    });
    let res = await app.request(`/api/v1/users/${report.id}`, send("PATCH", admin, { role: hr.name }));
    assert.equal(res.status, 200, await res.clone().text());
    res = await app.request(`/api/v1/users/${report.id}`, send("PATCH", lead, { password: STRONG }));
    assert.equal(res.status, 403, "active: refused");
    res = await app.request(`/api/v1/users/${report.id}/deactivate`, send("POST", admin, {}));
    assert.equal(res.status, 200);
    for (
      const [method, path, body] of [
        ["PATCH", `/api/v1/users/${report.id}`, { password: STRONG, must_change_password: false }],
        ["POST", `/api/v1/users/${report.id}/activate`, {}],
      ] as const
    ) {
      res = await app.request(path, send(method, lead, body));
      const b = await json(res);
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(b)}`);
      assert.equal(b.reason, "escalation");
    }
  },
);

dbTest(
  "escalation (A20): a roles:update holder cannot widen a role while its holder is deactivated",
  async (db) => {
    const w = await createWorld(db);
    const mgr = await createRole(db, {
      name: "rolemgr",
      organizationId: w.acme.id,
      permissions: ["crm.read", "roles.read", "roles.update"],
      recordScope: "all",
    });
    await createUser(db, {
      email: "rm@acme.test",
      role: "rolemgr",
      roleId: mgr.id,
      organizationId: w.acme.id,
    });
    const worker = await createRole(db, {
      name: "worker",
      organizationId: w.acme.id,
      permissions: ["crm.read"],
    });
    const holder = await createUser(db, {
      email: "w1@acme.test",
      role: "worker",
      roleId: worker.id,
      organizationId: w.acme.id,
      permissions: ["crm.delete"],
      isActive: false,
    });
    const { app } = await testApp(db);
    const rm = await login(app, "rm@acme.test");
    const res = await app.request(`/api/v1/roles/${worker.id}`, send("PATCH", rm, { record_scope: "all" }));
    const body = await json(res);
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.equal(body.reason, "escalation");
    assert.match(String(body.detail), new RegExp(`user ${holder.id}`));
    const [row] = (await db.db.select().from(db.t.roles)).filter((r) => r.id === worker.id);
    assert.equal(row.recordScope, "own", "rolled back");
  },
);

Deno.test("escalation (pure): a deactivated principal or organization hides no gain", () => {
  const actor = pure(10, {
    kind: "custom",
    grants: ["crm.read", "users.update"],
    modules: [],
    scope: "team",
    team: [11],
  });
  const after = {
    ...pure(11, { kind: "custom", grants: ["crm.read", "crm.delete"], modules: [], scope: "own", team: [] }),
    isActive: false,
  };
  const before = {
    ...pure(11, { kind: "custom", grants: ["crm.read"], modules: [], scope: "own", team: [] }),
    isActive: false,
  };
  assert.notEqual(gainedBeyond(actor, before, after), null, "inactive before and after");
  assert.notEqual(gainedBeyond(actor, null, after), null, "inactive target");
  assert.equal(gainedBeyond(actor, { ...after, isActive: true }, after), null, "deactivating gives nothing");
  // The organization is judged active and entitled to everything, whatever it is now (decide() is
  // handed no organization of the database at all).
  assert.notEqual(gainedBeyond({ ...actor, organizationId: null }, null, after), null);
});

// ── The property ─────────────────────────────────────────────────────────────────────────────────────

/** Permissions the random worlds and calls draw from: a few modules, CRUD, wildcards, submodules, admin powers. */
const POOL = [
  "crm.read",
  "crm.update",
  "crm.delete",
  "crm.*",
  "crm_leads_read",
  "crm_leads_update",
  "hr.read",
  "sales.read",
  "users.read",
  "users.create",
  "users.update",
  "roles.read",
  "roles.create",
  "roles.update",
];
const SCOPES = ["own", "team", "all"] as const;
const SCOPES_ALL = SCOPES;
const POOL_ALL = [...POOL, "crm_admin", "sales.*", "hr.delete", "crm_leads_delete"];

// ── The invariant's functions, against decide() directly (pure, many runs) ─────────────────────────────

const kindArb = fc.constantFrom(
  "admin" as const,
  "manager" as const,
  "executive" as const,
  "custom" as const,
);
const pureArb = fc.record({
  kind: kindArb,
  grants: fc.subarray(POOL_ALL, { maxLength: 6 }),
  modules: fc.subarray(["crm", "hr", "sales"], { maxLength: 2 }),
  scope: fc.constantFrom(...SCOPES_ALL),
  team: fc.subarray([21, 22, 23, 24], { maxLength: 3 }),
});
function pure(
  id: number,
  p: { kind: AccessPrincipal["kind"]; grants: string[]; modules: string[]; scope: string; team: number[] },
): AccessPrincipal {
  return {
    id,
    email: `${id}@x.test`,
    role: p.kind,
    kind: p.kind,
    organizationId: 1,
    isActive: true,
    grants: GrantSet.fromNames(p.grants),
    modules: new Set(p.kind === "manager" ? p.modules : []),
    recordScope: p.kind === "admin"
      ? "all"
      : p.kind === "manager"
      ? "team"
      : p.kind === "executive"
      ? "own"
      : p.scope as AccessPrincipal["recordScope"],
    teamIds: new Set(p.team),
  };
}
const OWNERS = [undefined, 10, 11, 21, 22, 23, 24, 99];

Deno.test("escalation (pure property): gainedBeyond finds exactly what decide() says the change gives beyond the actor", () => {
  const org = allEntitled(1);
  fc.assert(
    fc.property(pureArb, fc.option(pureArb, { nil: null }), pureArb, (a, b, c) => {
      const actor = pure(10, a);
      const before = b && pure(11, b);
      const after = pure(11, c);
      const gain = gainedBeyond(actor, before, after);
      // Ground truth over the catalog and these owners (99 stands for everyone else).
      let truth = false;
      for (const [module, entry] of ACTION_CATALOG) {
        for (const action of entry.actions) {
          for (const submodule of [undefined, ...entry.submodules]) {
            for (const owner of OWNERS) {
              const q = (p: AccessPrincipal, o: number | undefined) =>
                decide(p, org, {
                  module,
                  action,
                  submodule,
                  organizationId: 1,
                  resource: o === undefined ? undefined : { organizationId: 1, ownerId: o },
                  now: 0,
                }).allowed;
              if (!q(after, owner) || (before && q(before, owner)) || q(actor, owner)) continue;
              if (owner === after.id && q(actor, actor.id)) continue;
              truth = true;
            }
          }
        }
      }
      assert.equal(gain !== null, truth, JSON.stringify({ a, b, c, gain }));
    }),
    { numRuns: 300 },
  );
});

Deno.test("escalation (pure property): a role within the actor's reach gives its holders nothing the actor lacks (reports of their own aside)", () => {
  const org = allEntitled(1);
  fc.assert(
    fc.property(
      pureArb,
      fc.subarray(POOL_ALL, { maxLength: 6 }),
      fc.constantFrom(...SCOPES_ALL),
      fc.subarray([21, 22, 23, 24, 30, 31], { maxLength: 3 }),
      (a, grants, scope, reports) => {
        const actor = pure(10, a);
        const role = {
          grants: GrantSet.fromNames(grants),
          recordScope: scope as AccessPrincipal["recordScope"],
        };
        if (roleBeyond(actor, role) !== null) return;
        // A holder whose reports are the actor's own or new users (30, 31: nobody the actor reaches yet).
        const holder: AccessPrincipal = {
          ...pure(11, { kind: "custom", grants, modules: [], scope, team: [] }),
          teamIds: new Set(reports),
        };
        for (const [module, entry] of ACTION_CATALOG) {
          for (const action of entry.actions) {
            for (const owner of [undefined, 11, ...actor.teamIds, 99]) {
              const q = (p: AccessPrincipal, o: number | undefined) =>
                decide(p, org, {
                  module,
                  action,
                  organizationId: 1,
                  resource: o === undefined ? undefined : { organizationId: 1, ownerId: o },
                  now: 0,
                }).allowed;
              if (!q(holder, owner)) continue;
              const mine = owner === 11 ? 10 : owner;
              assert.ok(
                q(actor, mine),
                `${module}.${action} on ${owner}: ${JSON.stringify({ a, grants, scope, reports })}`,
              );
            }
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

const grantsArb = fc.subarray(POOL, { maxLength: 6 });
const roleArb = fc.record({
  grants: fc.oneof(
    grantsArb,
    // A delegated administrator (the review's "clerk"): manages roles and users, some business grants.
    {
      weight: 2,
      arbitrary: fc.subarray(POOL.slice(0, 8), { maxLength: 3 }).map((g) => [
        ...g,
        "roles.read",
        "roles.update",
        "roles.create",
        "users.read",
        "users.create",
        "users.update",
      ]),
    },
  ),
  scope: fc.constantFrom(...SCOPES),
});
const worldArb = fc.record({
  managerModules: fc.subarray(["crm", "hr", "sales"], { minLength: 1 }),
  execPerms: fc.array(fc.subarray(["crm_leads_read", "crm_leads_update", "hr.read"]), {
    minLength: 1,
    maxLength: 2,
  }),
  roles: fc.array(roleArb, { minLength: 1, maxLength: 3 }),
  customs: fc.array(
    fc.record({
      role: fc.nat(),
      reportsTo: fc.option(fc.nat(), { nil: null }),
      perms: fc.subarray(POOL, { maxLength: 2 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});
const pick = fc.nat();
const stepArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("role_update" as const),
      actor: pick,
      role: pick,
      // Widening is what escalates: "all" weighs most.
      scope: fc.option(fc.constantFrom(...SCOPES, "all" as const), { nil: undefined }),
      grants: fc.option(grantsArb, { nil: undefined, freq: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("role_create" as const),
      actor: pick,
      scope: fc.constantFrom(...SCOPES),
      grants: grantsArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("role_grant" as const),
      actor: pick,
      role: pick,
      grants: fc.subarray(POOL, { minLength: 1, maxLength: 2 }),
      add: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("user_create" as const),
      actor: pick,
      role: pick,
      reportsTo: fc.option(pick, { nil: null }),
      perms: fc.subarray(POOL, { maxLength: 2 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("user_update" as const),
      actor: pick,
      target: pick,
      role: fc.option(pick, { nil: undefined }),
      reportsTo: fc.option(fc.option(pick, { nil: null }), { nil: undefined }),
      perms: fc.option(fc.subarray(POOL, { maxLength: 2 }), { nil: undefined }),
      active: fc.option(fc.boolean(), { nil: undefined }),
    }),
  },
  {
    // POST /users/{id}/deactivate or /activate (the attack deactivated a report, then changed him).
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("user_status" as const),
      actor: pick,
      target: pick,
      active: fc.boolean(),
    }),
  },
);

/** Effective access as decide() answers it, over the catalog and the given record owners (undefined: no record). */
function effective(p: AccessPrincipal, org: AccessOrganization, owners: (number | undefined)[]): Set<string> {
  const out = new Set<string>();
  for (const [module, entry] of ACTION_CATALOG) {
    for (const action of entry.actions) {
      for (const submodule of [undefined, ...entry.submodules]) {
        for (const owner of owners) {
          const d = decide(p, org, {
            module,
            action,
            submodule,
            organizationId: org.id,
            resource: owner === undefined ? undefined : { organizationId: org.id, ownerId: owner },
            now: 0,
          });
          if (d.allowed) out.add(`${module}.${action}.${submodule ?? ""}@${owner ?? "-"}`);
        }
      }
    }
  }
  return out;
}

/** Users of the organization and their access as the database says now (no cache). */
async function snapshot(db: Database, access: AccessService, orgId: number) {
  const ids = (await db.db.select({ id: db.t.users.id, org: db.t.users.organizationId }).from(db.t.users))
    .filter((u) => u.org === orgId).map((u) => u.id);
  return await access.principalsIn(db.db, ids);
}

const NOBODY = 2 ** 40;
/** The permission each kind of call needs. */
const NEEDS = {
  role_update: ["roles", "update"],
  role_grant: ["roles", "update"],
  role_create: ["roles", "create"],
  user_create: ["users", "create"],
  user_update: ["users", "update"],
  user_status: ["users", "update"],
} as const;

/**
 * The invariant, checked from outside: whatever a step gave a principal (effective access he has after it
 * and lacked before it) the actor had before it — on his own records, what the actor had on his. Checked
 * twice: on the principals as they are (a reactivation gives all a user holds), and on them as if active
 * (a deactivated user's grants are live the day he is reactivated, by anyone).
 */
function assertInvariant(
  actor: AccessPrincipal,
  before: Map<number, AccessPrincipal>,
  after: Map<number, AccessPrincipal>,
  org: AccessOrganization,
  step: unknown,
) {
  assertNoGain(actor, before, after, org, step);
  const active = (m: Map<number, AccessPrincipal>) =>
    new Map([...m].map(([id, p]) => [id, { ...p, isActive: true }]));
  assertNoGain(actor, active(before), active(after), org, step);
}

function assertNoGain(
  actor: AccessPrincipal,
  before: Map<number, AccessPrincipal>,
  after: Map<number, AccessPrincipal>,
  org: AccessOrganization,
  step: unknown,
) {
  if (actor.kind === "super_admin") return;
  const owners = [undefined, NOBODY, ...before.keys()];
  const actorHas = effective(actor, org, [...owners, actor.id]);
  for (const [id, p] of after) {
    const was = before.get(id);
    // effective() is a function of the principal alone: one the step left as it was gained nothing.
    if (was && isDeepStrictEqual(was, p)) continue;
    const mine = owners.includes(id) ? owners : [...owners, id];
    const now = effective(p, org, mine);
    const then = was ? effective(was, org, mine) : new Set<string>();
    for (const k of now) {
      if (then.has(k) || actorHas.has(k)) continue;
      const [what, owner] = k.split("@");
      if (owner === String(id) && actorHas.has(`${what}@${actor.id}`)) continue;
      assert.fail(
        `user ${actor.id} (${actor.kind}, scope ${actor.recordScope}) gave user ${id} ${k} which he lacks; step ${
          JSON.stringify(step)
        }`,
      );
    }
  }
}

function allEntitled(id: number): AccessOrganization {
  return {
    id,
    name: "",
    isActive: true,
    entitlements: snapshotEntitlements({
      tier: "*",
      tierModules: [...ACTION_CATALOG.keys()],
      enabledModules: {},
      trialEnds: {},
    }),
  };
}

/** Runs the property on one database; `runs` random worlds of `steps` calls each. */
export async function escalationProperty(db: Database, runs: number, seed?: number) {
  await seedProfiles(db);
  const { app, deps } = await testApp(db);
  const access: AccessService = deps.access;
  const tokens: TokenService = deps.access.tokens;
  let n = 0;
  const statuses = new Map<number, number>();
  const tokenOf = new Map<number, string>();
  const token = async (id: number) => {
    let t = tokenOf.get(id);
    if (!t) {
      const [u] = (await db.db.select().from(db.t.users)).filter((r) => r.id === id);
      t = (await tokens.issue(u)).token;
      tokenOf.set(id, t);
    }
    return t;
  };
  await fc.assert(
    fc.asyncProperty(worldArb, fc.array(stepArb, { minLength: 1, maxLength: 8 }), async (world, steps) => {
      const run = ++n;
      const org = await createOrg(db, {
        name: `Org ${run} ${crypto.randomUUID().slice(0, 8)}`,
        tier: "enterprise",
      });
      const admin = await createUser(db, {
        email: `admin@r${run}.test`,
        role: "admin",
        organizationId: org.id,
        isCompanyAdmin: true,
      });
      const manager = await createUser(db, {
        email: `manager@r${run}.test`,
        role: "manager",
        organizationId: org.id,
        modules: world.managerModules,
      });
      for (const [i, perms] of world.execPerms.entries()) {
        await createUser(db, {
          email: `exec${i}@r${run}.test`,
          role: "executive",
          organizationId: org.id,
          reportsToId: manager.id,
          permissions: perms,
        });
      }
      const roles: { id: number; name: string }[] = [];
      for (const [i, r] of world.roles.entries()) {
        const row = await createRole(db, {
          name: `role${i}`,
          organizationId: org.id,
          permissions: [...r.grants],
          recordScope: r.scope,
        });
        roles.push({ id: row.id, name: row.name });
      }
      const userIds = (await db.db.select().from(db.t.users)).filter((u) => u.organizationId === org.id).map((
        u,
      ) => u.id);
      for (const [i, c] of world.customs.entries()) {
        const role = roles[c.role % roles.length];
        const u = await createUser(db, {
          email: `custom${i}@r${run}.test`,
          role: role.name,
          roleId: role.id,
          organizationId: org.id,
          reportsToId: c.reportsTo === null ? null : userIds[c.reportsTo % userIds.length],
          permissions: c.perms,
        });
        userIds.push(u.id);
      }
      void admin;
      const orgView = allEntitled(org.id);
      for (const step of steps) {
        const before = await snapshot(db, access, org.id);
        const ids = [...before.keys()];
        // Mostly active users holding the call's permission, admins aside (else most calls stop at the guard).
        const [m, a] = NEEDS[step.kind];
        const active = ids.filter((id) => before.get(id)!.isActive);
        const holders = active.filter((id) => {
          const p = before.get(id)!;
          return p.kind !== "admin" && p.grants.allows(m, a);
        });
        const pool = holders.length && step.actor % 5 !== 0 ? holders : active;
        const actorId = pool[Math.floor(step.actor / 5) % pool.length];
        const actor = before.get(actorId)!;
        const t = await token(actorId);
        const currentRoles = (await db.db.select().from(db.t.roles)).filter((r) =>
          r.organizationId === org.id
        );
        const roleAt = (i: number) => currentRoles[i % currentRoles.length];
        let res: Response;
        switch (step.kind) {
          case "role_update": {
            const body: Record<string, unknown> = { description: "changed" };
            if (step.scope) body.record_scope = step.scope;
            if (step.grants) body.permissions = step.grants;
            // Half the time his own role (the review's attack), else any role of the organization.
            const own = currentRoles.find((r) => r.name === actor.role);
            const role = own && step.role % 2 === 0 ? own : roleAt(step.role >> 1);
            res = await app.request(`/api/v1/roles/${role.id}`, send("PATCH", t, body));
            break;
          }
          case "role_create":
            res = await app.request(
              "/api/v1/roles",
              send("POST", t, { name: `new${++n}`, record_scope: step.scope, permissions: step.grants }),
            );
            break;
          case "role_grant":
            res = await app.request(
              `/api/v1/roles/${roleAt(step.role).id}/permissions`,
              send(step.add ? "POST" : "DELETE", t, { permissions: step.grants }),
            );
            break;
          case "user_create":
            res = await app.request(
              "/api/v1/users",
              send("POST", t, {
                email: `made${++n}@r${run}.test`,
                password: STRONG,
                role: roleAt(step.role).name,
                reports_to_id: step.reportsTo === null ? null : ids[step.reportsTo % ids.length],
                permissions: step.perms,
                must_change_password: false,
              }),
            );
            break;
          case "user_update": {
            const body: Record<string, unknown> = {};
            if (step.role !== undefined) body.role = roleAt(step.role).name;
            if (step.reportsTo !== undefined) {
              body.reports_to_id = step.reportsTo === null ? null : ids[step.reportsTo % ids.length];
            }
            if (step.perms !== undefined) body.permissions = step.perms;
            if (step.active !== undefined) body.is_active = step.active;
            if (Object.keys(body).length === 0) body.full_name = "renamed";
            // Half the time a deactivated user (the attack changed a report he had deactivated).
            const inactive = ids.filter((id) => !before.get(id)!.isActive);
            const list = inactive.length && step.target % 2 === 0 ? inactive : ids;
            res = await app.request(
              `/api/v1/users/${list[(step.target >> 1) % list.length]}`,
              send("PATCH", t, body),
            );
            break;
          }
          case "user_status": {
            // Mostly a user the actor manages (his report), so that the next steps can change him.
            const mine = ids.filter((id) =>
              before.get(id)!.organizationId === org.id && actor.teamIds.has(id)
            );
            const list = mine.length && step.target % 3 !== 0 ? mine : ids;
            const verb = step.active ? "activate" : "deactivate";
            res = await app.request(
              `/api/v1/users/${list[step.target % list.length]}/${verb}`,
              send("POST", t, {}),
            );
            break;
          }
        }
        if (res.status >= 500) {
          assert.fail(`step ${JSON.stringify(step)} answered ${res.status}: ${await res.text()}`);
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (Deno.env.get("ESCALATION_VERBOSE")) {
          console.log(step.kind, res.status, (await res.text()).slice(0, 160));
        } else await res.body?.cancel();
        assertInvariant(actor, before, await snapshot(db, access, org.id), orgView, step);
      }
    }),
    { numRuns: runs, endOnFailure: true, seed },
  );
  return statuses;
}

/**
 * Random worlds per dialect: the invariant is the access layer's (the same on both), so libSQL explores
 * the most and Postgres, where every call costs several round trips, checks its SQL paths agree on fewer.
 * A fresh seed each run; ESCALATION_RUNS raises both (e.g. 500 before a release).
 */
const RUNS = Deno.env.get("ESCALATION_RUNS");
const RUNS_BY_DIALECT = { sqlite: Number(RUNS ?? "25"), postgres: Number(RUNS ?? "12") };

dbTest(
  "escalation (property): no sequence of user and role calls gives anyone more than its actor has",
  async (db) => {
    const statuses = await escalationProperty(db, RUNS_BY_DIALECT[db.dialect]);
    // The calls must mostly get through to the services (not all stop at the guard or at validation).
    assert.ok((statuses.get(200) ?? 0) + (statuses.get(201) ?? 0) > 0, JSON.stringify([...statuses]));
    if (Deno.env.get("ESCALATION_VERBOSE")) console.log(Object.fromEntries(statuses));
  },
);

/** Waits until `n` transactions of this database wait on a lock; false after `ms`. */
async function waitForWaiters(db: Database, n: number, ms = 15_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const [row] = await db.rows<{ n: number | string }>(sql`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    if (Number(row.n) >= n) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * Runs two requests so that both transactions are past the checks made before them before either commits.
 * Postgres: the test holds the audit table (every change writes its audit row last, after its
 * no-escalation check), so the first waits there and the second behind it; libSQL: concurrently (its
 * writers are serialized by the database).
 */
async function together(
  dialect: string,
  url: string,
  db: Database,
  requests: (() => Response | Promise<Response>)[],
): Promise<Response[]> {
  if (dialect !== "postgres") return await Promise.all(requests.map(async (r) => await r()));
  const other = await openDatabase(url, { maxConnections: 1 });
  try {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held!: () => void;
    const holding = new Promise<void>((r) => (held = r));
    const locked = other.transaction(async (tx) => {
      await other.run(sql`LOCK TABLE audit_logs IN EXCLUSIVE MODE`, tx);
      held();
      await released;
    });
    await holding;
    const pending = requests.map(async (r) => await r());
    const both = await waitForWaiters(db, requests.length);
    release();
    await locked;
    const out = await Promise.all(pending);
    assert.ok(both, "both changes reached their transactions");
    return out;
  } finally {
    await other.close();
  }
}

/**
 * Two roles:update holders each give a role half of what neither has: `scoper` (crm.read on every record)
 * widens role `desk` to `all`, `deleter` (crm.delete on his own records only) adds crm.delete to it. One
 * after the other, the second is refused (desk would give crm.delete on everybody's records); committed at
 * the same moment, both passed, each checked against the role as it was before the other's change. With
 * the organization's access-change lock (src/db/access_lock.ts) and the role checked again inside the
 * transaction, the second is refused. The same with a role change and a user change racing on desk's holder.
 */
dbTest(
  "escalation (race): two changes committed at the same moment cannot add up to more than either actor has",
  async (db, { dialect, url }) => {
    const w = await createWorld(db);
    const org = w.acme.id;
    const role = (name: string, permissions: string[], recordScope: "own" | "team" | "all") =>
      createRole(db, { name, organizationId: org, permissions, recordScope });
    const desk = await role("desk", ["crm.read"], "own");
    const spare = await role("spare", ["crm.read"], "own");
    const scoperRole = await role("scoper", ["crm.read", "roles.read", "roles.update"], "all");
    const deleterRole = await role(
      "deleter",
      ["crm.read", "crm.delete", "roles.read", "roles.update"],
      "own",
    );
    const granterRole = await role(
      "granter",
      ["crm.read", "crm.delete", "users.read", "users.update"],
      "team",
    );
    const user = (email: string, r: { id: number; name: string }, reportsToId?: number) =>
      createUser(db, { email, role: r.name, roleId: r.id, organizationId: org, reportsToId });
    await user("scoper@acme.test", scoperRole);
    await user("deleter@acme.test", deleterRole);
    const granter = await user("granter@acme.test", granterRole);
    const holder = await user("holder@acme.test", spare, granter.id);
    const { app, deps } = await testApp(db);
    const scoper = await login(app, "scoper@acme.test");
    const deleter = await login(app, "deleter@acme.test");
    const grant = await login(app, "granter@acme.test");
    const widen = (id: number) => () =>
      app.request(`/api/v1/roles/${id}`, send("PATCH", scoper, { record_scope: "all" }));
    const orgView = allEntitled(org);
    const deletesOthers = (p: AccessPrincipal) =>
      decide(p, orgView, {
        module: "crm",
        action: "delete",
        organizationId: org,
        resource: { organizationId: org, ownerId: w.executive.id },
        now: 0,
      }).allowed;
    const expectOneRefused = async (responses: Response[]) => {
      const bodies = await Promise.all(responses.map((r) => r.text()));
      assert.deepEqual(responses.map((r) => r.status).sort(), [200, 403], bodies.join("\n"));
      assert.match(bodies.find((_, i) => responses[i].status === 403)!, /"reason":"escalation"/);
    };

    // 1. Role and role: desk (no holders) must not end with crm.delete and scope all.
    await expectOneRefused(
      await together(dialect, url, db, [
        widen(desk.id),
        () =>
          app.request(
            `/api/v1/roles/${desk.id}/permissions`,
            send("POST", deleter, { permissions: ["crm.delete"] }),
          ),
      ]),
    );
    const [after] = await db.db.select().from(db.t.roles).where(eq(db.t.roles.id, desk.id));
    const held = await deps.roles.repo.permissionNames([desk.id]);
    assert.ok(
      !(after.recordScope === "all" && held.get(desk.id)!.includes("crm.delete")),
      `desk ended with ${after.recordScope} and ${held.get(desk.id)}`,
    );

    // 2. Role and user: spare widened to all while its holder is given crm.delete by his manager.
    await expectOneRefused(
      await together(dialect, url, db, [
        widen(spare.id),
        () =>
          app.request(`/api/v1/users/${holder.id}`, send("PATCH", grant, { permissions: ["crm.delete"] })),
      ]),
    );
    const [p] = [...(await deps.access.principalsIn(db.db, [holder.id])).values()];
    assert.equal(deletesOthers(p), false, "the holder cannot delete another user's lead");
  },
  { only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] },
);
