/** PermissionsSeeder: every permission of the catalog (seed 002's and seed 000's module permissions). */
import { ALL_ENVS, defineSeeder } from "../src/seeding/types.ts";
import { ALL_PERMISSIONS } from "./catalog.ts";

export const permissionsSeeder = defineSeeder({
  name: "PermissionsSeeder",
  description: "Seeds all system permissions (seed 002's, plus module and submodule permissions)",
  environments: ALL_ENVS,
  async seed(ctx) {
    await ctx.upsertMany(ctx.t.permissions, "name", ALL_PERMISSIONS);
    return ctx.stats;
  },
});
