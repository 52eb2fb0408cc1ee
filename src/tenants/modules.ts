/**
 * The module catalog (from the module registry, `modules/mod.ts`) and the license tiers of seed 000. This is
 * seed data and vocabulary: the EntitlementsSeeder writes the tiers into
 * `entitlement_profiles`, which is what the entitlement layer reads at run time.
 * Module keys are case-insensitive: always compare through `normalizeModule`.
 * Story: docs/access.md ("Layer 2 — entitlements").
 */
import { ALWAYS_ON_MODULES, RBAC_ONLY_MODULES, tierModules } from "../modules/registry.ts";
import type { TierKey } from "../modules/define.ts";

export { ALL_MODULES, ALWAYS_ON_MODULES, LICENSED_MODULES, RBAC_ONLY_MODULES } from "../modules/registry.ts";

export type { TierKey };

export interface TierDefinition {
  tier: TierKey;
  name: string;
  description: string;
  /** Licensed modules included outright (always-on modules are implied). */
  modules: string[];
  /** Licensed modules offered as a trial: module → trial length in days. */
  trialModules: Record<string, number>;
}

/** Seed 000's four entitlement profiles; which modules each includes is declared by the modules themselves. */
export const TIERS: TierDefinition[] = [
  { tier: "free", name: "Free", description: "Email and dashboard, with a CRM trial" },
  { tier: "starter", name: "Starter", description: "Email, dashboard, CRM, sales and inventory" },
  { tier: "professional", name: "Professional", description: "All standard modules enabled" },
  {
    tier: "enterprise",
    name: "Enterprise",
    description: "All modules enabled, including advanced features",
  },
].map((t) => ({ ...t, tier: t.tier as TierKey, ...tierModules(t.tier as TierKey) }));

/** Lower-cases and trims a module key (`"CRM"` and `"crm"` are one module). */
export function normalizeModule(key: string): string {
  return key.trim().toLowerCase();
}

const ALWAYS = new Set(ALWAYS_ON_MODULES);
const RBAC = new Set(RBAC_ONLY_MODULES);

export function isAlwaysOn(module: string): boolean {
  return ALWAYS.has(normalizeModule(module));
}

export function isRbacOnly(module: string): boolean {
  return RBAC.has(normalizeModule(module));
}
