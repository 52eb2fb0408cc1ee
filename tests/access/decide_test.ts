/** The pure decision core: examples for every rule, then properties over random inputs. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AccessOrganization,
  type AccessPrincipal,
  type AccessRequest,
  decide,
  type RoleKind,
  scopeFor,
} from "../../src/access/decide.ts";
import { GrantSet } from "../../src/access/permissions.ts";
import { checkEntitlement, snapshotEntitlements } from "../../src/tenants/entitlements.ts";
import { ALL_MODULES, LICENSED_MODULES, RBAC_ONLY_MODULES } from "../../src/tenants/modules.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const DAY = 86_400_000;

function principal(kind: RoleKind, o: Partial<AccessPrincipal> = {}): AccessPrincipal {
  return {
    id: 10,
    email: "p@x.test",
    role: kind,
    kind,
    organizationId: kind === "super_admin" ? null : 1,
    isActive: true,
    grants: new GrantSet([]),
    modules: new Set(),
    recordScope: scopeFor(kind, "own"),
    teamIds: new Set(),
    ...o,
  };
}

function org(
  o: {
    tier?: string;
    tierModules?: string[];
    enabled?: Record<string, boolean>;
    trials?: Record<string, string>;
    active?: boolean;
    id?: number;
  } = {},
): AccessOrganization {
  return {
    id: o.id ?? 1,
    name: "Org",
    isActive: o.active ?? true,
    entitlements: snapshotEntitlements({
      tier: o.tier ?? "starter",
      tierModules: o.tierModules ?? ["crm", "sales", "inventory"],
      enabledModules: o.enabled ?? {},
      trialEnds: o.trials ?? {},
    }),
  };
}

const req = (module: string, action: string, o: Partial<AccessRequest> = {}): AccessRequest => ({
  module,
  action,
  organizationId: 1,
  now: NOW,
  ...o,
});

Deno.test("decide: admin has everything within the organization, bound by entitlements", () => {
  const a = principal("admin");
  assert.equal(decide(a, org(), req("crm", "delete")).allowed, true);
  assert.equal(decide(a, org(), req("users", "create")).allowed, true);
  const d = decide(a, org(), req("manufacturing", "read"));
  assert.equal(d.allowed, false);
  assert.equal(d.layer, "entitlement");
  assert.equal(d.reason, "not_entitled");
  assert.match(d.message, /manufacturing: not entitled/);
  assert.deepEqual(d.trace.map((s) => [s.layer, s.outcome]), [["tenant", "pass"], ["entitlement", "deny"]]);
});

Deno.test("decide: tenant layer — cross-tenant, inactive and missing organizations, platform operations", () => {
  const a = principal("admin");
  let d = decide(a, org({ id: 2 }), req("crm", "read", { organizationId: 2 }));
  assert.deepEqual([d.layer, d.reason], ["tenant", "cross_tenant"]);
  d = decide(a, org({ active: false }), req("crm", "read"));
  assert.deepEqual([d.layer, d.reason], ["tenant", "organization_inactive"]);
  d = decide(a, null, req("crm", "read"));
  assert.deepEqual([d.layer, d.reason], ["tenant", "organization_not_found"]);
  d = decide(a, org(), req("crm", "read", { resource: { organizationId: 2, ownerId: 10 } }));
  assert.deepEqual([d.layer, d.reason], ["tenant", "cross_tenant"]);
  d = decide(a, null, req("seeders", "execute", { organizationId: 1 }));
  assert.deepEqual([d.layer, d.reason], ["tenant", "platform_only"]);
  d = decide(principal("admin", { isActive: false }), org(), req("crm", "read"));
  assert.deepEqual([d.layer, d.reason], ["tenant", "subject_inactive"]);
  const s = principal("super_admin");
  assert.equal(decide(s, null, req("seeders", "execute", { organizationId: null })).allowed, true);
  d = decide(s, null, req("crm", "read", { organizationId: null }));
  assert.deepEqual([d.layer, d.reason], ["tenant", "organization_required"]);
  assert.equal(
    decide(s, null, req("users", "read", { organizationId: null, platformWhenUnscoped: true })).allowed,
    true,
  );
  // Super admins act on any organization, but within its entitlements.
  assert.equal(decide(s, org({ id: 7 }), req("crm", "read", { organizationId: 7 })).allowed, true);
  assert.equal(decide(s, org({ id: 7 }), req("hr", "read", { organizationId: 7 })).layer, "entitlement");
  assert.equal(
    decide(s, org({ id: 7 }), req("crm", "read", { organizationId: 7, resource: { ownerId: 99 } })).allowed,
    true,
  );
});

Deno.test("decide: entitlements — overrides, trials, expired trial falls back to the tier, case-insensitive keys", () => {
  const a = principal("admin");
  assert.equal(decide(a, org({ enabled: { HR: true } }), req("hr", "read")).allowed, true);
  assert.equal(decide(a, org({ enabled: { Crm: false } }), req("crm", "read")).reason, "not_entitled");
  const future = new Date(NOW + DAY).toISOString();
  const past = new Date(NOW - DAY).toISOString();
  assert.equal(decide(a, org({ trials: { FINANCE: future } }), req("finance", "read")).allowed, true);
  const expired = decide(a, org({ trials: { finance: past } }), req("finance", "read"));
  assert.deepEqual([expired.layer, expired.reason], ["entitlement", "trial_expired"]);
  assert.match(expired.message, /finance: trial expired/);
  // Expired trial of a module the tier includes: the tier still gives it.
  assert.equal(decide(a, org({ trials: { crm: past } }), req("crm", "read")).allowed, true);
  // Always-on and RBAC-only modules are never license-gated.
  for (const m of ["email", "dashboard", "users", "roles", "settings"]) {
    assert.equal(decide(a, org({ tierModules: [] }), req(m, "read")).allowed, true, m);
  }
  assert.equal(decide(a, org(), req("CRM", "READ")).allowed, true);
  // A tier without a profile gives nothing but is not an error.
  const none = org({ tier: "legacy" });
  none.entitlements = snapshotEntitlements({
    tier: "legacy",
    tierModules: null,
    enabledModules: {},
    trialEnds: {},
  });
  assert.match(decide(a, none, req("crm", "read")).message, /no entitlement profile/);
});

Deno.test("decide: manager, executive and custom roles", () => {
  const m = principal("manager", { modules: new Set(["crm"]), teamIds: new Set([20, 21]) });
  assert.equal(decide(m, org(), req("crm", "delete")).allowed, true);
  assert.equal(decide(m, org(), req("sales", "read")).reason, "missing_permission");
  assert.equal(decide(m, org(), req("users", "create")).allowed, true);
  assert.equal(decide(m, org(), req("users", "delete")).allowed, false);
  assert.equal(decide(m, org(), req("crm", "read", { resource: { ownerId: 20 } })).allowed, true);
  assert.equal(decide(m, org(), req("crm", "read", { resource: { ownerId: 10 } })).allowed, true);
  const out = decide(m, org(), req("crm", "read", { resource: { ownerId: 30 } }));
  assert.deepEqual([out.layer, out.reason], ["record", "record_out_of_scope"]);

  const e = principal("executive", { grants: GrantSet.fromNames(["crm_leads_read", "users.create"]) });
  assert.equal(decide(e, org(), req("crm", "read", { submodule: "leads" })).allowed, true);
  assert.equal(decide(e, org(), req("crm", "read")).allowed, false, "a submodule grant is not module-wide");
  assert.equal(decide(e, org(), req("crm", "create", { submodule: "leads" })).allowed, false);
  assert.equal(decide(e, org(), req("users", "create")).reason, "executive_cannot_create_users");
  assert.equal(
    decide(e, org(), req("crm", "read", { submodule: "leads", resource: { ownerId: 10 } })).allowed,
    true,
  );
  assert.equal(
    decide(e, org(), req("crm", "read", { submodule: "leads", resource: { ownerId: 11 } })).layer,
    "record",
  );

  const c = principal("custom", {
    grants: GrantSet.fromNames(["crm:read", "sales_admin"]),
    recordScope: "all",
  });
  assert.equal(decide(c, org(), req("crm", "read", { resource: { ownerId: 99 } })).allowed, true);
  assert.equal(decide(c, org(), req("sales", "delete")).allowed, true);
  assert.equal(decide(c, org(), req("crm", "update")).reason, "missing_permission");
});

// ── properties ─────────────────────────────────────────────────────────

const kinds = fc.constantFrom<RoleKind>("super_admin", "admin", "manager", "executive", "custom");
const moduleArb = fc.constantFrom(...ALL_MODULES, "unknownmod");
const actionArb = fc.constantFrom("read", "create", "update", "delete", "execute", "export");
const permArb = fc.oneof(
  fc.tuple(moduleArb, actionArb).map(([m, a]) => `${m}.${a}`),
  moduleArb.map((m) => `${m}.*`),
  moduleArb.map((m) => `${m}_admin`),
  fc.tuple(moduleArb, fc.constantFrom("leads", "orders"), actionArb).map(([m, s, a]) => `${m}_${s}_${a}`),
);
const principalArb = fc.record({
  kind: kinds,
  orgId: fc.constantFrom(1, 2),
  active: fc.boolean(),
  grants: fc.array(permArb, { maxLength: 6 }),
  modules: fc.array(fc.constantFrom(...LICENSED_MODULES), { maxLength: 3 }),
  scope: fc.constantFrom("own" as const, "team" as const, "all" as const),
  team: fc.array(fc.integer({ min: 11, max: 15 }), { maxLength: 3 }),
}).map((p) =>
  principal(p.kind, {
    organizationId: p.kind === "super_admin" ? null : p.orgId,
    isActive: p.active,
    grants: GrantSet.fromNames(p.grants),
    modules: new Set(p.modules),
    recordScope: scopeFor(p.kind, p.scope),
    teamIds: new Set(p.team),
  })
);
const orgArb = fc.record({
  id: fc.constantFrom(1, 2),
  active: fc.boolean(),
  tierModules: fc.subarray([...LICENSED_MODULES]),
  enabled: fc.dictionary(fc.constantFrom(...LICENSED_MODULES, "CRM", "Hr"), fc.boolean(), { maxKeys: 3 }),
  trials: fc.dictionary(
    fc.constantFrom(...LICENSED_MODULES),
    fc.integer({ min: -30, max: 30 }).map((d) => new Date(NOW + d * DAY + 1).toISOString()),
    { maxKeys: 3 },
  ),
}).map((o) => org(o));
const requestArb = fc.record({
  module: moduleArb,
  action: actionArb,
  submodule: fc.option(fc.constantFrom("leads", "orders"), { nil: undefined }),
  organizationId: fc.constantFrom<number | null>(1, 2, null),
  resource: fc.option(
    fc.record({
      organizationId: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
      ownerId: fc.option(fc.integer({ min: 10, max: 16 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  platformWhenUnscoped: fc.boolean(),
}).map((r) => ({ ...r, now: NOW }) as AccessRequest);

Deno.test("decide (property): total, and every denial names its layer, a reason and the module", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      const d = decide(p, o, r);
      if (!d.allowed) {
        assert.ok(d.layer && d.reason && d.message.length > 0);
        assert.equal(d.trace.at(-1)?.outcome, "deny");
        assert.equal(d.trace.at(-1)?.layer, d.layer);
      } else assert.ok(d.trace.every((s) => s.outcome !== "deny"));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decide (property): no tenant user ever acts on another organization", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      fc.pre(p.kind !== "super_admin");
      const d = decide(p, o, r);
      if (d.allowed) {
        const platform = r.module === "seeders" || r.module === "backups";
        assert.ok(!platform, "tenant users never pass a platform operation");
        assert.equal(r.organizationId, p.organizationId);
        if (r.resource?.organizationId != null) assert.equal(r.resource.organizationId, p.organizationId);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decide (property): a licensed module is only reachable when the organization is entitled — for everyone", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      const d = decide(p, o, r);
      const licensed = !(["email", "dashboard", "files", ...RBAC_ONLY_MODULES] as string[]).includes(
        r.module,
      );
      const platform = r.module === "seeders" || r.module === "backups" ||
        (r.module === "organization" && r.action !== "read");
      if (d.allowed && licensed && !platform && r.organizationId !== null) {
        assert.ok(checkEntitlement(o.entitlements, r.module, NOW).entitled);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("decide (property): layers run in order — the first failing layer is the one reported", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      const d = decide(p, o, r);
      if (d.allowed) return;
      const order = ["tenant", "entitlement", "rbac", "record"];
      const passed = d.trace.filter((s) => s.outcome === "pass").map((s) => order.indexOf(s.layer));
      assert.ok(passed.every((i) => i < order.indexOf(d.layer!)));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decide (property): more grants never turn an allow into a deny (monotonic)", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, fc.array(permArb, { maxLength: 4 }), (p, o, r, extra) => {
      const before = decide(p, o, r);
      const more = { ...p, grants: GrantSet.fromNames([...p.grants.names, ...extra]) };
      if (before.allowed) assert.equal(decide(more, o, r).allowed, true);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decide (property): module keys are case-insensitive", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      const a = decide(p, o, r);
      const b = decide(p, o, { ...r, module: r.module.toUpperCase(), action: r.action.toUpperCase() });
      assert.equal(a.allowed, b.allowed);
      assert.equal(a.reason, b.reason);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("decide (property): own scope never reaches another user's record; team scope only the team", () => {
  fc.assert(
    fc.property(principalArb, orgArb, requestArb, (p, o, r) => {
      const d = decide(p, o, r);
      const owner = r.resource?.ownerId;
      if (!d.allowed || owner == null || p.kind === "super_admin") return;
      if (d.scope === "own") assert.equal(owner, p.id);
      if (d.scope === "team") assert.ok(owner === p.id || p.teamIds.has(owner));
    }),
    { numRuns: 3000 },
  );
});
