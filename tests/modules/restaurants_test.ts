/**
 * The worked example (seed 002): restaurants and menus are registry modules with seed 002's permissions and
 * roles, seeded by RestaurantsSeeder / MenusSeeder, served at /api/v1/restaurants and /api/v1/menus behind
 * all three layers, shared reads, references kept inside the organization, in OpenAPI and AuthZEN.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createRole, createUser, login } from "../helpers/fixtures.ts";
import { service } from "../seeding/helpers.ts";
import { DEMO_PASSWORD } from "../../seeders/demo_data.ts";
import type { Database } from "../../src/db/client.ts";

async function setup(db: Database) {
  const first = await service(db).execute({ triggeredBy: "t", createBackup: false });
  const { app } = await testApp(db);
  const t = db.t;
  const orgs = await db.db.select().from(t.organizations);
  const tc = orgs.find((o) => o.slug === "test-corp")!;
  const gx = orgs.find((o) => o.slug === "globex")!;
  const roleId = async (name: string) =>
    (await db.db.select().from(t.roles).where(eq(t.roles.name, name)))[0].id;
  const make = async (email: string, role: string) =>
    await createUser(db, { email, role, roleId: await roleId(role), organizationId: tc.id });
  await make("customer@testcorp.test", "customer");
  await make("rm@testcorp.test", "restaurant_manager");
  await make("owner@testcorp.test", "restaurant_owner");
  const tokens = {
    admin: await login(app, "admin@testcorp.com", DEMO_PASSWORD),
    globex: await login(app, "admin@globex.com", DEMO_PASSWORD),
    customer: await login(app, "customer@testcorp.test"),
    manager: await login(app, "rm@testcorp.test"),
    owner: await login(app, "owner@testcorp.test"),
  };
  return { first, app, tc, gx, tokens };
}

const send = (method: string, token: string, body?: unknown) => ({
  method,
  headers: { ...bearer(token), "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

/**
 * A custom role of Test Corp and one user per e-mail holding it, logged in: their tokens. `chef` is the
 * security review's case: own scope, full rights on restaurants and menus.
 */
async function roleUsers(
  db: Database,
  app: Awaited<ReturnType<typeof setup>>["app"],
  organizationId: number,
  role: { name: string; permissions: string[]; recordScope: string },
  emails: string[],
): Promise<string[]> {
  const r = await createRole(db, { ...role, organizationId });
  const tokens: string[] = [];
  for (const email of emails) {
    await createUser(db, { email, role: role.name, roleId: r.id, organizationId });
    tokens.push(await login(app, email));
  }
  return tokens;
}
const CHEF = { name: "chef", permissions: ["restaurants.*", "menus.*"], recordScope: "own" };

dbTest("restaurants: seeded per demo organization by get_or_create; a re-run creates none", async (db) => {
  const { first } = await setup(db);
  assert.equal(first.results.seeders.RestaurantsSeeder.created, 6, "3 restaurants × 2 organizations");
  assert.equal(first.results.seeders.MenusSeeder.created, 12, "2 menus × 3 restaurants × 2 organizations");
  const again = await service(db).execute({ triggeredBy: "t", createBackup: false });
  assert.equal(again.results.seeders.RestaurantsSeeder.created, 0);
  assert.equal(again.results.seeders.MenusSeeder.created, 0);
  const names = (await db.db.select().from(db.t.restaurants)).map((r) => r.name);
  assert.ok(names.includes("Pizza Palace"));
  const [pizza] = await db.db.select().from(db.t.restaurants).where(eq(db.t.restaurants.name, "Pizza Palace"))
    .limit(1);
  assert.equal(pizza.description, "Best pizza in town");
  assert.equal(pizza.address, "123 Main St");
});

