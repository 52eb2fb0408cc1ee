import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createRole, createUser, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";
import fc from "fast-check";
import { ACTION_CATALOG, permissionFor } from "../../src/access/actions.ts";
import { isPlatformAction, isPlatformModule } from "../../src/access/decide.ts";
import { parseGrants } from "../../src/roles/roles_service.ts";

async function setup(db: Database) {
  const w = await createWorld(db);
  const sys = await createRole(db, { name: "executive", permissions: ["crm_leads_read"], isSystem: true });
  const global = await createRole(db, {
    name: "restaurant_owner",
    permissions: ["restaurants:read", "menus:read"],
  });
  // A custom role that may manage roles but holds only crm.read.
  const rm = await createRole(db, {
    name: "role_manager",
    organizationId: w.acme.id,
    permissions: ["roles.read", "roles.create", "roles.update", "crm.read"],
  });
  await createUser(db, {
    email: "rm@acme.test",
    role: "role_manager",
    roleId: rm.id,
    organizationId: w.acme.id,
  });
  const { app } = await testApp(db);
  return {
    w,
    sys,
    global,
    app,
    root: await login(app, "root@platform.test"),
    admin: await login(app, "admin@acme.test"),
    other: await login(app, "admin@globex.test"),
    exec: await login(app, "exec@acme.test"),
    rm: await login(app, "rm@acme.test"),
  };
}
const send = (method: string, token: string, body?: unknown) => ({
  method,
  headers: { ...bearer(token), "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

dbTest(
  "roles: CRUD of custom roles, permissions add/remove, system and global roles protected",
  async (db) => {
    const { w, sys, global, app, root, admin, other, exec } = await setup(db);
    let res = await app.request(
      "/api/v1/roles",
      send("POST", admin, {
        name: "cashier",
        permissions: ["restaurants:read", "menus.read", "crm_leads_read"],
        record_scope: "team",
      }),
    );
    assert.equal(res.status, 201);
    const cashier = await json(res);
    assert.equal(cashier.organization_id, w.acme.id);
    // Catalog rows keep their spelling: menus.read matched the existing `menus:read`.
    assert.deepEqual(cashier.permissions, ["crm_leads_read", "menus:read", "restaurants:read"]);
    assert.equal(cashier.record_scope, "team");

    // Malformed permission names: 422 naming the value.
    for (const bad of ["crm-read", "crm read", "crm"]) {
      res = await app.request(
        "/api/v1/roles",
        send("POST", admin, { name: `bad${bad.length}`, permissions: [bad] }),
      );
      assert.equal(res.status, 422, bad);
      assert.ok(((await json(res)).detail as string).includes(`"${bad}"`));
    }
    res = await app.request("/api/v1/roles", send("POST", admin, { name: "x", permissions: ["warp.read"] }));
    assert.equal(res.status, 422);
    res = await app.request("/api/v1/roles", send("POST", admin, { name: "manager" }));
    assert.equal(res.status, 409);
    res = await app.request("/api/v1/roles", send("POST", admin, { name: "cashier" }));
    assert.equal(res.status, 409);

    // Listing: global roles and the organization's own; never another organization's.
    const names = async (token: string) =>
      (await json<{ items: { name: string }[] }>(
        await app.request("/api/v1/roles?limit=100", { headers: bearer(token) }),
      )).items
        .map((r) => r.name).sort();
    assert.deepEqual(await names(admin), [
      "auditor",
      "cashier",
      "executive",
      "restaurant_owner",
      "role_manager",
    ]);
    assert.deepEqual(await names(other), ["executive", "restaurant_owner"]);
    assert.equal((await app.request(`/api/v1/roles/${cashier.id}`, { headers: bearer(other) })).status, 404);

    // Add (colon form accepted) and remove permissions: roles:update.
    res = await app.request(
      `/api/v1/roles/${cashier.id}/permissions`,
      send("POST", admin, { permissions: ["files:read", "crm.read"] }),
    );
    assert.deepEqual((await json(res)).permissions, [
      "crm.read",
      "crm_leads_read",
      "files.read",
      "menus:read",
      "restaurants:read",
    ]);
    res = await app.request(
      `/api/v1/roles/${cashier.id}/permissions`,
      send("DELETE", admin, { permissions: ["restaurants.read"] }),
    );
    assert.deepEqual((await json(res)).permissions, [
      "crm.read",
      "crm_leads_read",
      "files.read",
      "menus:read",
    ]);
    res = await app.request(`/api/v1/roles/${cashier.id}/permissions/menus:read`, send("DELETE", admin));
    assert.deepEqual((await json(res)).permissions, ["crm.read", "crm_leads_read", "files.read"]);
    res = await app.request(
      `/api/v1/roles/${cashier.id}`,
      send("PATCH", admin, { description: "Till", permissions: ["crm.read"] }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual((await json(res)).permissions, ["crm.read"]);

    // System roles: never modified or deleted, even by a super admin.
    for (const token of [admin, root]) {
      res = await app.request(`/api/v1/roles/${sys.id}`, send("PATCH", token, { description: "hacked" }));
      assert.equal(res.status, 403);
      assert.match((await json(res)).detail as string, /system role/);
      assert.equal((await app.request(`/api/v1/roles/${sys.id}`, send("DELETE", token))).status, 403);
      assert.equal(
        (await app.request(
          `/api/v1/roles/${sys.id}/permissions`,
          send("POST", token, { permissions: ["crm.*"] }),
        )).status,
        403,
      );
    }
    // Global custom roles: only super admins.
    assert.equal(
      (await app.request(`/api/v1/roles/${global.id}`, send("PATCH", admin, { description: "x" }))).status,
      403,
    );
    assert.equal(
      (await app.request(`/api/v1/roles/${global.id}`, send("PATCH", root, { description: "Owners" })))
        .status,
      200,
    );
    res = await app.request(
      "/api/v1/roles",
      send("POST", root, { name: "global_viewer", permissions: ["crm.read"] }),
    );
    assert.equal((await json(res)).organization_id, null);

    // A role held by users cannot be deleted; an unused one can.
    assert.equal((await app.request(`/api/v1/roles/${w.auditorRole.id}`, send("DELETE", admin))).status, 409);
    assert.equal((await app.request(`/api/v1/roles/${cashier.id}`, send("DELETE", admin))).status, 204);

    // Executives hold no roles permission.
    assert.equal((await app.request("/api/v1/roles", { headers: bearer(exec) })).status, 403);
    const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
    for (
      const e of [
        "role.created",
        "role.permissions_added",
        "role.permissions_removed",
        "role.updated",
        "role.deleted",
      ]
    ) {
      assert.ok(events.includes(e), e);
    }
  },
);

dbTest(
  "roles: no one but an admin grants a permission he does not hold; changes apply on the next request",
  async (db) => {
    const { w, app, admin, rm } = await setup(db);
    let res = await app.request(
      "/api/v1/roles",
      send("POST", rm, { name: "reader", permissions: ["crm.read"] }),
    );
    assert.equal(res.status, 201);
    const reader = await json(res);
    res = await app.request(
      "/api/v1/roles",
      send("POST", rm, { name: "deleter", permissions: ["crm.delete"] }),
    );
    assert.equal(res.status, 403);
    assert.match((await json(res)).detail as string, /crm.delete/);
    res = await app.request(
      `/api/v1/roles/${reader.id}/permissions`,
      send("POST", rm, { permissions: ["crm.*"] }),
    );
    assert.equal(res.status, 403);

    // A user of the role gains access the moment the role gains a permission.
    await createUser(db, {
      email: "r@acme.test",
      role: "reader",
      roleId: reader.id as number,
      organizationId: w.acme.id,
    });
    const r = await login(app, "r@acme.test");
    assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(r) })).status, 200);
    assert.equal((await app.request("/api/v1/crm/leads", send("POST", r, { name: "L" }))).status, 403);
    await app.request(
      `/api/v1/roles/${reader.id}/permissions`,
      send("POST", admin, { permissions: ["crm.create"] }),
    );
    assert.equal((await app.request("/api/v1/crm/leads", send("POST", r, { name: "L" }))).status, 201);
    await app.request(
      `/api/v1/roles/${reader.id}/permissions`,
      send("DELETE", admin, { permissions: ["crm:create", "crm.read"] }),
    );
    assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(r) })).status, 403);

    // The permission catalog: permissions:read (admins have it).
    res = await app.request("/api/v1/permissions?limit=500", { headers: bearer(admin) });
    assert.equal(res.status, 200);
    const catalog = (await json<{ items: { name: string }[] }>(res)).items.map((p) => p.name);
    assert.ok(catalog.includes("crm.read") && catalog.includes("restaurants:read"));
  },
);

