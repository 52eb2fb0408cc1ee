/**
 * The module registry (`modules/mod.ts`) is the one list of modules and their tables: everything reads it,
 * no other file lists them by hand, and a malformed registry is refused with a message naming the module.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { getTableConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableName } from "drizzle-orm";
import { pgSchema, sqliteSchema } from "../../src/db/schema.ts";
import {
  ALL_MODULES,
  LICENSED_MODULES,
  REGISTRY,
  REGISTRY_RESOURCES,
  resolveRegistry,
  tierModules,
} from "../../src/modules/registry.ts";
import { defineModule, type ModuleInput, ref, text, user } from "../../src/modules/define.ts";
import { resourceByType, RESOURCES } from "../../src/modules/resources.ts";
import { backupTables } from "../../src/backups/tables.ts";
import { ALL_PERMISSIONS, SEED_002_PERMISSIONS } from "../../seeders/catalog.ts";
import { parsePermission } from "../../src/access/permissions.ts";
import { TIERS } from "../../src/tenants/modules.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { modulesInCode, type SourceParts, splitSource, tablesInCode } from "../helpers/hand_lists.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("registry: every module table exists on both dialects, in backups, with a resource and routes", () => {
  const backup = new Set(backupTables().map((t) => t.name));
  for (const r of REGISTRY_RESOURCES) {
    const pg = (pgSchema as unknown as Record<string, PgTable>)[r.key];
    const lite = (sqliteSchema as unknown as Record<string, PgTable>)[r.key];
    assert.ok(pg && lite, `${r.table}: in both schemas as db.t.${r.key}`);
    assert.equal(getTableName(pg), r.table);
    assert.equal(getTableName(lite), r.table);
    const cols = getTableConfig(pg).columns.map((c) => c.name);
    // The record-scope column is owner_id unless the resource declares its own (`--owner assignee_id`).
    assert.deepEqual(
      cols.slice(0, 3),
      ["id", "organization_id", r.ownerColumn],
      `${r.table}: tenant columns`,
    );
    assert.ok(backup.has(r.table), `${r.table}: backed up, restored, wiped and verified`);
    assert.equal(resourceByType(r.type)?.sqlTable, r.table, `${r.type}: an AuthZEN resource type`);
    for (const action of ["read", "create", "update", "delete"]) {
      // A resource named like its module (`restaurants`) has no submodule permission: it would repeat the
      // module's own (`restaurants:read`).
      const granular = ALL_PERMISSIONS.some((p) => p.name === `${r.module}_${r.submodule}_${action}`);
      assert.equal(granular, r.submodule !== r.module, `${r.module}_${r.submodule}_${action}`);
    }
  }
  assert.equal(RESOURCES.length, REGISTRY_RESOURCES.length);
});

Deno.test("registry: permissions, tiers and seeders are derived from the modules", () => {
  for (const m of ALL_MODULES) {
    assert.ok(ALL_PERMISSIONS.some((p) => p.name === `${m}.*`), `${m}.*`);
    assert.ok(ALL_PERMISSIONS.some((p) => p.name === `${m}_admin`), `${m}_admin`);
  }
  for (const p of ALL_PERMISSIONS) {
    const g = parsePermission(p.name);
    assert.ok(g, `${p.name} parses`);
    assert.equal(g.module, p.module, `${p.name} belongs to ${p.module}`);
  }
  assert.equal(new Set(ALL_PERMISSIONS.map((p) => p.name)).size, ALL_PERMISSIONS.length, "no duplicates");
  // Seed 002's list, in its order.
  assert.deepEqual(SEED_002_PERMISSIONS.map((p) => p.name).slice(0, 9), [
    "users:create",
    "users:read",
    "users:update",
    "users:delete",
    "roles:create",
    "roles:read",
    "roles:update",
    "roles:delete",
    "permissions:read",
  ]);
  for (const t of TIERS) {
    assert.deepEqual(t.modules, tierModules(t.tier).modules);
    for (const m of t.modules) assert.ok(LICENSED_MODULES.includes(m), `${t.tier}: ${m} is licensed`);
  }
  // A module's seeders name their module (a module file cannot import them: tests/architecture).
  const keys = new Set(REGISTRY.map((m) => m.key));
  for (const s of SEEDERS) if (s.module) assert.ok(keys.has(s.module), `${s.name}: module ${s.module}`);
  const byModule = new Map(SEEDERS.filter((s) => s.module).map((s) => [s.name, s.module]));
  assert.equal(byModule.get("RestaurantsSeeder"), "restaurants");
  assert.equal(byModule.get("MenusSeeder"), "menus");
});

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);

Deno.test("registry: any set of well-formed modules resolves; keys stay unique and every action is a word", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(word, { minLength: 1, maxLength: 8 }),
      fc.array(word, { maxLength: 3 }),
      (keys, extra) => {
        const mods: ModuleInput[] = keys.map((key, i) =>
          defineModule({
            key,
            licensing: i % 3 === 0 ? "always_on" : i % 3 === 1 ? "rbac_only" : { tiers: ["enterprise"] },
            actions: extra,
            resources: {
              items: {
                table: `${key}_items`,
                type: `${key}_item`,
                noun: "item",
                schemaName: `S${i}`,
                fields: { name: text().notNull() },
              },
            },
          })
        );
        const out = resolveRegistry(mods);
        assert.deepEqual(out.map((m) => m.key), keys);
        for (const m of out) {
          assert.deepEqual(m.actions.slice(0, 4), ["read", "create", "update", "delete"]);
          assert.equal(new Set(m.actions).size, m.actions.length);
          assert.equal(m.resources[0].path, `/api/v1/${m.key}/items`);
        }
      },
    ),
  );
});

Deno.test("registry: a malformed registry is refused, naming the module", () => {
  const ok = (key: string, table = `${key}_things`) =>
    defineModule({
      key,
      licensing: { tiers: ["starter"] },
      resources: {
        things: {
          table,
          type: `${key}_thing`,
          noun: "thing",
          schemaName: `${key}Thing`,
          fields: { name: text() },
        },
      },
    });
  assert.throws(() => resolveRegistry([ok("shop"), ok("shop")]), /module "shop" is registered twice/);
  assert.throws(() => resolveRegistry([ok("Shop")]), /module "Shop": a key is one lower-case word/);
  assert.throws(() => resolveRegistry([ok("shop_x")]), /module "shop_x": a key is one lower-case word/);
  assert.throws(
    () => resolveRegistry([ok("a", "t"), ok("b", "t")]),
    /module "b", resource things: table t is declared twice/,
  );
  const things = ok("shop").resources.things;
  assert.throws(
    () =>
      resolveRegistry([
        defineModule({
          key: "shop",
          licensing: "rbac_only",
          resources: { things: { ...things, demo: () => [{ owner: "admin", name: "a" }] } },
        }),
      ]),
    /module "shop", resource things: demo rows need a unique key/,
  );
  assert.throws(
    () =>
      resolveRegistry([
        defineModule({
          key: "shop",
          licensing: "rbac_only",
          resources: { things: { ...things, volume: (i) => ({ name: `Thing ${i}` }) } },
        }),
      ]),
    /module "shop", resource things: volume rows need a unique key \(unique\) or a volumeKey/,
  );
  // A required reference that a delete would set to null: refused (the delete would fail on NOT NULL, a
  // misleading 422 even for the admin); "cascade" and "restrict" resolve.
  for (
    const [field, ok] of [
      [ref("shop_things").notNull(), false],
      [user().notNull(), false],
      [ref("shop_things", "restrict").notNull(), true],
      [ref("shop_things", "cascade").notNull(), true],
      [user("restrict").notNull(), true],
      [ref("shop_things"), true],
    ] as const
  ) {
    const mod = defineModule({
      key: "shop",
      licensing: "rbac_only",
      resources: { things: { ...things, fields: { name: text(), partId: field } } },
    });
    if (ok) resolveRegistry([mod]);
    else {
      assert.throws(
        () => resolveRegistry([mod]),
        /module "shop", resource things: part_id is required \(notNull\) but would be set to null/,
      );
    }
  }
  const keyed = (volumeKey: string) =>
    resolveRegistry([
      defineModule({
        key: "shop",
        licensing: "rbac_only",
        resources: { things: { ...things, volume: (i) => ({ name: `Thing ${i}` }), volumeKey } },
      }),
    ]);
  assert.equal(keyed("name")[0].resources[0].volumeKey, "name", "no unique key: found again by volumeKey");
  assert.throws(() => keyed("nope"), /volumeKey nope is no text field/);
  assert.throws(
    () => resolveRegistry([defineModule({ key: "x", licensing: { tiers: [] } })]),
    /module "x": a licensed module needs at least one tier or trial/,
  );
  assert.throws(
    () => resolveRegistry([defineModule({ key: "x", licensing: "rbac_only", colonActions: ["fly"] })]),
    /module "x": colon action "fly" is not one of its actions/,
  );
  fc.assert(
    fc.property(fc.string().filter((s) => !/^[a-z][a-z0-9]*$/.test(s)), (bad) => {
      assert.throws(() => resolveRegistry([ok(bad)]), /a key is one lower-case word/);
    }),
  );
});

/**
 * Files that may name modules or tables by hand, and why. The registry itself and the migrations (SQL); the
 * backup bench's fixture (hand-written SQL at 1M rows, with the bench's own figures: benches own it); and seed
 * 000's demo organizations and users, which enable and are assigned modules by name (content: which modules
 * Test Corp turned on) — but name no table: their records come from the modules' own `demo` rows.
 */
