/**
 * The seeder registry, in the order seed 002's MasterSeeder runs them (the
 * runner orders by dependencies; ties keep this order). To add a seeder,
 * write a module like `sms_templates.ts` and list it here, or — for a
 * module's data — list it in the module's definition (`modules/<key>.ts`,
 * `seeders: [...]`): the modules' seeders join the master order after the
 * core ones (docs/modules.md).
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
import { MODULE_SEEDERS } from "../src/modules/registry.ts";

export const SEEDERS: SeederDefinition[] = [
  permissionsSeeder,
  rolesSeeder,
  entitlementsSeeder,
  superAdminSeeder,
  smsTemplatesSeeder,
  demoOrganizationsSeeder,
  demoUsersSeeder,
  demoModuleDataSeeder,
  ...MODULE_SEEDERS,
  volumeSeeder,
];
