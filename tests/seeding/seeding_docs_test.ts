/**
 * docs/seeding.md's figures are those of a real seed run (newcomer finding 9: 171 permissions vs 179, total
 * 257 vs 283, tables 25/25 vs 31/31, 9 seeders in the run-order table vs 11, Test Corp's modules without
 * MENUS/RESTAURANTS). A drift fails here: the run-order table against the registry, the response example
 * against a fresh seed of a migrated database, the verify line against `verifyDatabase`.
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { service } from "./helpers.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { ALL_PERMISSIONS } from "../../seeders/catalog.ts";
import { DEMO_ORGS } from "../../seeders/demo_data.ts";
import { orderSeeders } from "../../src/seeding/plan.ts";
import { verifyDatabase } from "../../src/seeding/verify.ts";

const DOC = await Deno.readTextFile(new URL("../../docs/seeding.md", import.meta.url));

/** The rows of the run-order table: `| # | Seeder | Depends on | Runs in | What |`. */
function runOrderRows(): { n: number; name: string; deps: string[]; what: string }[] {
  return DOC.split("\n")
    .map((l) => /^\| *(\d+) *\| *(\w+Seeder) *\| *([^|]+)\|[^|]+\| *(.+?) *\|$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      n: Number(m[1]),
      name: m[2],
      deps: m[3].trim() === "–" ? [] : m[3].split(",").map((d) => `${d.trim()}Seeder`),
      what: m[4],
    }));
}

Deno.test("docs/seeding.md: the run-order table lists every seeder, in run order, with its dependencies", () => {
  const rows = runOrderRows();
  const ordered = orderSeeders(SEEDERS);
  assert.deepEqual(rows.map((r) => r.name), ordered.map((s) => s.name));
  assert.deepEqual(rows.map((r) => r.n), ordered.map((_, i) => i + 1));
  for (const [i, s] of ordered.entries()) {
    assert.deepEqual(rows[i].deps.sort(), [...(s.dependsOn ?? [])].sort(), `${s.name}'s dependencies`);
  }
});

Deno.test("docs/seeding.md: Test Corp's enabled modules and the catalog's size are the code's", () => {
  const testCorp = runOrderRows().find((r) => r.name === "DemoOrganizationsSeeder")!;
  const flags = /Test Corp \(`\w+`, `(\{[^`]+\})`/.exec(testCorp.what)?.[1];
  assert.ok(flags, testCorp.what);
  assert.deepEqual(JSON.parse(flags), DEMO_ORGS.find((o) => o.name === "Test Corp")!.enabledModules);
  const said = /the catalog has (\d+)/.exec(DOC)?.[1];
  assert.equal(Number(said), ALL_PERMISSIONS.length);
});

dbTest(
  "docs/seeding.md: the response example's counts and the verify line are a real seed run's",
  async (db) => {
    const r = await service(db).execute({ triggeredBy: "docs", createBackup: false });
    const example = /```json\n(\{\n {2}"success": true,[\s\S]*?)\n```/.exec(DOC)?.[1];
    assert.ok(example, "the response example");
    const doc = JSON.parse(example) as {
      results: { seeders: Record<string, { created: number }>; total: { created: number } };
    };
    for (const [name, o] of Object.entries(doc.results.seeders)) {
      if (name === "...") continue;
      assert.equal(o.created, r.results.seeders[name]?.created, `${name} created`);
    }
    assert.equal(doc.results.total.created, r.results.total.created, "total created");
    const v = await verifyDatabase(db);
    const line = /`✓ tables: (\d+)\/(\d+) present`/.exec(DOC);
    assert.ok(line, "the verify line");
    assert.deepEqual([Number(line[1]), Number(line[2])], [v.tables.expected, v.tables.expected]);
    // One dialect: the docs' example is one seed run's output; the seed runs on both in seeders_test.
  },
  { only: ["libsql"] },
);
