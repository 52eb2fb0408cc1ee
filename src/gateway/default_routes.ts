/**
 * Seedbed's own routes as a forward-auth route table: what a gateway in front
 * of Seedbed (or of a service that mirrors its API, such as the seed's
 * restaurants) uses when no FORWARD_AUTH_ROUTES file is given. It mirrors the
 * guards of the routers (users_routes.ts, roles_routes.ts, …) — checked against
 * every REST route's guard by tests/gateway/canonical_path_test.ts; anything not
 * listed is denied. Story: docs/gateway.md ("The route table").
 */
import { RESOURCES } from "../modules/resources.ts";
import { LICENSED_MODULES } from "../tenants/modules.ts";
import { compileEntry, type RouteEntry } from "./route_table.ts";

type Raw = Record<string, unknown>;
const READ = ["GET"];
const crud = (base: string, module: string, extra: Raw = {}): Raw[] => [
  { method: READ, path: base, module, action: "read", ...extra },
  { method: READ, path: `${base}/**`, module, action: "read", ...extra },
  { method: "POST", path: base, module, action: "create", ...extra },
  { method: "POST", path: `${base}/*/**`, module, action: "update", ...extra },
  { method: ["PUT", "PATCH"], path: `${base}/**`, module, action: "update", ...extra },
  { method: "DELETE", path: `${base}/**`, module, action: "delete", ...extra },
];

/** Any method on a module's API: GET → read, POST → create, PUT/PATCH → update, DELETE → delete. */
const byMethod = (base: string, module: string): Raw[] => [
  { method: READ, path: `${base}/**`, module, action: "read" },
  { method: "POST", path: `${base}/**`, module, action: "create" },
  { method: ["PUT", "PATCH"], path: `${base}/**`, module, action: "update" },
  { method: "DELETE", path: `${base}/**`, module, action: "delete" },
];

/** The entries in file form (docs/gateway.md prints them as an example). */
export function defaultRouteEntries(): Raw[] {
  const unscoped = { platform_when_unscoped: true };
  const out: Raw[] = [
    // Seedbed authenticates these itself (login, probes, docs, AuthZEN with its own PEP credentials).
    { method: "POST", path: "/api/v1/auth/login", access: "public" },
    { method: READ, path: "/health", access: "public" },
    { method: READ, path: "/ready", access: "public" },
    { method: READ, path: "/openapi.json", access: "public" },
    { method: READ, path: "/docs/**", access: "public" },
    { method: READ, path: "/.well-known/**", access: "public" },
    { method: "POST", path: "/access/v1/**", access: "public" },
    // The account's own routes: open to an account that must change its password (as the REST routes are).
    { method: READ, path: "/api/v1/auth/me", access: "account" },
    { method: "POST", path: "/api/v1/auth/password/change", access: "account" },
    { method: "POST", path: "/api/v1/auth/logout", access: "account" },
    ...crud("/api/v1/users", "users", unscoped),
    // Taking permissions off a role changes it (roles_routes.ts guards it with roles:update).
    {
      method: "DELETE",
      path: "/api/v1/roles/*/permissions/**",
      module: "roles",
      action: "update",
      ...unscoped,
    },
    ...crud("/api/v1/roles", "roles", unscoped),
    { method: READ, path: "/api/v1/permissions", module: "permissions", action: "read", ...unscoped },
    { method: READ, path: "/api/v1/organizations", module: "organization", action: "read", ...unscoped },
    { method: READ, path: "/api/v1/organizations/**", module: "organization", action: "read", ...unscoped },
    { method: "POST", path: "/api/v1/organizations", module: "organization", action: "create" },
    { method: "POST", path: "/api/v1/organizations/*/**", module: "organization", action: "update" },
    { method: ["PUT", "PATCH"], path: "/api/v1/organizations/**", module: "organization", action: "update" },
    { method: "DELETE", path: "/api/v1/organizations/**", module: "organization", action: "delete" },
    { method: "POST", path: "/api/v1/seeders/**", module: "seeders", action: "execute" },
    { method: READ, path: "/api/v1/seeders", module: "seeders", action: "read" },
    { method: READ, path: "/api/v1/seeders/**", module: "seeders", action: "read" },
    { method: "POST", path: "/api/v1/backups", module: "seeders", action: "execute" },
    // Verifying a backup reads it (backups_routes.ts guards it with seeders:read).
    { method: "POST", path: "/api/v1/backups/*/verify", module: "seeders", action: "read" },
    { method: "POST", path: "/api/v1/backups/**", module: "seeders", action: "execute" },
    { method: READ, path: "/api/v1/backups", module: "seeders", action: "read" },
    { method: READ, path: "/api/v1/backups/**", module: "seeders", action: "read" },
    { method: "DELETE", path: "/api/v1/backups/**", module: "seeders", action: "execute" },
    { method: "POST", path: "/api/v1/files/*/copy", module: "files", action: "create" },
    {
      method: ["GET", "POST", "DELETE"],
      path: "/api/v1/service-keys",
      module: "access",
      action: "manage",
      ...unscoped,
    },
    {
      method: ["GET", "POST", "DELETE"],
      path: "/api/v1/service-keys/**",
      module: "access",
      action: "manage",
      ...unscoped,
    },
    ...crud("/api/v1/files", "files"),
  ];
  // The demo resources, with their submodule (`crm_leads_read`).
  for (const def of RESOURCES) out.push(...crud(def.path, def.module, { submodule: def.submodule }));
  // Every licensed module's API, by method: GET /api/v1/restaurants/** → restaurants.read, …
  for (const module of LICENSED_MODULES) out.push(...byMethod(`/api/v1/${module}`, module));
  return out;
}

let compiled: RouteEntry[] | undefined;
/** Seedbed's own routes, compiled once. */
export function defaultRouteTable(): RouteEntry[] {
  compiled ??= defaultRouteEntries().map((r, i) => compileEntry(r, `default routes[${i}]`));
  return compiled;
}
