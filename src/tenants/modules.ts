/**
 * The module catalog and the license tiers of seed 000. This is seed data and
 * vocabulary: the EntitlementsSeeder writes the tiers into
 * `entitlement_profiles`, which is what the entitlement layer reads at run time.
 * Module keys are case-insensitive: always compare through `normalizeModule`.
 */

/** Always on for every organization, whatever its tier. */
export const ALWAYS_ON_MODULES = ["email", "dashboard", "files"] as const;

/** Not license-gated: access is decided by RBAC alone. */
export const RBAC_ONLY_MODULES = [
  "settings",
  "admin",
  "organization",
  "users",
  "roles",
  "permissions",
  "seeders",
  "access",
] as const;

/** License-gated business modules. */
export const LICENSED_MODULES = [
  "crm",
  "sales",
  "inventory",
  "hr",
  "marketing",
  "service",
  "finance",
  "asset",
  "transport",
  "manufacturing",
  "restaurants",
  "menus",
] as const;

export const ALL_MODULES = [...ALWAYS_ON_MODULES, ...RBAC_ONLY_MODULES, ...LICENSED_MODULES] as const;

export type TierKey = "free" | "starter" | "professional" | "enterprise";

export interface TierDefinition {
  tier: TierKey;
  name: string;
  description: string;
  /** Licensed modules included outright (always-on modules are implied). */
  modules: string[];
  /** Licensed modules offered as a trial: module → trial length in days. */
  trialModules: Record<string, number>;
}

const STANDARD = ["crm", "sales", "inventory", "hr", "marketing", "service", "finance", "asset", "transport"];

/** Seed 000's four entitlement profiles. */
export const TIERS: TierDefinition[] = [
  {
    tier: "free",
    name: "Free",
    description: "Email and dashboard, with a CRM trial",
    modules: [],
    trialModules: { crm: 14 },
  },
  {
    tier: "starter",
    name: "Starter",
    description: "Email, dashboard, CRM, sales and inventory",
    modules: ["crm", "sales", "inventory"],
    trialModules: {},
  },
  {
    tier: "professional",
    name: "Professional",
    description: "All standard modules enabled",
    modules: [...STANDARD],
    trialModules: { manufacturing: 30 },
  },
  {
    tier: "enterprise",
    name: "Enterprise",
    description: "All modules enabled, including advanced features",
    modules: [...LICENSED_MODULES],
    trialModules: {},
  },
];

/** Lower-cases and trims a module key (`"CRM"` and `"crm"` are one module). */
export function normalizeModule(key: string): string {
  return key.trim().toLowerCase();
}

export function isAlwaysOn(module: string): boolean {
  return (ALWAYS_ON_MODULES as readonly string[]).includes(normalizeModule(module));
}

export function isRbacOnly(module: string): boolean {
  return (RBAC_ONLY_MODULES as readonly string[]).includes(normalizeModule(module));
}
