/**
 * MenusSeeder: a lunch and a dinner menu for every demo restaurant, found or created by (restaurant, name).
 * Runs after RestaurantsSeeder. Listed in `seeders/mod.ts`.
 */
import { and, eq, inArray } from "drizzle-orm";
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { DEMO_RESTAURANTS } from "./restaurants.ts";
import { demoAdmins } from "./demo_owners.ts";

const MENUS = [
  {
    name: "Lunch",
    items: [{ name: "Daily special", price_cents: 1150 }, { name: "Soup", price_cents: 550 }],
  },
  {
    name: "Dinner",
    items: [{ name: "Chef's plate", price_cents: 2400 }, { name: "Dessert", price_cents: 750 }],
  },
];

export const menusSeeder = defineSeeder({
  name: "MenusSeeder",
  module: "menus",
  description: "Demo menus (lunch, dinner) for every demo restaurant",
  dependsOn: ["RestaurantsSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    const { t, tx } = ctx;
    for (const [organizationId, ownerId] of await demoAdmins(ctx)) {
      const restaurants = await tx.select({ id: t.restaurants.id }).from(t.restaurants).where(
        and(
          eq(t.restaurants.organizationId, organizationId),
          inArray(t.restaurants.name, DEMO_RESTAURANTS.map((r) => r.name)),
        ),
      );
      for (const { id: restaurantId } of restaurants) {
        for (const { name, items } of MENUS) {
          await ctx.getOrCreate(t.menus, { organizationId, restaurantId, name }, { items, ownerId });
        }
      }
    }
    return ctx.stats;
  },
});
