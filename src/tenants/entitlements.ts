/**
 * Layer 2, the pure part: may an organization use a module?
 *
 * In order:
 * 1. always-on modules (email, dashboard, files) → yes;
 * 2. RBAC-only modules (users, roles, seeders, …) → not license-gated, yes;
 * 3. `enabled_modules[m] === false` → no (`not entitled`): an explicit override wins over tier and trial;
 * 4. `enabled_modules[m] === true` → yes (override);
 * 5. the tier (from `entitlement_profiles`) includes it → yes;
 * 6. a trial (`trial_ends[m]`) that has not ended → yes;
 * 7. a trial that has ended → no (`trial expired`) — the tier was already
 *    consulted in 5, so an expired trial falls back to exactly what the tier gives;
 * 8. otherwise → no (`not entitled`).
 *
 * Module keys are case-insensitive; `snapshotEntitlements` normalizes them once.
 * Story: docs/access.md ("Layer 2 — entitlements").
 */
import { isAlwaysOn, isRbacOnly, normalizeModule } from "./modules.ts";

/** An organization's entitlement inputs, normalized (lower-case keys, trial ends in epoch ms). */
export interface EntitlementState {
  tier: string;
  /** Modules the tier includes (lower case). Empty when the tier has no profile. */
  tierModules: ReadonlySet<string>;
  /** Whether `entitlement_profiles` has a row for the tier. */
  tierKnown: boolean;
  /** Explicit overrides: module → on/off. */
  overrides: ReadonlyMap<string, boolean>;
  /** Trials: module → end (epoch ms). */
  trials: ReadonlyMap<string, number>;
}

export type EntitlementSource = "always_on" | "rbac_only" | "override" | "tier" | "trial";
export type EntitlementReason = "not_entitled" | "trial_expired";

export type Entitlement =
  | { entitled: true; module: string; source: EntitlementSource; trialEndsAt?: number }
  | { entitled: false; module: string; reason: EntitlementReason; detail: string };

/** Builds the normalized state from raw organization columns. Colliding keys: `false` wins. */
export function snapshotEntitlements(input: {
  tier: string;
  tierModules: readonly string[] | null;
  enabledModules: Record<string, unknown> | null | undefined;
  trialEnds: Record<string, unknown> | null | undefined;
}): EntitlementState {
  const overrides = new Map<string, boolean>();
  for (const [k, v] of Object.entries(input.enabledModules ?? {})) {
    const m = normalizeModule(k);
    const on = v === true || v === "true" || v === 1;
    overrides.set(m, overrides.has(m) ? overrides.get(m)! && on : on);
  }
  const trials = new Map<string, number>();
  for (const [k, v] of Object.entries(input.trialEnds ?? {})) {
    const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
    if (!Number.isFinite(t)) continue;
    const m = normalizeModule(k);
    trials.set(m, Math.max(trials.get(m) ?? -Infinity, t));
  }
  return {
    tier: normalizeModule(input.tier),
    tierModules: new Set((input.tierModules ?? []).map(normalizeModule)),
    tierKnown: input.tierModules !== null,
    overrides,
    trials,
  };
}

/** Decides whether the organization may use `module` at `now` (epoch ms). Pure. */
export function checkEntitlement(state: EntitlementState, rawModule: string, now: number): Entitlement {
  const module = normalizeModule(rawModule);
  if (isAlwaysOn(module)) return { entitled: true, module, source: "always_on" };
  if (isRbacOnly(module)) return { entitled: true, module, source: "rbac_only" };
  const override = state.overrides.get(module);
  if (override === false) {
    return {
      entitled: false,
      module,
      reason: "not_entitled",
      detail: `module ${module} is disabled for this organization (enabled_modules)`,
    };
  }
  if (override === true) return { entitled: true, module, source: "override" };
  if (state.tierModules.has(module)) return { entitled: true, module, source: "tier" };
  const trialEnd = state.trials.get(module);
  if (trialEnd !== undefined) {
    if (now < trialEnd) return { entitled: true, module, source: "trial", trialEndsAt: trialEnd };
    return {
      entitled: false,
      module,
      reason: "trial_expired",
      detail: `the ${module} trial ended at ${
        new Date(trialEnd).toISOString()
      } and the ${state.tier} tier does not include it`,
    };
  }
  return {
    entitled: false,
    module,
    reason: "not_entitled",
    detail: state.tierKnown
      ? `the ${state.tier} tier does not include module ${module}`
      : `tier ${state.tier} has no entitlement profile, and module ${module} is not enabled`,
  };
}

/** Every module the organization may use now, with its source (for reads and action search). */
export function entitledModules(
  state: EntitlementState,
  catalog: readonly string[],
  now: number,
): Entitlement[] {
  return catalog.map((m) => checkEntitlement(state, m, now));
}