dbTest(
  "restaurants: seed 002's roles through the three layers; customers read every restaurant",
  async (db) => {
    const { app, tokens, tc } = await setup(db);
    // Admin: full CRUD.
    let res = await app.request("/api/v1/restaurants", send("POST", tokens.admin, { name: "Curry House" }));
    assert.equal(res.status, 201);
    const curry = await json<{ id: number; is_active: boolean; owner_id: number }>(res);
    assert.equal(curry.is_active, true);

    // Customer: read-only, and reads restaurants it does not own (shared).
    res = await app.request("/api/v1/restaurants?limit=50", { headers: bearer(tokens.customer) });
    assert.equal(res.status, 200);
    const page = await json<{ items: { name: string }[]; total: number }>(res);
    // Every restaurant of Test Corp: the seeded ones, Curry House, and any a user's own seeder adds (seed 002's
    // "Creating Custom Seeders" is a RestaurantsSeeder with get_or_create).
    const own = await db.db.select().from(db.t.restaurants).where(eq(db.t.restaurants.organizationId, tc.id));
    assert.ok(own.length >= 4, "3 seeded + Curry House");
    assert.equal(page.total, own.length);
    assert.deepEqual(page.items.map((r) => r.name).sort(), own.map((r) => r.name).sort());
    assert.ok(
      page.items.some((r) => r.name === "Pizza Palace") && page.items.some((r) => r.name === "Curry House"),
    );
    res = await app.request(`/api/v1/restaurants/${curry.id}`, { headers: bearer(tokens.customer) });
    assert.equal(res.status, 200);
    res = await app.request("/api/v1/restaurants", send("POST", tokens.customer, { name: "Mine" }));
    assert.equal(res.status, 403);
    assert.equal((await json(res)).layer, "rbac");
    res = await app.request("/api/v1/menus", { headers: bearer(tokens.customer) });
    assert.equal(res.status, 200);

    // Restaurant manager: restaurants read only; menus read and update, not create.
    res = await app.request(
      `/api/v1/restaurants/${curry.id}`,
      send("PATCH", tokens.manager, { phone: "555" }),
    );
    assert.equal(res.status, 403);
    res = await app.request(
      "/api/v1/menus",
      send("POST", tokens.manager, { restaurant_id: curry.id, name: "X" }),
    );
    assert.equal(res.status, 403);

    // Restaurant owner: restaurants read/update (in scope), menus full.
    res = await app.request(`/api/v1/restaurants/${curry.id}`, send("PATCH", tokens.owner, { phone: "555" }));
    assert.equal(res.status, 200);
    assert.equal((await json(res)).phone, "555");
    res = await app.request("/api/v1/restaurants", send("POST", tokens.owner, { name: "Not allowed" }));
    assert.equal(res.status, 403);
    res = await app.request(
      "/api/v1/menus",
      send("POST", tokens.owner, {
        restaurant_id: curry.id,
        name: "Tasting",
        items: [{ name: "Korma", price_cents: 1450 }],
      }),
    );
    assert.equal(res.status, 201);
    const menu = await json<{ id: number; items: unknown; restaurant_id: number }>(res);
    assert.deepEqual(menu.items, [{ name: "Korma", price_cents: 1450 }]);
    assert.equal(menu.restaurant_id, curry.id);

    // Deleting a restaurant deletes its menus.
    res = await app.request(`/api/v1/restaurants/${curry.id}`, send("DELETE", tokens.admin));
    assert.equal(res.status, 204, await res.clone().text());
    res = await app.request(`/api/v1/menus/${menu.id}`, { headers: bearer(tokens.admin) });
    assert.equal(res.status, 404);
  },
);

dbTest(
  "menus: restaurant_id must be a restaurant of the caller's organization (never another tenant's)",
  async (db) => {
    const { app, tokens, gx } = await setup(db);
    const [foreign] = await db.db.select().from(db.t.restaurants).where(
      eq(db.t.restaurants.organizationId, gx.id),
    )
      .limit(1);
    let res = await app.request(
      "/api/v1/menus",
      send("POST", tokens.admin, { restaurant_id: foreign.id, name: "Evil" }),
    );
    assert.equal(res.status, 422);
    const body = await json<{ detail: string; errors: { field: string }[] }>(res);
    assert.match(body.detail, /^restaurant_id: \d+ is not a record of restaurants you can see$/);
    assert.equal(body.errors[0].field, "restaurant_id");
    // Invalid items are refused with the field named.
    const [own] = await db.db.select().from(db.t.restaurants).where(
      eq(db.t.restaurants.name, "Pizza Palace"),
    );
    const mine = own.organizationId === gx.id ? tokens.globex : tokens.admin;
    res = await app.request(
      "/api/v1/menus",
      send("POST", mine, { restaurant_id: own.id, name: "Bad", items: [{ name: "", price_cents: -1 }] }),
    );
    assert.equal(res.status, 422);
    // Any id that is not one of the organization's restaurants is refused; none of them creates a menu.
    const before = (await db.db.select().from(db.t.menus)).length;
    const ownIds = new Set(
      (await db.db.select().from(db.t.restaurants)).filter((r) => r.organizationId !== gx.id).map((r) =>
        r.id
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000 }).filter((id) => !ownIds.has(id)), async (id) => {
        const r = await app.request(
          "/api/v1/menus",
          send("POST", tokens.admin, { restaurant_id: id, name: `m${id}` }),
        );
        assert.equal(r.status, 422);
      }),
      { numRuns: 25 },
    );
    assert.equal((await db.db.select().from(db.t.menus)).length, before);
  },
);

