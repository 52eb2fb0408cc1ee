/**
 * The seeder `deno task new module` writes for a module with a required reference, run on both databases: it
 * writes demo rows for every demo organization, each pointing at a record of the referenced table in the same
 * organization, after the seeder that writes those; where an organization has none, it writes no row there and
 * a warning says so. The module here is `new module menus --field name:text --field
 * restaurant_id:ref:restaurants` (the menus table exists, so the generated seeder runs as written).
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { service } from "../seeding/helpers.ts";
import { parseModuleArgs, renderModuleSeeder } from "../../src/cli/new_command.ts";
import { defineSeeder, DEMO_ENVS, type SeederDefinition } from "../../src/seeding/types.ts";
import { memoryLogger } from "../../src/log.ts";
import type { Database } from "../../src/db/client.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { DEMO_ORGS } from "../../seeders/demo_data.ts";
import { demoAdmins } from "../../seeders/demo_owners.ts";

const ROOT = new URL("../../", import.meta.url);

/** The generated seeder, loaded from a temporary file (its relative imports pointed at the repository). */
async function generatedSeeder(): Promise<SeederDefinition> {
  const src = renderModuleSeeder(
    parseModuleArgs(["menus", "--field", "name:text", "--field", "restaurant_id:ref:restaurants"]),
  );
  assert.match(src, /dependsOn: \["DemoUsersSeeder", "RestaurantsSeeder"\]/);
  const dir = await Deno.makeTempDir({ prefix: "seedbed-generated-seeder-" });
  try {
    const file = `${dir}/menus.ts`;
    await Deno.writeTextFile(
      file,
      src.replace('"../src/', `"${new URL("src/", ROOT).href}`)
        .replace('"./demo_owners.ts"', `"${new URL("seeders/demo_owners.ts", ROOT).href}"`)
        .replace('"drizzle-orm"', `"${import.meta.resolve("drizzle-orm")}"`),
    );
    const mod = await import(`file://${file}`);
    return mod.menusSeeder as SeederDefinition;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The master list with the generated MenusSeeder in place of the shipped one (and `restaurants`, if given). */
function seedersWith(menus: SeederDefinition, restaurants?: SeederDefinition): SeederDefinition[] {
  return SEEDERS.map((s) =>
    s.name === "MenusSeeder" ? menus : s.name === "RestaurantsSeeder" && restaurants ? restaurants : s
  );
}

async function orgId(db: Database, slug: string): Promise<number> {
  const [org] = await db.db.select({ id: db.t.organizations.id }).from(db.t.organizations)
    .where(eq(db.t.organizations.slug, slug));
  return org.id;
}

dbTest(
  "generated seeder: demo rows per demo organization, each referencing a record of that organization",
  async (db) => {
    const logger = memoryLogger();
    const seeder = await generatedSeeder();
    const run = await service(db, { seeders: seedersWith(seeder), logger }).execute({
      triggeredBy: "t",
      createBackup: false,
    });
    assert.equal(run.results.seeders.MenusSeeder.status, "completed");
    assert.equal(run.results.seeders.MenusSeeder.created, 2 * DEMO_ORGS.length);
    for (const { slug } of DEMO_ORGS) {
      const id = await orgId(db, slug);
      const rows = await db.db.select({ name: db.t.menus.name, org: db.t.restaurants.organizationId })
        .from(db.t.menus).innerJoin(db.t.restaurants, eq(db.t.menus.restaurantId, db.t.restaurants.id))
        .where(eq(db.t.menus.organizationId, id));
      assert.deepEqual(rows.map((r) => r.name).sort(), ["Name 1", "Name 2"], slug);
      assert.ok(rows.every((r) => r.org === id), `${slug}: the restaurants are its own`);
    }
    assert.deepEqual(logger.records.filter((r) => r.event === "demo_rows_skipped"), []);
    // A second run finds them (get_or_create).
    const again = await service(db, { seeders: seedersWith(seeder) }).execute({
      triggeredBy: "t",
      createBackup: false,
    });
    assert.equal(again.results.seeders.MenusSeeder.created, 0);
  },
);

dbTest(
  "generated seeder: an organization without referenced records gets no row, and a warning says so",
  async (db) => {
    // Restaurants for Test Corp only.
    const someRestaurants = defineSeeder({
      name: "RestaurantsSeeder",
      module: "restaurants",
      description: "restaurants for test-corp only",
      dependsOn: ["DemoUsersSeeder"],
      environments: DEMO_ENVS,
      demo: true,
      async seed(ctx) {
        const [{ id: testCorp }] = await ctx.tx.select({ id: ctx.t.organizations.id }).from(
          ctx.t.organizations,
        )
          .where(eq(ctx.t.organizations.slug, "test-corp"));
        const admins = await demoAdmins(ctx);
        await ctx.getOrCreate(ctx.t.restaurants, { organizationId: testCorp, name: "Only Place" }, {
          ownerId: admins.get(testCorp)!,
        });
        return ctx.stats;
      },
    });
    const logger = memoryLogger();
    const run = await service(db, { seeders: seedersWith(await generatedSeeder(), someRestaurants), logger })
      .execute({ triggeredBy: "t", createBackup: false });
    assert.equal(run.results.seeders.MenusSeeder.status, "completed");
    const testCorp = await orgId(db, "test-corp");
    const globex = await orgId(db, "globex");
    const count = async (id: number) =>
      (await db.db.select({ id: db.t.menus.id }).from(db.t.menus).where(eq(db.t.menus.organizationId, id)))
        .length;
    assert.equal(await count(testCorp), 2);
    assert.equal(await count(globex), 0);
    const skipped = logger.records.filter((r) => r.event === "demo_rows_skipped");
    assert.equal(skipped.length, 1, JSON.stringify(logger.records.filter((r) => r.level === "warn")));
    assert.equal(skipped[0].level, "warn");
    assert.equal(skipped[0].seeder, "MenusSeeder");
    assert.equal(skipped[0].organization_id, globex);
    assert.match(
      String(skipped[0].reason),
      /no restaurants in this organization for restaurant_id to reference/,
    );
  },
);
