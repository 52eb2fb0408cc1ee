/**
 * DemoOrganizationsSeeder: Test Corp and Globex (see demo_data.ts). Get-or-
 * create by slug: a demo organization an operator changed is left as it is.
 */
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { DEMO_ORGS } from "./demo_data.ts";

const DAY_MS = 86_400_000;

export const demoOrganizationsSeeder = defineSeeder({
  name: "DemoOrganizationsSeeder",
  description: "Demo organizations: Test Corp (starter, no manufacturing) and Globex (professional)",
  dependsOn: ["EntitlementsSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    for (const org of DEMO_ORGS) {
      await ctx.getOrCreate(ctx.t.organizations, { slug: org.slug }, () => ({
        name: org.name,
        licenseTier: org.licenseTier,
        enabledModules: org.enabledModules,
        trialEnds: Object.fromEntries(
          Object.entries(org.trialDays).map((
            [m, days],
          ) => [m, new Date(Date.now() + days * DAY_MS).toISOString()]),
        ),
        isActive: true,
      }));
    }
    return ctx.stats;
  },
});
