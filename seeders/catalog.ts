/**
 * The permission and role catalog the core seeders write.
 *
 * Grammar (seed 000): `module.action`, `module.*`, `module_admin`, and
 * submodule permissions `module_resource_action` (`crm_leads_read`). Seed
 * 002's colon form (`users:create`) is kept verbatim for its permissions, and
 * no dot-form synonym of a colon permission is added (`users.create` would
 * mean the same thing twice).
 */
import { ALL_MODULES } from "../src/tenants/modules.ts";

export interface PermissionDef {
  name: string;
  module: string;
  action: string;
  description: string;
}

/** The permissions seed 002 lists, in its order. (Its prose says "24 total"; it lists these 23.) */
export const SEED_002_PERMISSIONS: PermissionDef[] = [
  ...crud("users", "users"),
  ...crud("roles", "roles"),
  { name: "permissions:read", module: "permissions", action: "read", description: "Read permissions" },
  ...crud("files", "files"),
  {
    name: "seeders:execute",
    module: "seeders",
    action: "execute",
    description: "Execute, reset and restore seeders",
  },
  { name: "seeders:read", module: "seeders", action: "read", description: "Read seeder execution history" },
  ...crud("restaurants", "restaurants"),
  ...crud("menus", "menus"),
];

function crud(module: string, what: string): PermissionDef[] {
  return (["create", "read", "update", "delete"] as const).map((action) => ({
    name: `${module}:${action}`,
    module,
    action,
    description: `${action[0].toUpperCase()}${action.slice(1)} ${what}`,
  }));
}

/** Submodules with granular permissions (`<module>_<resource>_<action>`), one per demo module table. */
export const SUBMODULES: Record<string, string[]> = {
  crm: ["leads"],
  manufacturing: ["orders"],
  hr: ["employees"],
  marketing: ["campaigns"],
  service: ["tickets"],
  asset: ["assets"],
  transport: ["vehicles", "trips"],
};

const ACTIONS = ["read", "create", "update", "delete"] as const;

/** Seed 000's module permissions for every module of the catalog. */
export function modulePermissions(): PermissionDef[] {
  const colon = new Set(SEED_002_PERMISSIONS.map((p) => p.name));
  const out: PermissionDef[] = [];
  for (const module of ALL_MODULES) {
    for (const action of ACTIONS) {
      if (colon.has(`${module}:${action}`)) continue;
      out.push({ name: `${module}.${action}`, module, action, description: `${cap(action)} ${module} data` });
    }
    out.push({ name: `${module}.*`, module, action: "*", description: `Full ${module} access` });
    out.push({
      name: `${module}_admin`,
      module,
      action: "admin",
      description: `${cap(module)} admin access`,
    });
  }
  for (const [module, resources] of Object.entries(SUBMODULES)) {
    for (const resource of resources) {
      for (const action of ACTIONS) {
        out.push({
          name: `${module}_${resource}_${action}`,
          module,
          action: `${resource}_${action}`,
          description: `${cap(action)} ${module} ${resource}`,
        });
      }
    }
  }
  return out;
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

/** Every permission the PermissionsSeeder maintains. */
export const ALL_PERMISSIONS: PermissionDef[] = [...SEED_002_PERMISSIONS, ...modulePermissions()];

export interface RoleDef {
  name: string;
  description: string;
  /** System roles cannot be modified or deleted; their grants are reconciled exactly. */
  isSystem: boolean;
  aliases: string[];
  recordScope: "own" | "team" | "all";
  /** Permission names, or "all" for every permission. */
  grants: string[] | "all";
}

/**
 * Seed 002's five roles with exactly the grants it lists, merged with seed
 * 000's super_admin / admin / manager / executive. `superadmin` (002) and
 * `super_admin` (000) are one role: `super_admin` with the alias `superadmin`.
 * Seeder permissions are the super admin's alone: an organization admin must
 * never be able to reset or restore the whole (multi-tenant) database.
 */
export const ROLES: RoleDef[] = [
  {
    name: "super_admin",
    description: "Platform super administrator: every permission, every organization",
    isSystem: true,
    aliases: ["superadmin"],
    recordScope: "all",
    grants: "all",
  },
  {
    name: "admin",
    description: "Organization administrator",
    isSystem: true,
    aliases: [],
    recordScope: "all",
    grants: [
      "users:read",
      "users:create",
      "users:update",
      "roles:read",
      "files:create",
      "files:read",
      "files:update",
      "files:delete",
      "restaurants:create",
      "restaurants:read",
      "restaurants:update",
      "restaurants:delete",
      "menus:create",
      "menus:read",
      "menus:update",
      "menus:delete",
    ],
  },
  {
    name: "restaurant_owner",
    description: "Restaurant owner",
    isSystem: false,
    aliases: [],
    recordScope: "all",
    grants: [
      "restaurants:read",
      "restaurants:update",
      "menus:create",
      "menus:read",
      "menus:update",
      "menus:delete",
      "files:create",
      "files:read",
      "files:update",
    ],
  },
  {
    name: "restaurant_manager",
    description: "Restaurant manager",
    isSystem: false,
    aliases: [],
    recordScope: "team",
    grants: ["restaurants:read", "menus:read", "menus:update", "files:create", "files:read"],
  },
  {
    name: "customer",
    description: "Customer",
    isSystem: false,
    aliases: [],
    recordScope: "own",
    grants: ["restaurants:read", "menus:read"],
  },
  {
    name: "manager",
    description: "Module manager: full access to assigned modules, sees team records",
    isSystem: true,
    aliases: [],
    recordScope: "team",
    grants: ["crm.*", "sales.*"],
  },
  {
    name: "executive",
    description: "Executive: granular submodule permissions, sees own records",
    isSystem: true,
    aliases: [],
    recordScope: "own",
    grants: ["crm_leads_read", "crm_leads_create"],
  },
];
