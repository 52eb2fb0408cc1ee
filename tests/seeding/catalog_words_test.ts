/**
 * The permission catalog says what it means (newcomer finding 10): no description repeats a word
 * ("Full access access"), no permission names an action its module does not have (`seeders.create`), no
 * submodule permission repeats its module (`restaurants_restaurants_read`), seed 002's permission names
 * are all there as written, and a 403 names the permission exactly as the catalog spells it.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ALL_PERMISSIONS, SEED_002_PERMISSIONS } from "../../seeders/catalog.ts";
import { REGISTRY } from "../../src/modules/registry.ts";
import { ACTION_CATALOG, catalogPermissionProblem, permissionFor } from "../../src/access/actions.ts";
import { type AccessPrincipal, decide, scopeFor } from "../../src/access/decide.ts";
import { GrantSet, parsePermission } from "../../src/access/permissions.ts";
import { snapshotEntitlements } from "../../src/tenants/entitlements.ts";

// Seed 002's permission list, verbatim (its "Permissions" section).
const SEED_002 = [
  "users:create",
  "users:read",
  "users:update",
  "users:delete",
  "roles:create",
  "roles:read",
  "roles:update",
  "roles:delete",
  "permissions:read",
  "files:create",
  "files:read",
  "files:update",
  "files:delete",
  "seeders:execute",
  "seeders:read",
  "restaurants:create",
  "restaurants:read",
  "restaurants:update",
  "restaurants:delete",
  "menus:create",
  "menus:read",
  "menus:update",
  "menus:delete",
];

Deno.test("catalog: seed 002's permission names are all there, as written", () => {
  const names = new Set(ALL_PERMISSIONS.map((p) => p.name));
  for (const n of SEED_002) assert.ok(names.has(n), n);
  assert.deepEqual(SEED_002_PERMISSIONS.map((p) => p.name).sort(), [...SEED_002].sort());
});

Deno.test("catalog: no description repeats a word, no name repeats its module", () => {
  for (const p of ALL_PERMISSIONS) {
    const words = p.description.toLowerCase().split(/\s+/);
    for (let i = 1; i < words.length; i++) {
      assert.notEqual(words[i], words[i - 1], `${p.name}: "${p.description}" repeats "${words[i]}"`);
    }
    assert.ok(!p.name.startsWith(`${p.module}_${p.module}_`), `${p.name} repeats its module`);
  }
  const names = ALL_PERMISSIONS.map((p) => p.name);
  assert.equal(new Set(names).size, names.length, "no permission twice");
});

Deno.test("catalog: every permission names an action its module has (seeders has read and execute only)", () => {
  for (const p of ALL_PERMISSIONS) {
    const parsed = parsePermission(p.name);
    assert.ok(parsed, p.name);
    assert.equal(catalogPermissionProblem(parsed!), null, p.name);
    if (p.action !== "*" && p.action !== "admin" && !p.action.includes("_")) {
      const mod = REGISTRY.find((m) => m.key === p.module)!;
      assert.ok(mod.actions.includes(p.action), `${p.name}: ${p.module} has no action ${p.action}`);
    }
  }
  assert.deepEqual([...ACTION_CATALOG.get("seeders")!.actions], ["execute", "read"]);
  const seeders = ALL_PERMISSIONS.filter((p) => p.module === "seeders").map((p) => p.name).sort();
  assert.deepEqual(seeders, ["seeders.*", "seeders:execute", "seeders:read", "seeders_admin"]);
});

const ORG = {
  id: 1,
  name: "Acme",
  isActive: true,
  entitlements: snapshotEntitlements({
    tier: "*",
    tierModules: [...ACTION_CATALOG.keys()],
    enabledModules: {},
    trialEnds: {},
  }),
};
const executive = (): AccessPrincipal => ({
  id: 7,
  email: "p@acme.test",
  role: "executive",
  kind: "executive",
  organizationId: 1,
  isActive: true,
  grants: new GrantSet([]),
  modules: new Set(),
  recordScope: scopeFor("executive", "own"),
  teamIds: new Set(),
});

Deno.test("403 detail: names the permission as the catalog spells it (roles:read, crm.read)", () => {
  const names = new Set(ALL_PERMISSIONS.map((p) => p.name));
  const rbac = [...ACTION_CATALOG].flatMap(([module, m]) => m.actions.map((action) => ({ module, action })));
  fc.assert(
    fc.property(fc.constantFrom(...rbac), ({ module, action }) => {
      const d = decide(executive(), ORG, { module, action, organizationId: 1, now: Date.now() });
      if (d.allowed || d.reason !== "missing_permission") return;
      const named = /^permission (\S+) required/.exec(d.message)?.[1];
      assert.equal(named, permissionFor(module, action));
      assert.ok(names.has(named!), `${d.message}: ${named} is in the catalog`);
    }),
    { numRuns: 200 },
  );
  const roles = decide(executive(), ORG, {
    module: "roles",
    action: "read",
    organizationId: 1,
    now: Date.now(),
  });
  assert.equal(roles.message, "permission roles:read required");
  // The platform-only refusal names it the same way (seed 002 says seeders:read).
  const seeders = decide({ ...executive(), role: "admin", kind: "admin", recordScope: "all" }, ORG, {
    module: "seeders",
    action: "read",
    organizationId: 1,
    now: Date.now(),
  });
  assert.equal(seeders.reason, "platform_only");
  assert.match(seeders.message, /^seeders:read is a platform operation/);
});
