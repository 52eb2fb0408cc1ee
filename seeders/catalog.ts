/**
 * The permission and role catalog the core seeders write.
 *
 * Grammar (seed 000): `module.action`, `module.*`, `module_admin`, and
 * submodule permissions `module_resource_action` (`crm_leads_read`). Seed
 * 002's colon form (`users:create`) is kept verbatim for its permissions, and
 * no dot-form synonym of a colon permission is added (`users.create` would
 * mean the same thing twice).
 */
import { CRUD_ACTIONS, REGISTRY } from "../src/modules/registry.ts";

export interface PermissionDef {
  name: string;
  module: string;
  action: string;
  description: string;
}

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/**
 * Seed 002's colon-style permissions (`users:create`, …, `restaurants:*`, `menus:*`), in its order: every
 * module's `colonActions`, in registry order. (Its prose says "24 total"; it lists these 23.)
 */
export const SEED_002_PERMISSIONS: PermissionDef[] = REGISTRY.flatMap((m) =>
  m.colonActions.map((action) => ({
    name: `${m.key}:${action}`,
    module: m.key,
    action,
    description: m.actionDescriptions[action] ?? `${cap(action)} ${m.key}`,
  }))
);

/** Submodules with granular permissions (`<module>_<resource>_<action>`): one per module record table. */
export const SUBMODULES: Record<string, string[]> = Object.fromEntries(
  REGISTRY.filter((m) => m.resources.length).map((m) => [m.key, m.resources.map((r) => r.submodule)]),
);

/** Seed 000's module permissions for every module of the registry. */
export function modulePermissions(): PermissionDef[] {
  const out: PermissionDef[] = [];
  for (const m of REGISTRY) {
    const colon = new Set(m.colonActions);
    // Every action the module has (its CRUD actions and its own, e.g. access.evaluate), once.
    for (const action of m.actions) {
      if (colon.has(action)) continue;
      out.push({
        name: `${m.key}.${action}`,
        module: m.key,
        action,
        description: m.actionDescriptions[action] ?? `${cap(action)} ${m.key} data`,
      });
    }
    out.push({ name: `${m.key}.*`, module: m.key, action: "*", description: `Every ${m.key} action` });
    out.push({
      name: `${m.key}_admin`,
      module: m.key,
      action: "admin",
      description: `${cap(m.key)} module administration`,
    });
  }
  for (const m of REGISTRY) {
    for (const r of m.resources) {
      // A resource named like its module (`restaurants`) needs no submodule permission: `restaurants_restaurants_read`
      // would say `restaurants:read` again.
      if (r.submodule === m.key) continue;
      for (const action of CRUD_ACTIONS) {
        out.push({
          name: `${m.key}_${r.submodule}_${action}`,
          module: m.key,
          action: `${r.submodule}_${action}`,
          description: `${cap(action)} ${m.key} ${r.submodule}`,
        });
      }
    }
  }
  return out;
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