const ALLOWED: { path: RegExp; may: "modules" | "both" }[] = [
  { path: /^modules\//, may: "both" },
  { path: /^migrations\//, may: "both" },
  { path: /^bench\/backup_fill\.ts$/, may: "both" },
  { path: /^seeders\/demo_data\.ts$/, may: "modules" },
];

async function* sourceFiles(dir: string, rel = ""): AsyncGenerator<string> {
  for await (const e of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) {
      if (["node_modules", ".data", ".git", "tests", "docs"].includes(e.name)) continue;
      yield* sourceFiles(dir, path);
    } else if (path.endsWith(".ts")) yield path;
  }
}

/** Paths of the TypeScript sources the hand-list check reads (tests and docs are not the product). */
async function sourcePaths(): Promise<string[]> {
  const out: string[] = [];
  for await (const path of sourceFiles(ROOT)) out.push(path);
  return out.sort();
}

interface Named {
  path: string;
  may?: "modules" | "both";
  tables: Set<string>;
  modules: Set<string>;
}

/** The tables and module keys each file names in code. */
function namedIn(
  files: { path: string; parts: SourceParts }[],
  tables: readonly string[],
  modules: readonly string[],
) {
  return files.map(({ path, parts }): Named => ({
    path,
    may: ALLOWED.find((a) => a.path.test(path))?.may,
    tables: tablesInCode(parts, tables),
    modules: modulesInCode(parts, modules),
  }));
}

/** `path: tables …` / `path: modules …` for every file naming three or more of them in code. */
function offenders(named: Named[]): string[] {
  const out: string[] = [];
  for (const { path, may, tables, modules } of named) {
    if (may === "both") continue;
    // One or two names are examples; a list is three or more.
    if (tables.size >= 3) out.push(`${path}: tables ${[...tables].join(", ")}`);
    if (modules.size >= 3 && may !== "modules") out.push(`${path}: modules ${[...modules].join(", ")}`);
  }
  return out;
}

const handLists = (
  files: { path: string; parts: SourceParts }[],
  tables: readonly string[],
  modules: readonly string[],
) => offenders(namedIn(files, tables, modules));

const REGISTRY_TABLES = REGISTRY_RESOURCES.flatMap((r) => [r.table, r.key]);

Deno.test("registry: no file outside modules/ lists module tables or module keys by hand", async () => {
  const files = await Promise.all(
    (await sourcePaths()).map(async (path) => ({
      path,
      parts: splitSource(await Deno.readTextFile(`${ROOT}${path}`)),
    })),
  );
  assert.deepEqual(
    handLists(files, REGISTRY_TABLES, LICENSED_MODULES),
    [],
    "derive these from src/modules/registry.ts instead",
  );
});

Deno.test("registry: a user's new module, whatever its name, never makes the hand-list check fail", async () => {
  // docs/modules.md's example (`deno task new module bookings`) once did: the generator's help text says
  // `e.g. "bookings"` and `ref:restaurants`, and a comment names seeders/menus.ts.
  const files = await Promise.all(
    (await sourcePaths()).map(async (path) => ({
      path,
      parts: splitSource(await Deno.readTextFile(`${ROOT}${path}`)),
    })),
  );
  const base = namedIn(files, REGISTRY_TABLES, LICENSED_MODULES);
  const withModule = (name: string) =>
    offenders(
      namedIn(files, [name], [name]).map((n, i) => ({
        ...n,
        tables: new Set([...base[i].tables, ...n.tables]),
        modules: new Set([...base[i].modules, ...n.modules]),
      })),
    );
  assert.deepEqual(withModule("bookings"), []);
  fc.assert(
    fc.property(
      fc.stringMatching(/^[a-z][a-z0-9]{2,15}$/).filter((n) => !REGISTRY_TABLES.includes(n)),
      (name) => assert.deepEqual(withModule(name), [], name),
    ),
    { numRuns: 100 },
  );
  // Words the product's prose uses a lot, as module names.
  for (const name of ["items", "records", "orders", "notes", "tasks", "events", "users", "files", "books"]) {
    assert.deepEqual(withModule(name), [], name);
  }
});

Deno.test("registry: the hand-list check sees lists in code, not names in prose", () => {
  const tables = ["crm_leads", "crmLeads", "restaurants", "menus", "bookings"];
  const modules = ["crm", "sales", "inventory", "bookings"];
  const check = (src: string) => handLists([{ path: "src/x.ts", parts: splitSource(src) }], tables, modules);
  // Lists in code.
  assert.deepEqual(check(`export const M = ["crm", "sales", 'inventory'];`), [
    "src/x.ts: modules crm, sales, inventory",
  ]);
  assert.deepEqual(check("const f = { CRM: true, SALES: true, INVENTORY: false };"), [
    "src/x.ts: modules crm, sales, inventory",
  ]);
  assert.deepEqual(check("for (const x of [t.crmLeads, t.restaurants, db.t.menus]) wipe(x);"), [
    "src/x.ts: tables crmLeads, restaurants, menus",
  ]);
  assert.deepEqual(
    check(
      'await run("DELETE FROM crm_leads"); await run(`DELETE FROM "menus"`);\nrun(`SELECT 1 FROM bookings`)',
    ),
    [
      "src/x.ts: tables crm_leads, menus, bookings",
    ],
  );
  // Names in prose: comments, help texts, messages, generated code in templates, regular expressions.
  assert.deepEqual(
    check(`/** restaurants, menus and bookings: CRM, SALES, INVENTORY */
// "crm", "sales", "inventory"
const usage = "e.g. restaurant_id:ref:restaurants, see seeders/menus.ts";
throw new Error(\`the name is one word, e.g. "bookings" — \${n} (bookings.read), "crm", "sales", "inventory"\`);
const code = \`await ctx.getOrCreate(ctx.t.\${name}, {})\n// t.restaurants t.menus t.bookings\`;
const re = /"crm"|"sales"|"inventory"|t\.menus/;
const page = { items: [] }; const bookings = page.items; const menus = 2, restaurants = 3;`),
    [],
  );
  // Template expressions are code.
  assert.deepEqual(check("const s = `${t.crmLeads} ${t.restaurants} ${t.menus}`;"), [
    "src/x.ts: tables crmLeads, restaurants, menus",
  ]);
});
