/**
 * The action catalog is the single source of actions (src/access/actions.ts; review finding 2): decide()
 * denies anything outside it (`unknown_action`) to everyone, guards and forward-auth routes cannot be
 * built for such an action, AuthZEN evaluation, batch, fast path and action search never answer one, the
 * OpenAPI document publishes the catalog, and permission names must name it (finding 8).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createRole, createUser, createWorld, login } from "../helpers/fixtures.ts";
import { post, user } from "../authzen/authzen_helpers.ts";
import { ACTION_CATALOG, isCatalogAction } from "../../src/access/actions.ts";
import {
  type AccessOrganization,
  type AccessPrincipal,
  decide,
  type RoleKind,
} from "../../src/access/decide.ts";
import { GrantSet, parsePermission } from "../../src/access/permissions.ts";
import { GUARDED_ACTIONS, requireAccess } from "../../src/access/guard.ts";
import { snapshotEntitlements } from "../../src/tenants/entitlements.ts";
import { compileEntry } from "../../src/gateway/route_table.ts";
import type { AccessService } from "../../src/access/access_service.ts";

const ORG: AccessOrganization = {
  id: 1,
  name: "Acme",
  isActive: true,
  entitlements: snapshotEntitlements({
    tier: "*",
    tierModules: [...ACTION_CATALOG.keys()],
    enabledModules: {},
    trialEnds: {},
  }),
};
const principal = (kind: RoleKind, grants: string[] = []): AccessPrincipal => ({
  id: 7,
  email: "p@acme.test",
  role: kind,
  kind,
  organizationId: kind === "super_admin" ? null : 1,
  isActive: true,
  grants: GrantSet.fromNames(grants),
  modules: new Set(kind === "manager" ? ["crm"] : []),
  recordScope: "all",
  teamIds: new Set(),
});

Deno.test("decide: an action outside the catalog is denied to everyone, wildcards and super admins included", () => {
  const cases: [AccessPrincipal, string, string, string?][] = [
    [principal("admin"), "crm", "launch_missiles"],
    [principal("admin"), "crm", "fly"],
    [principal("manager"), "crm", "fly"],
    [principal("custom", ["crm.*", "crm_admin"]), "crm", "destroy_everything"],
    [principal("custom", ["crm_leads_read"]), "crm", "read", "invoices"],
    [principal("super_admin"), "seeders", "fly"],
    [principal("super_admin"), "backups", "read"],
    [principal("admin"), "nosuchmodule", "read"],
  ];
  for (const [p, module, action, submodule] of cases) {
    const d = decide(p, ORG, { module, action, submodule, organizationId: p.organizationId ?? 1, now: 0 });
    assert.equal(d.allowed, false, `${p.kind} ${module}.${action}`);
    assert.equal(d.reason, "unknown_action");
    assert.equal(d.layer, "rbac");
  }
  // The catalog's own actions still pass.
  assert.equal(
    decide(principal("admin"), ORG, { module: "crm", action: "read", organizationId: 1, now: 0 }).allowed,
    true,
  );
  assert.equal(
    decide(principal("super_admin"), ORG, {
      module: "seeders",
      action: "execute",
      organizationId: null,
      now: 0,
    })
      .allowed,
    true,
  );
});

Deno.test("decide (property): whatever is allowed is an action of the catalog", () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
  const modules = [...ACTION_CATALOG.keys()];
  fc.assert(
    fc.property(
      fc.constantFrom<RoleKind>("super_admin", "admin", "manager", "executive", "custom"),
      fc.oneof(fc.constantFrom(...modules), word),
      fc.oneof(fc.constantFrom("read", "create", "update", "delete", "execute", "evaluate", "manage"), word),
      fc.option(fc.oneof(fc.constantFrom("leads", "orders", "trips"), word), { nil: undefined }),
      (kind, module, action, submodule) => {
        const p = principal(kind, [`${module}.*`, `${module}_admin`, `${module}.${action}`]);
        const d = decide(p, ORG, {
          module,
          action,
          submodule,
          organizationId: p.organizationId ?? 1,
          now: 0,
        });
        if (d.allowed) {
          assert.ok(isCatalogAction(module, action, submodule), `${module}.${action} ${submodule}`);
        }
        if (!isCatalogAction(module, action, submodule)) assert.equal(d.reason, "unknown_action");
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("guard and forward-auth routes cannot be built for an action outside the catalog", () => {
  const access = {} as AccessService;
  assert.throws(() => requireAccess(access, "crm", "fly"), /not in the action catalog/);
  assert.throws(
    () => requireAccess(access, "crm", "read", { submodule: "invoices" }),
    /not in the action catalog/,
  );
  assert.throws(
    () => compileEntry({ method: "GET", path: "/x", module: "crm", action: "fly" }, "routes[0]"),
    /not in the action catalog/,
  );
  compileEntry({ method: "GET", path: "/x", module: "crm", action: "read" }, "routes[0]");
});

dbTest("every route's guard and the OpenAPI document name catalog actions only", async (db) => {
  const { app } = await testApp(db);
  assert.ok(GUARDED_ACTIONS.size > 10, "the app built its guards");
  for (const k of GUARDED_ACTIONS) {
    const [m, a, s] = k.split(".");
    assert.ok(isCatalogAction(m, a, s), k);
  }
  const doc = await json<Record<string, unknown>>(await app.request("/openapi.json"));
  assert.deepEqual(doc["x-action-catalog"], JSON.parse(JSON.stringify(Object.fromEntries(ACTION_CATALOG))));
  // Every permission a route's description names (`users:create`, `crm.read`, …) is a catalog one.
  const text = JSON.stringify(doc.paths);
  const named = [...text.matchAll(/`([a-z]+[.:][a-z_*]+|[a-z]+_[a-z]+_[a-z]+)`/g)].map((m) => m[1]);
  assert.ok(named.length > 5, "descriptions name permissions");
  for (const n of named) {
    const g = parsePermission(n);
    // Field names (`context.trace`) are not permissions: only names of a catalog module are.
    if (!g || g.kind === "module" || !ACTION_CATALOG.has(g.module)) continue;
    assert.ok(isCatalogAction(g.module, g.action, g.kind === "submodule" ? g.submodule : undefined), n);
  }
  // One dialect: the routes' guards and the OpenAPI document do not depend on the database.
}, { only: ["libsql"] });

dbTest(
  "authzen: unknown actions are denied (unknown_action) on evaluation, fast path, batch and search",
  async (db) => {
    const w = await createWorld(db);
    const mgr = await createRole(db, { name: "crm_all", organizationId: w.acme.id, permissions: ["crm.*"] });
    const holder = await createUser(db, {
      email: "crmall@acme.test",
      role: "crm_all",
      roleId: mgr.id,
      organizationId: w.acme.id,
    });
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const wild = await login(app, "crmall@acme.test");
    const module = { type: "module", id: "crm" };
    const cases: [string, number, string][] = [
      [admin, w.admin.id, "crm.launch_missiles"],
      [admin, w.admin.id, "can_fly"],
      [admin, w.admin.id, "destroy_everything"],
      [wild, holder.id, "crm.fly"],
      [wild, holder.id, "crm_leads_fly"],
      [wild, holder.id, "crm_invoices_read"],
    ];
    for (const [token, id, name] of cases) {
      const body = { subject: user(id), action: { name }, resource: module };
      // The fast path (the default) and the router (a query string sends it there) alike.
      for (const path of ["/access/v1/evaluation", "/access/v1/evaluation?via=router"]) {
        const res = await app.request(path, post(token, body));
        const d = await json<{ decision: boolean; context?: Record<string, unknown> }>(res);
        assert.equal(res.status, 200, path);
        assert.equal(d.decision, false, `${name} via ${path}`);
        assert.equal(d.context?.reason, "unknown_action", name);
      }
      const batch = await json<{ evaluations: { decision: boolean }[] }>(
        await app.request(
          "/access/v1/evaluations",
          post(token, {
            subject: user(id),
            resource: module,
            evaluations: [{ action: { name } }, { action: { name: "crm.read" } }],
          }),
        ),
      );
      assert.deepEqual(batch.evaluations.map((e) => e.decision), [false, true]);
    }
    // Action search lists catalog actions only, each of which evaluates to true.
    for (const [token, id] of [[admin, w.admin.id], [wild, holder.id]] as const) {
      const res = await app.request(
        "/access/v1/search/action",
        post(token, { subject: user(id), resource: module }),
      );
      const out = await json<{ results: { name: string }[] }>(res);
      assert.deepEqual(out.results.map((r) => r.name).sort(), [
        "crm.create",
        "crm.delete",
        "crm.read",
        "crm.update",
      ]);
    }
    // Random action names: an allow only ever names a catalog action.
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z][a-z0-9_]{0,12}([.:][a-z][a-z0-9_]{0,8})?$/),
        async (name) => {
          const res = await app.request(
            "/access/v1/evaluation",
            post(admin, { subject: user(w.admin.id), action: { name }, resource: module }),
          );
          const d = await json<{ decision: boolean }>(res);
          if (!d.decision) return;
          const m = /^(?:([a-z0-9]+)[.:])?([a-z0-9_]+)$/.exec(name)!;
          assert.ok(isCatalogAction(m[1] ?? "crm", m[2]), name);
        },
      ),
      { numRuns: 150 },
    );
  },
);

dbTest(
  "permissions (F8): only catalog permissions are accepted; invented names never reach the shared list",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const other = await login(app, "admin@globex.test");
    for (
      const name of ["crm_acquireglobex_read", "hr_layoffsq3_read", "crm.fly", "crm_leads_fly", "nosuch.read"]
    ) {
      const res = await app.request("/api/v1/roles", {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: `r_${name.replace(/\W/g, "_")}`, permissions: [name] }),
      });
      assert.equal(res.status, 422, name);
      assert.match(String((await json(res)).detail), /is no permission of the catalog/);
    }
    // Seed 000's examples and real submodules are fine.
    const res = await app.request("/api/v1/roles", {
      method: "POST",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({
        name: "fine",
        permissions: ["crm.read", "crm.*", "crm_admin", "crm_leads_read", "users:create"],
      }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    // A row invented before names were checked is shown to nobody.
    await db.db.insert(db.t.permissions).values({
      name: "crm_acquireglobex_read",
      module: "crm",
      action: "acquireglobex_read",
    });
    const list = await json<{ items: { name: string }[]; total: number }>(
      await app.request("/api/v1/permissions?limit=500", { headers: bearer(other) }),
    );
    assert.ok(!list.items.some((p) => p.name === "crm_acquireglobex_read"));
    assert.equal(list.total, list.items.length);
    void w;
  },
);

/** Every action and submodule word of the catalog (a generated verb must be none of them). */
const CATALOG_WORDS = new Set(
  [...ACTION_CATALOG.values()].flatMap((m) => [...m.actions, ...m.submodules]),
);

