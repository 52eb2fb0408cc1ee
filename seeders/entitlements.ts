/** EntitlementsSeeder: seed 000's Free / Starter / Professional / Enterprise profiles from `TIERS`. */
import { ALL_ENVS, defineSeeder } from "../src/seeding/types.ts";
import { TIERS } from "../src/tenants/modules.ts";

export const entitlementsSeeder = defineSeeder({
  name: "EntitlementsSeeder",
  description: "Creates the entitlement profile of each license tier (modules and trials)",
  environments: ALL_ENVS,
  async seed(ctx) {
    for (const tier of TIERS) {
      await ctx.upsert(ctx.t.entitlementProfiles, { tier: tier.tier }, {
        name: tier.name,
        description: tier.description,
        modules: tier.modules,
        trialModules: tier.trialModules,
      });
    }
    return ctx.stats;
  },
});
