import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";

async function setup(db: Database) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  return {
    w,
    app,
    root: await login(app, "root@platform.test"),
    admin: await login(app, "admin@acme.test"),
    manager: await login(app, "manager@acme.test"),
    other: await login(app, "admin@globex.test"),
  };
}
const send = (method: string, token: string, body?: unknown) => ({
  method,
  headers: { ...bearer(token), "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

dbTest(
  "organizations: super admins create, list, read, update and deactivate; org admins read their own",
  async (db) => {
    const { w, app, root, admin, manager, other } = await setup(db);
    let res = await app.request(
      "/api/v1/organizations",
      send("POST", root, { name: "Initech", license_tier: "free" }),
    );
    assert.equal(res.status, 201);
    const ini = await json(res);
    assert.equal(ini.slug, "initech");
    assert.equal(ini.license_tier, "free");
    // The free tier's CRM trial starts now (14 days).
    const crmTrial = Date.parse((ini.trial_ends as Record<string, string>).crm);
    assert.ok(Math.abs(crmTrial - (Date.now() + 14 * 86_400_000)) < 60_000);

    res = await app.request("/api/v1/organizations", send("POST", root, { name: "Initech" }));
    assert.equal(res.status, 409);
    res = await app.request(
      "/api/v1/organizations",
      send("POST", root, { name: "Bad", license_tier: "platinum" }),
    );
    assert.equal(res.status, 422);
    assert.match((await json(res)).detail as string, /platinum/);
    res = await app.request(
      "/api/v1/organizations",
      send("POST", root, { name: "Bad", enabled_modules: { warp: true } }),
    );
    assert.equal(res.status, 422);
    assert.match((await json(res)).detail as string, /warp/);

    res = await app.request("/api/v1/organizations", { headers: bearer(root) });
    assert.equal((await json(res)).total, 3);
    res = await app.request("/api/v1/organizations", { headers: bearer(admin) });
    const mine = await json<{ items: { id: number }[]; total: number }>(res);
    assert.deepEqual(mine.items.map((o) => o.id), [w.acme.id]);
    assert.equal(
      (await app.request(`/api/v1/organizations/${w.acme.id}`, { headers: bearer(admin) })).status,
      200,
    );
    assert.equal(
      (await app.request(`/api/v1/organizations/${w.globex.id}`, { headers: bearer(admin) })).status,
      404,
    );
    assert.equal((await app.request("/api/v1/organizations", { headers: bearer(manager) })).status, 403);

    // Only super admins write.
    for (const token of [admin, other, manager]) {
      res = await app.request("/api/v1/organizations", send("POST", token, { name: "Nope" }));
      assert.equal(res.status, 403);
      assert.equal((await json(res)).reason, "platform_only");
      res = await app.request(
        `/api/v1/organizations/${w.acme.id}`,
        send("PATCH", token, { name: "Renamed" }),
      );
      assert.equal(res.status, 403);
    }
    res = await app.request(
      `/api/v1/organizations/${ini.id}`,
      send("PATCH", root, { name: "Initech Global" }),
    );
    assert.equal((await json(res)).name, "Initech Global");

    // Deactivation: users of the organization can no longer log in, and their tokens are refused.
    res = await app.request(`/api/v1/organizations/${w.acme.id}/deactivate`, send("POST", root));
    assert.equal(res.status, 200);
    assert.equal((await json(res)).is_active, false);
    res = await app.request("/api/v1/crm/leads", { headers: bearer(admin) });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "organization_inactive");
    // Also on the routes open to any token.
    res = await app.request("/api/v1/auth/me", { headers: bearer(admin) });
    assert.equal(res.status, 403);
    assert.equal((await json(res)).reason, "organization_inactive");
    res = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "admin@acme.test", password: "Fixture-Passw0rd!" }),
    });
    assert.equal(res.status, 401);
    res = await app.request(`/api/v1/organizations/${w.acme.id}/activate`, send("POST", root));
    assert.equal(res.status, 200);
    assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(admin) })).status, 200);
    const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
    for (
      const e of [
        "organization.created",
        "organization.updated",
        "organization.deactivated",
        "organization.activated",
      ]
    ) {
      assert.ok(events.includes(e), e);
    }
  },
);

dbTest(
  "entitlements: super admins change tier, overrides and trials; the change applies on the next request",
  async (db) => {
    const { w, app, root, admin } = await setup(db);
    const ent = await json(
      await app.request(`/api/v1/organizations/${w.acme.id}/entitlements`, { headers: bearer(admin) }),
    );
    assert.equal(ent.license_tier, "starter");
    const mods = ent.modules as {
      module: string;
      entitled: boolean;
      source: string | null;
      reason: string | null;
    }[];
    assert.equal(mods.find((m) => m.module === "crm")!.source, "tier");
    assert.equal(mods.find((m) => m.module === "manufacturing")!.reason, "not_entitled");
    assert.equal(mods.find((m) => m.module === "users")!.source, "rbac_only");

    // An org admin cannot change his own entitlements.
    let res = await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", admin, { license_tier: "enterprise" }),
    );
    assert.equal(res.status, 403);

    assert.equal((await app.request("/api/v1/hr/employees", { headers: bearer(admin) })).status, 403);
    res = await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { enabled_modules: { HR: true } }),
    );
    assert.equal(res.status, 200);
    assert.equal((await app.request("/api/v1/hr/employees", { headers: bearer(admin) })).status, 200);

    // A trial: on while running, "trial expired" after, falling back to the tier.
    await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { start_trials: { finance: 7 } }),
    );
    const future = await json(
      await app.request(`/api/v1/organizations/${w.acme.id}/entitlements`, { headers: bearer(root) }),
    );
    assert.equal(
      (future.modules as { module: string; source: string }[]).find((m) => m.module === "finance")!.source,
      "trial",
    );
    res = await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, {
        trial_ends: { finance: "2020-01-01T00:00:00Z", crm: "2020-01-01T00:00:00Z" },
      }),
    );
    const after = await json(res);
    const byModule = new Map(
      (after.modules as { module: string; entitled: boolean; reason: string | null }[]).map((
        m,
      ) => [m.module, m]),
    );
    assert.equal(byModule.get("finance")!.reason, "trial_expired");
    assert.equal(
      byModule.get("crm")!.entitled,
      true,
      "an expired trial of a tier module keeps the tier's access",
    );
    assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(admin) })).status, 200);

    // Tier change: manufacturing denied, then turned off explicitly even on enterprise.
    assert.equal((await app.request("/api/v1/manufacturing/orders", { headers: bearer(admin) })).status, 403);
    await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { license_tier: "enterprise", enabled_modules: { manufacturing: null } }),
    );
    assert.equal((await app.request("/api/v1/manufacturing/orders", { headers: bearer(admin) })).status, 200);
    await app.request(
      `/api/v1/organizations/${w.acme.id}/entitlements`,
      send("PATCH", root, { enabled_modules: { Manufacturing: false } }),
    );
    res = await app.request("/api/v1/manufacturing/orders", { headers: bearer(admin) });
    assert.equal(res.status, 403);
    assert.match((await json(res)).detail as string, /not entitled/);

    const changes = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
      e.event === "entitlements.changed"
    );
    assert.ok(changes.length >= 4);
    assert.equal(changes[0].actorUserId, w.superAdmin.id);
  },
);
