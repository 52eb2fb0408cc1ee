/**
 * Organizations (layer 1) and their entitlements (layer 2): platform super
 * admins create, update, deactivate and license organizations; an org admin
 * reads his own. Every change is audited; the security-version triggers make
 * it effective on the next request on every replica.
 * Story: docs/access.md ("Layer 1 — tenants").
 */
import type { Database } from "../db/client.ts";
import { AppError, conflict, notFound, validation } from "../errors.ts";
import type { AuditService } from "../audit/audit.ts";
import type { AccessService } from "../access/access_service.ts";
import type { AuthContext } from "../http/types.ts";
import { checkEntitlement, snapshotEntitlements } from "./entitlements.ts";
import { ALL_MODULES, isAlwaysOn, isRbacOnly, normalizeModule, TIERS } from "./modules.ts";
import { type OrganizationRow, OrganizationsRepository } from "./organizations_repository.ts";

export interface OrganizationInput {
  name: string;
  slug?: string;
  license_tier?: string;
  enabled_modules?: Record<string, boolean>;
  trial_ends?: Record<string, string>;
}

export interface EntitlementsPatch {
  license_tier?: string;
  /** Module → true (on) / false (off) / null (remove the override). */
  enabled_modules?: Record<string, boolean | null>;
  /** Module → trial end (ISO timestamp) / null (remove the trial). */
  trial_ends?: Record<string, string | null>;
  /** Module → days: start (or restart) a trial ending that many days from now. */
  start_trials?: Record<string, number>;
}

const DAY = 86_400_000;
type ModuleKind = "always_on" | "rbac_only" | "licensed";

export function organizationJson(o: OrganizationRow) {
  return {
    id: o.id,
    name: o.name,
    slug: o.slug,
    license_tier: o.licenseTier,
    enabled_modules: o.enabledModules,
    trial_ends: o.trialEnds,
    is_active: o.isActive,
    created_at: o.createdAt.toISOString(),
    updated_at: o.updatedAt.toISOString(),
  };
}

function slugify(name: string): string {
  return name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(
    0,
    60,
  ) ||
    "org";
}

/** Checks module keys against the catalog (case-insensitive); 422 naming the unknown one. */
function requireModules(keys: string[], field: string): void {
  for (const k of keys) {
    if (!(ALL_MODULES as readonly string[]).includes(normalizeModule(k))) {
      throw validation(`${field}: unknown module "${k}"; known modules: ${ALL_MODULES.join(", ")}`, {
        errors: [{ field: `${field}.${k}`, message: "unknown module" }],
      });
    }
  }
}

export class OrganizationsService {
  readonly repo: OrganizationsRepository;
  constructor(private readonly deps: { db: Database; audit: AuditService; access: AccessService }) {
    this.repo = new OrganizationsRepository(deps.db);
  }