dbTest("restaurants: the entitlement layer guards the module; OpenAPI and AuthZEN know it", async (db) => {
  const { app, tokens, tc } = await setup(db);
  await db.db.update(db.t.organizations).set({ enabledModules: { ...tc.enabledModules, RESTAURANTS: false } })
    .where(eq(db.t.organizations.id, tc.id));
  // Bump the security version the way an API change would, then ask again.
  const { app: fresh } = await testApp(db);
  let res = await fresh.request("/api/v1/restaurants", { headers: bearer(tokens.admin) });
  assert.equal(res.status, 403);
  assert.equal((await json(res)).layer, "entitlement");

  const doc = await json<{ paths: Record<string, unknown> }>(await app.request("/openapi.json"));
  for (
    const p of ["/api/v1/restaurants", "/api/v1/restaurants/{id}", "/api/v1/menus", "/api/v1/menus/{id}"]
  ) {
    assert.ok(doc.paths[p], p);
  }

  // A customer owns no menu, yet may read all of the organization's (shared), as the REST list says.
  const [customer] = await db.db.select().from(db.t.users).where(
    eq(db.t.users.email, "customer@testcorp.test"),
  );
  res = await app.request("/access/v1/search/resource", {
    method: "POST",
    headers: { ...bearer(tokens.customer), "content-type": "application/json" },
    body: JSON.stringify({
      subject: { type: "user", id: String(customer.id) },
      action: { name: "menus:read" },
      resource: { type: "menu" },
    }),
  });
  assert.equal(res.status, 200);
  const found = await json<{ results: { type: string }[] }>(res);
  const menus = await db.db.select().from(db.t.menus).where(eq(db.t.menus.organizationId, tc.id));
  assert.ok(menus.length >= 6, "Test Corp's six demo menus (and any a user's own seeder adds)");
  assert.equal(found.results.length, menus.length);
  assert.ok(found.results.every((r) => r.type === "menu"));
});

dbTest(
  "restaurants: a delete takes along only menus the caller could delete himself; otherwise 409 and none is lost",
  async (db) => {
    const { app, tc, tokens } = await setup(db);
    // Custom roles: two own-scope chefs and a restaurants-only role with scope all.
    const [chef1, chef2] = await roleUsers(db, app, tc.id, CHEF, [
      "chef1@testcorp.test",
      "chef2@testcorp.test",
    ]);
    const [keeper] = await roleUsers(db, app, tc.id, {
      name: "keeper",
      permissions: ["restaurants.*"],
      recordScope: "all",
    }, ["keeper@testcorp.test"]);
    const people = { admin: tokens.admin, chef1, chef2, keeper };
    const created = async (token: string, path: string, body: unknown) => {
      const res = await app.request(path, send("POST", token, body));
      assert.equal(res.status, 201, await res.clone().text());
      return (await json<{ id: number }>(res)).id;
    };
    const menusOf = async (restaurantId: number) =>
      (await db.db.select().from(db.t.menus).where(eq(db.t.menus.restaurantId, restaurantId))).length;

    // Menus by any of admin, chef1, chef2 under chef1's restaurant; then chef1, the keeper or the admin deletes it.
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(["admin", "chef1", "chef2"] as const),
        fc.constantFrom("chef1", "keeper", "admin") as fc.Arbitrary<"chef1" | "keeper" | "admin">,
        async (owners, deleter) => {
          const r = await created(people.chef1, "/api/v1/restaurants", { name: `Chef1 Place ${++n}` });
          for (const who of owners) {
            await created(people[who], "/api/v1/menus", { restaurant_id: r, name: `${who} menu` });
          }
          // The admin may delete every menu; chef1 only his own; the keeper none.
          const may = deleter === "admin" || owners.length === 0 ||
            (deleter === "chef1" && owners.every((o) => o === "chef1"));
          const res = await app.request(`/api/v1/restaurants/${r}`, send("DELETE", people[deleter]));
          if (may) {
            assert.equal(res.status, 204, await res.clone().text());
            assert.equal(await menusOf(r), 0, "its menus went with it");
            return;
          }
          assert.equal(res.status, 409);
          const body = await json<{ detail: string; referenced_by: string[] }>(res);
          // Only a module the caller may read is named: the keeper cannot read menus.
          const named = deleter === "keeper" ? [] : ["menus"];
          assert.match(
            body.detail,
            new RegExp(
              `is referenced by ${named[0] ?? "other"} records you may not delete or change: delete`,
            ),
          );
          assert.deepEqual(body.referenced_by, named);
          assert.equal(await menusOf(r), owners.length, "no menu cascaded away");
          assert.equal(
            (await app.request(`/api/v1/restaurants/${r}`, send("DELETE", tokens.admin))).status,
            204,
          );
        },
      ),
      { numRuns: 12 },
    );
    // Out of scope stays not found, referenced or not.
    const other = await created(tokens.admin, "/api/v1/restaurants", { name: "Admin Place" });
    await created(tokens.admin, "/api/v1/menus", { restaurant_id: other, name: "admin menu" });
    assert.equal(
      (await app.request(`/api/v1/restaurants/${other}`, send("DELETE", people.chef2))).status,
      404,
    );
  },
);

