/**
 * RestaurantsSeeder: seed 002's "Creating Custom Seeders" example in Seedbed's terms — a few restaurants
 * per demo organization, found or created by name (`get_or_create` is `ctx.getOrCreate`), owned by the
 * organization's admin. A re-run creates nothing. Listed in `seeders/mod.ts`.
 */
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { demoAdmins } from "./demo_owners.ts";

/** Seed 002's restaurant ("Pizza Palace") and two more. */
export const DEMO_RESTAURANTS = [
  { name: "Pizza Palace", description: "Best pizza in town", address: "123 Main St", cuisine: "Pizza" },
  { name: "Sushi Corner", description: "Fresh rolls daily", address: "45 Harbor Rd", cuisine: "Sushi" },
  { name: "Taco Stand", description: "Street tacos and salsas", address: "9 Market St", cuisine: "Tacos" },
];

export const restaurantsSeeder = defineSeeder({
  name: "RestaurantsSeeder",
  module: "restaurants",
  description: "Seed 002's custom seeder: demo restaurants per organization (get_or_create by name)",
  dependsOn: ["DemoUsersSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    for (const [organizationId, ownerId] of await demoAdmins(ctx)) {
      for (const { name, ...defaults } of DEMO_RESTAURANTS) {
        await ctx.getOrCreate(ctx.t.restaurants, { organizationId, name }, { ...defaults, ownerId });
      }
    }
    return ctx.stats;
  },
});