  async #knownTier(tier: string): Promise<string> {
    const t = normalizeModule(tier);
    if (await this.repo.profile(t)) return t;
    if (TIERS.some((d) => d.tier === t)) return t;
    const known = [
      ...new Set([...(await this.repo.profiles()).map((p) => p.tier), ...TIERS.map((d) => d.tier)]),
    ];
    throw validation(`license_tier: unknown tier "${tier}"; known tiers: ${known.join(", ")}`, {
      errors: [{ field: "license_tier", message: "unknown tier" }],
    });
  }

  /** Trial ends for a tier's trial modules, starting now (existing trials are kept). */
  async #tierTrials(
    tier: string,
    existing: Record<string, string>,
    now: number,
  ): Promise<Record<string, string>> {
    const profile = await this.repo.profile(tier);
    const trialModules = profile?.trialModules ?? TIERS.find((d) => d.tier === tier)?.trialModules ?? {};
    const out = { ...existing };
    for (const [m, days] of Object.entries(trialModules)) {
      const key = normalizeModule(m);
      if (!Object.keys(out).some((k) => normalizeModule(k) === key)) {
        out[key] = new Date(now + days * DAY).toISOString();
      }
    }
    return out;
  }

  /** The organization visible to the caller: super admins see all, others only their own (else 404). */
  async visible(auth: AuthContext, id: number): Promise<OrganizationRow> {
    const own = auth.user.isSuperAdmin || auth.user.organizationId === id;
    const o = own ? await this.repo.get(id) : null;
    if (!o) throw notFound(`organization ${id}`);
    return o;
  }

  async list(auth: AuthContext, page: { skip: number; limit: number }, isActive?: boolean) {
    const onlyId = auth.user.isSuperAdmin ? (auth.organizationId ?? undefined) : auth.user.organizationId!;
    const { items, total } = await this.repo.list(page, { onlyId, isActive });
    return { items: items.map(organizationJson), total, skip: page.skip, limit: page.limit };
  }

  async create(auth: AuthContext, input: OrganizationInput, requestId?: string) {
    const tier = await this.#knownTier(input.license_tier ?? "free");
    requireModules(Object.keys(input.enabled_modules ?? {}), "enabled_modules");
    requireModules(Object.keys(input.trial_ends ?? {}), "trial_ends");
    if (await this.repo.byName(input.name)) throw conflict(`organization "${input.name}" already exists`);
    const now = Date.now();
    const trialEnds = await this.#tierTrials(tier, input.trial_ends ?? {}, now);
    const created = await this.deps.db.transaction(async (tx) => {
      const o = await this.repo.insert({
        name: input.name,
        slug: input.slug ?? slugify(input.name),
        licenseTier: tier,
        enabledModules: input.enabled_modules ?? {},
        trialEnds,
      }, tx);
      await this.deps.audit.record({
        event: "organization.created",
        actorUserId: auth.user.id,
        organizationId: o.id,
        target: `organization:${o.id}`,
        requestId,
        details: { name: o.name, license_tier: tier },
      }, tx);
      return o;
    });
    await this.deps.access.changed();
    return organizationJson(created);
  }

  async update(auth: AuthContext, id: number, patch: { name?: string; slug?: string }, requestId?: string) {
    const before = await this.visible(auth, id);
    if (patch.name && patch.name !== before.name && await this.repo.byName(patch.name)) {
      throw conflict(`organization "${patch.name}" already exists`);
    }
    const after = await this.deps.db.transaction(async (tx) => {
      const o = await this.repo.update(id, patch, tx);
      await this.deps.audit.record({
        event: "organization.updated",
        actorUserId: auth.user.id,
        organizationId: id,
        target: `organization:${id}`,
        requestId,
        details: { before: { name: before.name, slug: before.slug }, after: patch },
      }, tx);
      return o!;
    });
    await this.deps.access.changed();
    return organizationJson(after);
  }

  /** Deactivates (or reactivates) an organization: its users can no longer log in or use tokens. */
  async setActive(auth: AuthContext, id: number, active: boolean, requestId?: string) {
    await this.visible(auth, id);
    const o = await this.deps.db.transaction(async (tx) => {
      const row = await this.repo.update(id, { isActive: active }, tx);
      await this.deps.audit.record({
        event: active ? "organization.activated" : "organization.deactivated",
        actorUserId: auth.user.id,
        organizationId: id,
        target: `organization:${id}`,
        requestId,
      }, tx);
      return row!;
    });
    await this.deps.access.changed();
    return organizationJson(o);
  }

  /** The organization's entitlements: tier, overrides, trials and the resulting state of every module. */
  async entitlements(auth: AuthContext, id: number) {
    const o = await this.visible(auth, id);
    const profile = await this.repo.profile(normalizeModule(o.licenseTier));
    const state = snapshotEntitlements({
      tier: o.licenseTier,
      tierModules: profile ? profile.modules : null,
      enabledModules: o.enabledModules,
      trialEnds: o.trialEnds,
    });
    const now = Date.now();
    return {
      organization_id: o.id,
      license_tier: o.licenseTier,
      tier_profile_found: profile !== null,
      tier_modules: profile ? profile.modules : [],
      enabled_modules: o.enabledModules,
      trial_ends: o.trialEnds,
      modules: (ALL_MODULES as readonly string[]).map((m) => {
        const e = checkEntitlement(state, m, now);
        return {
          module: m,
          kind: (isAlwaysOn(m) ? "always_on" : isRbacOnly(m) ? "rbac_only" : "licensed") as ModuleKind,
          entitled: e.entitled,
          source: e.entitled ? e.source : null,
          reason: e.entitled ? null : e.reason,
          trial_ends_at: state.trials.has(m) ? new Date(state.trials.get(m)!).toISOString() : null,
        };
      }),
    };
  }

  /** Changes tier, overrides and trials (platform super admins). */
  async changeEntitlements(auth: AuthContext, id: number, patch: EntitlementsPatch, requestId?: string) {
    const before = await this.visible(auth, id);
    requireModules(Object.keys(patch.enabled_modules ?? {}), "enabled_modules");
    requireModules(Object.keys(patch.trial_ends ?? {}), "trial_ends");
    requireModules(Object.keys(patch.start_trials ?? {}), "start_trials");
    const now = Date.now();
    const tier = patch.license_tier !== undefined
      ? await this.#knownTier(patch.license_tier)
      : before.licenseTier;

    const enabled: Record<string, boolean> = {};
    for (const [k, v] of Object.entries(before.enabledModules ?? {})) enabled[normalizeModule(k)] = v;
    for (const [k, v] of Object.entries(patch.enabled_modules ?? {})) {
      const m = normalizeModule(k);
      if (v === null) delete enabled[m];
      else enabled[m] = v;
    }
    let trials: Record<string, string> = {};
    for (const [k, v] of Object.entries(before.trialEnds ?? {})) trials[normalizeModule(k)] = v;
    for (const [k, v] of Object.entries(patch.trial_ends ?? {})) {
      const m = normalizeModule(k);
      if (v === null) delete trials[m];
      else trials[m] = new Date(v).toISOString();
    }
    for (const [k, days] of Object.entries(patch.start_trials ?? {})) {
      trials[normalizeModule(k)] = new Date(now + days * DAY).toISOString();
    }
    if (tier !== before.licenseTier) trials = await this.#tierTrials(tier, trials, now);

    const after = await this.deps.db.transaction(async (tx) => {
      const o = await this.repo.update(
        id,
        { licenseTier: tier, enabledModules: enabled, trialEnds: trials },
        tx,
      );
      await this.deps.audit.record({
        event: "entitlements.changed",
        actorUserId: auth.user.id,
        organizationId: id,
        target: `organization:${id}`,
        requestId,
        details: {
          before: {
            license_tier: before.licenseTier,
            enabled_modules: before.enabledModules,
            trial_ends: before.trialEnds,
          },
          after: { license_tier: tier, enabled_modules: enabled, trial_ends: trials },
        },
      }, tx);
      return o!;
    });
    await this.deps.access.changed();
    if (!after) throw new AppError("NOT_FOUND", `organization ${id} not found`);
    return await this.entitlements(auth, after.id);
  }
}
