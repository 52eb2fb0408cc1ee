/** Ordering and selection: pure, no database. */
import assert from "node:assert/strict";
import { AppError } from "../../src/errors.ts";
import { orderSeeders, planSeeders, validateRegistry } from "../../src/seeding/plan.ts";
import type { SeederDefinition } from "../../src/seeding/types.ts";
import { SEEDERS } from "../../seeders/mod.ts";

const s = (
  name: string,
  dependsOn: string[] = [],
  extra: Partial<SeederDefinition> = {},
): SeederDefinition => ({
  name,
  description: name,
  dependsOn,
  environments: ["development", "test", "production"],
  seed: (ctx) => Promise.resolve(ctx.stats),
  ...extra,
});

const names = (list: SeederDefinition[]) => list.map((x) => x.name);

Deno.test("plan: dependencies run first; ties keep registry order", () => {
  const order = orderSeeders([s("C", ["B"]), s("A"), s("B", ["A"]), s("D")]);
  assert.deepEqual(names(order), ["A", "B", "C", "D"]);
});

Deno.test("plan: the real registry runs in seed 002's MasterSeeder order", () => {
  assert.deepEqual(names(orderSeeders(SEEDERS)).slice(0, 5), [
    "PermissionsSeeder",
    "RolesSeeder",
    "EntitlementsSeeder",
    "SuperAdminSeeder",
    "SMSTemplatesSeeder",
  ]);
});

Deno.test("plan: a cycle is an error naming the seeders involved", () => {
  assert.throws(
    () => validateRegistry([s("A", ["C"]), s("B", ["A"]), s("C", ["B"])]),
    (e: AppError) =>
      e.code === "SEEDING_FAILED" && /dependency cycle between seeders: A → C → B → A/.test(e.message),
  );
  assert.throws(() => validateRegistry([s("A", ["A"])]), /cycle between seeders: A → A/);
});

Deno.test("plan: an unknown dependency and a duplicate name are errors", () => {
  assert.throws(() => validateRegistry([s("A", ["Ghost"])]), /seeder A depends on unknown seeder "Ghost"/);
  assert.throws(() => validateRegistry([s("A"), s("A")]), /two seeders are named "A"/);
});

Deno.test("plan: --only pulls in dependencies transitively, in order", () => {
  const reg = [s("A"), s("B", ["A"]), s("C", ["B"]), s("D")];
  assert.deepEqual(names(planSeeders(reg, { env: "test", demo: false, scale: 0, only: ["C"] })), [
    "A",
    "B",
    "C",
  ]);
  assert.deepEqual(names(planSeeders(reg, { env: "test", demo: false, scale: 0, only: ["D", "A"] })), [
    "A",
    "D",
  ]);
});

Deno.test("plan: an unknown --only name is a 422 naming it and the known seeders", () => {
  assert.throws(
    () => planSeeders([s("A")], { env: "test", demo: false, scale: 0, only: ["Nope"] }),
    (e: AppError) =>
      e.code === "VALIDATION_ERROR" && /unknown seeder "Nope"; known seeders: A/.test(e.message),
  );
});

Deno.test("plan: environments, demo and volume decide the default selection", () => {
  const reg = [
    s("Core"),
    s("DevOnly", [], { environments: ["development"] }),
    s("Demo", ["Core"], { environments: ["development", "test"], demo: true }),
    s("Volume", ["Demo"], { volume: true }),
  ];
  assert.deepEqual(names(planSeeders(reg, { env: "production", demo: false, scale: 0 })), ["Core"]);
  assert.deepEqual(names(planSeeders(reg, { env: "development", demo: true, scale: 0 })), [
    "Core",
    "DevOnly",
    "Demo",
  ]);
  assert.deepEqual(names(planSeeders(reg, { env: "test", demo: false, scale: 0 })), ["Core"]);
  // --scale pulls in the demo data the volume rows belong to — where that demo data may run.
  assert.deepEqual(names(planSeeders(reg, { env: "test", demo: false, scale: 5 })), [
    "Core",
    "Demo",
    "Volume",
  ]);
  // Not in production: a seeder never runs outside its environments, not even as a dependency.
  assert.throws(
    () => planSeeders(reg, { env: "production", demo: false, scale: 5 }),
    /seeder Demo runs only in development, test, not in production \(Volume depends on it\)/,
  );
});

Deno.test("plan: the real registry leaves demo seeders out of production", () => {
  const prod = names(planSeeders(SEEDERS, { env: "production", demo: false, scale: 0 }));
  assert.deepEqual(prod, [
    "PermissionsSeeder",
    "RolesSeeder",
    "EntitlementsSeeder",
    "SuperAdminSeeder",
    "SMSTemplatesSeeder",
  ]);
});
