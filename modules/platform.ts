/**
 * The platform's own modules (seed 000 and 002): always on (email, dashboard, files) or RBAC-only (users,
 * roles, seeders, …). Their routes are Seedbed's own (`src/users/`, `src/files/`, …); they are declared here
 * so that permissions, entitlements and AuthZEN know them like any other module. Order matters: it is the
 * order of seed 002's permission list.
 */
import { defineModule } from "../src/modules/define.ts";

const crud = ["create", "read", "update", "delete"] as const;

export const PLATFORM_MODULES = [
  defineModule({ key: "email", licensing: "always_on" }),
  defineModule({ key: "dashboard", licensing: "always_on" }),
  defineModule({ key: "settings", licensing: "rbac_only" }),
  defineModule({ key: "admin", licensing: "rbac_only" }),
  defineModule({ key: "organization", licensing: "rbac_only" }),
  defineModule({ key: "users", licensing: "rbac_only", colonActions: crud }),
  defineModule({ key: "roles", licensing: "rbac_only", colonActions: crud }),
  defineModule({ key: "permissions", licensing: "rbac_only", colonActions: ["read"] }),
  defineModule({ key: "files", licensing: "always_on", colonActions: crud }),
  defineModule({
    key: "seeders",
    licensing: "rbac_only",
    crud: ["read"],
    actions: ["execute"],
    colonActions: ["execute", "read"],
    actionDescriptions: {
      execute: "Execute, reset and restore seeders",
      read: "Read seeder execution history",
    },
  }),
  defineModule({ key: "access", licensing: "rbac_only", actions: ["evaluate", "manage"] }),
] as const;
