/**
 * RestaurantsSeeder: seed 002's "Creating Custom Seeders" example in Seedbed's terms — a few restaurants
 * per demo organization, found or created by name (`get_or_create` is `ctx.getOrCreate`), owned by the
 * organization's admin. A re-run creates nothing. Registered by `modules/restaurants.ts`.
 */
import { inArray } from "drizzle-orm";
import { defineSeeder, DEMO_ENVS, type SeedContext } from "../src/seeding/types.ts";
import { DEMO_ORGS, DEMO_USERS } from "./demo_data.ts";

/** Seed 002's restaurant ("Pizza Palace") and two more. */
export const DEMO_RESTAURANTS = [
  { name: "Pizza Palace", description: "Best pizza in town", address: "123 Main St", cuisine: "Pizza" },
  { name: "Sushi Corner", description: "Fresh rolls daily", address: "45 Harbor Rd", cuisine: "Sushi" },
  { name: "Taco Stand", description: "Street tacos and salsas", address: "9 Market St", cuisine: "Tacos" },
];

/** Each demo organization's admin (the owner of its demo restaurants and menus), by organization id. */
export async function demoAdmins(ctx: SeedContext): Promise<Map<number, number>> {
  const { t, tx } = ctx;
  const orgs = await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
    .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug)));
  const admins = DEMO_USERS.filter((u) => u.key === "admin");
  const users = await tx.select({ id: t.users.id, email: t.users.email }).from(t.users)
    .where(inArray(t.users.email, admins.map((u) => u.email)));
  const out = new Map<number, number>();
  for (const org of orgs) {
    const email = admins.find((u) => u.org === org.slug)?.email;
    const id = users.find((u) => u.email === email)?.id;
    if (id === undefined) {
      throw new Error(`demo organization ${org.slug} has no admin to own its restaurants`);
    }
    out.set(org.id, id);
  }
  return out;
}

export const restaurantsSeeder = defineSeeder({
  name: "RestaurantsSeeder",
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
