/**
 * The seeder registry, in the order seed 002's MasterSeeder runs them (the
 * runner orders by dependencies; ties keep this order). To add a seeder,
 * write a module like `sms_templates.ts` and list it here (`deno task new
 * seeder` does both). A module's seeders (`seeders/<module>.ts`, written by
 * `deno task new module`) name their module (`module: "restaurants"`) and
 * are listed here too, before the volume seeder (docs/modules.md).
 */
import type { SeederDefinition } from "../src/seeding/types.ts";
import { permissionsSeeder } from "./permissions.ts";
import { rolesSeeder } from "./roles.ts";
import { entitlementsSeeder } from "./entitlements.ts";
import { superAdminSeeder } from "./super_admin.ts";
import { smsTemplatesSeeder } from "./sms_templates.ts";
import { demoOrganizationsSeeder } from "./demo_organizations.ts";
import { demoUsersSeeder } from "./demo_users.ts";
import { demoModuleDataSeeder } from "./demo_module_data.ts";
import { volumeSeeder } from "./volume.ts";
import { restaurantsSeeder } from "./restaurants.ts";
import { menusSeeder } from "./menus.ts";

export const SEEDERS: SeederDefinition[] = [
  permissionsSeeder,
  rolesSeeder,
  entitlementsSeeder,
  superAdminSeeder,
  smsTemplatesSeeder,
  demoOrganizationsSeeder,
  demoUsersSeeder,
  demoModuleDataSeeder,
  restaurantsSeeder,
  menusSeeder,
  volumeSeeder,
];