dbTest(
  "menus: restaurant_id must name a restaurant the caller may read (permission, entitlement, scope)",
  async (db) => {
    const { app, tc, tokens } = await setup(db);
    const [mo] = await roleUsers(db, app, tc.id, {
      name: "menus_only",
      permissions: ["menus.*"],
      recordScope: "all",
    }, ["mo@testcorp.test"]);
    const ours =
      (await db.db.select().from(db.t.restaurants).where(eq(db.t.restaurants.organizationId, tc.id)))
        .map((r) => r.id);
    assert.equal((await app.request(`/api/v1/restaurants/${ours[0]}`, send("GET", mo))).status, 403);
    const before = (await db.db.select().from(db.t.menus)).length;
    // No restaurant can be named: existing or not, the same 422 (no probing which ids exist).
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...ours), fc.integer({ min: 1, max: 10_000 })),
        async (id) => {
          const res = await app.request("/api/v1/menus", send("POST", mo, { restaurant_id: id, name: "m" }));
          assert.equal(res.status, 422);
          assert.match(
            (await json<{ detail: string }>(res)).detail,
            /is not a record of restaurants you can see/,
          );
        },
      ),
      { numRuns: 15 },
    );
    assert.equal((await db.db.select().from(db.t.menus)).length, before);
    // Those who may read restaurants still can (the seed 002 roles, the admin).
    for (const token of [tokens.admin, tokens.owner, tokens.manager]) {
      const res = await app.request(
        "/api/v1/menus",
        send("POST", token, { restaurant_id: ours[0], name: "ok" }),
      );
      assert.notEqual(res.status, 422, await res.clone().text());
    }
  },
);

dbTest(
  "restaurants: a menu added while its restaurant is being deleted is never taken along (the row is locked first)",
  async (db) => {
    const { app, tc } = await setup(db);
    const [chef1, chef2] = await roleUsers(db, app, tc.id, CHEF, [
      "chef1@testcorp.test",
      "chef2@testcorp.test",
    ]);
    for (let i = 0; i < 40; i++) {
      const res = await app.request("/api/v1/restaurants", send("POST", chef1, { name: `Race ${i}` }));
      const { id } = await json<{ id: number }>(res);
      // chef2's menu and chef1's delete at the same moment: either the menu lands first (the delete is a 409)
      // or the delete does (the menu is refused); never both, which would lose chef2's menu.
      const [post, del] = await Promise.all([
        app.request("/api/v1/menus", send("POST", chef2, { restaurant_id: id, name: "chef2 menu" })),
        app.request(`/api/v1/restaurants/${id}`, send("DELETE", chef1)),
      ]);
      assert.ok([201, 409, 422].includes(post.status), `${post.status} ${await post.text()}`);
      assert.ok([204, 409].includes(del.status), `${del.status} ${await del.text()}`);
      assert.ok(
        !(post.status === 201 && del.status === 204),
        `run ${i}: chef2's menu was deleted with the restaurant`,
      );
    }
  },
);