dbTest(
  "unknown actions (property): denied on every path — guard, forward-auth routes, evaluation (fast path and router), batch, subject, resource and action search",
  async (db) => {
    const w = await createWorld(db);
    const role = await createRole(db, { name: "crm_all", organizationId: w.acme.id, permissions: ["crm.*"] });
    const holder = await createUser(db, {
      email: "crmall@acme.test",
      role: "crm_all",
      roleId: role.id,
      organizationId: w.acme.id,
    });
    const [lead] = await db.db.insert(db.t.crmLeads).values({
      organizationId: w.acme.id,
      ownerId: holder.id,
      name: "L",
    }).returning();
    const { app } = await testApp(db);
    const callers: [string, number][] = [
      [await login(app, "admin@acme.test"), w.admin.id],
      [await login(app, "crmall@acme.test"), holder.id],
    ];
    const access = {} as AccessService;
    const verb = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/).filter((v) => !CATALOG_WORDS.has(v));
    const named = fc.tuple(
      verb,
      fc.constantFrom(
        (v: string) => `crm.${v}`,
        (v: string) => `crm:${v}`,
        (v: string) => v,
        (v: string) => `crm_leads_${v}`,
      ),
    ).map(([v, form]) => ({ verb: v, name: form(v) }));
    const resources = [{ type: "module", id: "crm" }, { type: "crm_lead", id: String(lead.id) }];
    const denied = (d: { decision: boolean; context?: { reason?: string } }, what: string) => {
      assert.equal(d.decision, false, what);
      if (d.context?.reason !== undefined) assert.equal(d.context.reason, "unknown_action", what);
    };
    await fc.assert(
      fc.asyncProperty(named, fc.constantFrom(0, 1), fc.constantFrom(0, 1), async ({ verb, name }, c, r) => {
        // The REST guard and the forward-auth route table cannot even be built for it.
        assert.throws(() => requireAccess(access, "crm", verb), /not in the action catalog/);
        assert.throws(
          () => compileEntry({ method: "GET", path: "/x", module: "crm", action: verb }, "routes[0]"),
          /not in the action catalog/,
        );
        const [token, id] = callers[c];
        const resource = resources[r];
        const what = `${name} on ${resource.type} by ${id}`;
        const single = { subject: user(id), action: { name }, resource };
        for (const path of ["/access/v1/evaluation", "/access/v1/evaluation?via=router"]) {
          const res = await app.request(path, post(token, single));
          assert.equal(res.status, 200, `${path} ${what}`);
          denied(await json(res), `${path} ${what}`);
        }
        const batch = await app.request(
          "/access/v1/evaluations",
          post(token, {
            subject: user(id),
            resource,
            evaluations: [{ action: { name } }, { action: { name } }],
          }),
        );
        assert.equal(batch.status, 200, what);
        for (const e of (await json<{ evaluations: { decision: boolean }[] }>(batch)).evaluations) {
          denied(e, `batch ${what}`);
        }
        const found = await app.request(
          "/access/v1/search/resource",
          post(token, { subject: user(id), action: { name }, resource: { type: resource.type } }),
        );
        assert.equal(found.status, 200, `resource search ${what}`);
        assert.deepEqual((await json<{ results: unknown[] }>(found)).results, [], `resource search ${what}`);
        if (c === 0) {
          const who = await app.request(
            "/access/v1/search/subject",
            post(token, { subject: { type: "user" }, action: { name }, resource }),
          );
          assert.equal(who.status, 200, `subject search ${what}`);
          assert.deepEqual((await json<{ results: unknown[] }>(who)).results, [], `subject search ${what}`);
        }
        const acts = await app.request(
          "/access/v1/search/action",
          post(token, { subject: user(id), resource }),
        );
        for (const a of (await json<{ results: { name: string }[] }>(acts)).results) {
          const [m, act] = a.name.split(".");
          assert.ok(isCatalogAction(m, act), `action search answered ${a.name}`);
        }
      }),
      { numRuns: Number(Deno.env.get("UNKNOWN_ACTION_RUNS") ?? "40") },
    );
  },
);