dbTest(
  "roles: platform operations are no tenant grant — refused by name (422), for roles and users alike",
  async (db) => {
    const { app, admin, root, w } = await setup(db);
    for (const token of [admin, root]) {
      for (
        const permission of [
          "seeders:execute",
          "seeders.*",
          "seeders_admin",
          "organization:create",
          "organization.delete",
        ]
      ) {
        const res = await app.request("/api/v1/roles", {
          ...send("POST", token, { name: `r_${crypto.randomUUID().slice(0, 8)}`, permissions: [permission] }),
          headers: { ...send("POST", token).headers, "x-organization-id": String(w.acme.id) },
        });
        const body = await json<{ detail: string }>(res);
        assert.equal(res.status, 422, `${permission}: ${JSON.stringify(body)}`);
        assert.match(body.detail, /a platform operation: only platform super admins perform it/, permission);
      }
    }
    // A user's own permissions too.
    const user = await app.request(
      "/api/v1/users",
      send("POST", admin, {
        email: "seeder@acme.test",
        password: "Long-enough-Passw0rd!",
        role: "executive",
        permissions: ["seeders:execute"],
      }),
    );
    assert.equal(user.status, 422, await user.clone().text());
    assert.match((await json<{ detail: string }>(user)).detail, /a platform operation/);
    // A tenant's own reads stay grantable (organization.read is how an org admin reads his organization).
    const ok = await app.request(
      "/api/v1/roles",
      send("POST", admin, { name: "org_reader", permissions: ["organization.read"] }),
    );
    assert.equal(ok.status, 201, await ok.clone().text());
  },
);

Deno.test("roles (property): a tenant grant is refused exactly when decide() keeps its action for platform super admins", () => {
  const pairs = [...ACTION_CATALOG].flatMap(([module, m]) =>
    m.actions.map((action) => [module, action] as const)
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...pairs),
      fc.constantFrom("colon", "dot", "module"),
      ([module, action], form) => {
        const name = form === "colon"
          ? permissionFor(module, action)
          : form === "dot"
          ? `${module}.${action}`
          : `${module}.*`;
        const platform = form === "module" ? isPlatformModule(module) : isPlatformAction(module, action);
        let refused = false;
        try {
          parseGrants([name]);
        } catch (err) {
          refused = /a platform operation/.test((err as Error).message);
        }
        assert.equal(refused, platform, name);
      },
    ),
    { numRuns: 300 },
  );
});
