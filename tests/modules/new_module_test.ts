/**
 * `deno task new module …` and `new seeder` on a copy of the working tree, as docs/modules.md tells a user:
 * the written files pass `deno fmt --check` and `deno lint` and type-check, drizzle-kit generates the tables for
 * both dialects, the generated tests pass, and so do the project's own registry, owner, seeders, restaurants
 * and volume tests with the user's module and seeders in place. Bad arguments are refused naming what was wrong.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkReferences,
  parseField,
  parseModuleArgs,
  renderModule,
  renderModuleSeeder,
  renderModuleTest,
  renderSeeder,
  runNew,
  seedersOf,
  singular,
} from "../../src/cli/new_command.ts";
import { UsageError } from "../../src/cli/context.ts";
import { REGISTRY_RESOURCES } from "../../src/modules/registry.ts";
import { splitSource } from "../helpers/hand_lists.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("new module: field arguments are parsed or refused with the reason", () => {
  assert.deepEqual(parseField("address:text?"), {
    prop: "address",
    column: "address",
    type: "text",
    optional: true,
  });
  assert.equal(parseField("opening_hours:json").prop, "openingHours");
  assert.deepEqual(parseField("status:enum:open,closed").values, ["open", "closed"]);
  assert.equal(parseField("restaurant_id:ref:restaurants").references, "restaurants");
  assert.throws(() => parseField("Name:text"), /snake_case/);
  assert.throws(() => parseField("name:string"), /type must be one of text, integer/);
  assert.throws(() => parseField("owner_id:user"), /already has/);
  assert.throws(() => parseField("status:enum"), /lists its values/);
  assert.throws(() => parseField("x:ref"), /names the table/);
  assert.throws(() => parseModuleArgs(["Books"]), /one lower-case word/);
  assert.throws(() => parseModuleArgs(["books"]), /at least one --field/);
  assert.throws(() => parseModuleArgs(["books", "--field", "a:text", "--field", "a:text"]), /given twice/);
  assert.throws(() => parseModuleArgs(["books", "--field", "a:text", "--tiers", "gold"]), /--tiers/);
  fc.assert(
    fc.property(fc.string(), (name) => {
      try {
        const s = parseModuleArgs([name, "--field", "title:text"]);
        assert.match(s.name, /^[a-z][a-z0-9]*$/);
      } catch (e) {
        assert.ok(e instanceof UsageError);
      }
    }),
  );
});

Deno.test("new module: singular names come from pluralize (dishes → dish, not dishe)", () => {
  const table: [string, string][] = [
    ["categories", "category"],
    ["boxes", "box"],
    ["statuses", "status"],
    ["people", "person"],
    ["dishes", "dish"],
    ["menus", "menu"],
    ["restaurants", "restaurant"],
    ["leads", "lead"],
    ["addresses", "address"],
    // Names that read singular already stay as they are.
    ["status", "status"],
    ["booking", "booking"],
    ["staff", "staff"],
    ["crm", "crm"],
    ["s", "s"],
  ];
  for (const [name, one] of table) assert.equal(singular(name), one, name);
  // What the user reported: `new module dishes` names a dish everywhere (type, noun, OpenAPI, AuthZEN).
  const dishes = renderModule(parseModuleArgs(["dishes", "--field", "name:text"]));
  assert.match(dishes, /type: "dish",/);
  assert.match(dishes, /noun: "dish",/);
  assert.match(dishes, /schemaName: "Dish",/);
  assert.doesNotMatch(dishes, /dishe\b|Dishe\b/);
  // A singular name keeps the `_record` / `Record` forms, so the type and schema never equal the collection.
  const booking = renderModule(parseModuleArgs(["booking", "--field", "name:text"]));
  assert.match(booking, /type: "booking_record",[\s\S]*noun: "booking",[\s\S]*schemaName: "BookingRecord",/);
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,20}$/), (name) => {
      const one = singular(name);
      assert.match(one, /^[a-z][a-z0-9]*$/, `${name} → ${one}`);
      assert.equal(singular(one), one, `${name} → ${one}: singular of a singular is itself`);
      const src = renderModule(parseModuleArgs([name, "--field", "name:text"]));
      assert.match(src, /type: "[a-z][a-z0-9_]*",/);
      assert.match(src, /schemaName: "[A-Z][A-Za-z0-9]*",/);
    }),
  );
});

Deno.test("new module: a required reference gets demo rows that point at the organization's records, after their seeder", () => {
  // The user's report: `new module dishes --field name:text --field price:money --field menu_id:ref:menus`.
  const spec = parseModuleArgs([
    "dishes",
    "--field",
    "name:text",
    "--field",
    "price:money",
    "--field",
    "menu_id:ref:menus",
    "--field",
    "chef:user",
    "--field",
    "shop_id:ref:restaurants?",
  ]);
  const code = renderModuleSeeder(spec);
  assert.doesNotMatch(code, /TODO/, "no stub");
  assert.match(code, /dependsOn: \["DemoUsersSeeder", "MenusSeeder"\]/, "after the seeder that writes menus");
  // The menus of the same organization, the first two by id; none there: no row, and a warning says so.
  assert.match(code, /from\(t\.menus\)\s*\.where\(eq\(t\.menus\.organizationId, organizationId\)\)/);
  assert.match(
    code,
    /if \(!menuIds\.length\) \{\s*ctx\.logger\.warn\("demo_rows_skipped"[\s\S]*?continue;\s*\}/,
  );
  assert.match(code, /ctx\.getOrCreate\(t\.dishes, \{ organizationId, name: `Name \$\{n\}` \}, \{/);
  assert.match(code, /menuId: menuIds\[\(n - 1\) % menuIds\.length\],/);
  assert.match(code, /chef: ownerId,/, "a user field: the organization's admin");
  assert.doesNotMatch(code, /shopId/, "an optional reference stays empty");
  // The seeders of a table: its module's, and DemoModuleDataSeeder for a module that declares demo rows.
  assert.deepEqual(seedersOf("menus"), ["MenusSeeder"]);
  assert.deepEqual(seedersOf("restaurants"), ["RestaurantsSeeder"]);
  assert.deepEqual(seedersOf("crm_leads"), ["DemoModuleDataSeeder"]);
  assert.deepEqual(seedersOf("dishes"), [], "the module's own table");
  const leads = renderModuleSeeder(
    parseModuleArgs(["calls", "--field", "topic:text", "--field", "lead_id:ref:crm_leads"]),
  );
  assert.match(leads, /dependsOn: \["DemoUsersSeeder", "DemoModuleDataSeeder"\]/);
  assert.match(leads, /const crmLeadIds = \(await tx\.select\(\{ id: t\.crmLeads\.id \}\)/);
  // No required reference: the same seeder without the look-ups.
  const plain = renderModuleSeeder(parseModuleArgs(["notes", "--field", "body:text"]));
  assert.match(plain, /dependsOn: \["DemoUsersSeeder"\]/);
  assert.doesNotMatch(plain, /drizzle-orm|logger/);
});

Deno.test("new module: the generated test fails when the seeder wrote no row for a demo organization", () => {
  for (
    const args of [
      ["dishes", "--field", "name:text", "--field", "menu_id:ref:menus"],
      ["notes", "--field", "body:text", "--owner", "author_id"],
    ]
  ) {
    const test = renderModuleTest(parseModuleArgs(args));
    assert.match(test, /for \(const \{ slug \} of DEMO_ORGS\) \{/);
    assert.match(test, /assert\.ok\(rows\.length > 0, `the seeder wrote [a-z]+ for \$\{slug\}`\);/);
    assert.match(test, /assert\.ok\(page\.total > 0/);
    assert.match(test, /record scope — an own-scope reader sees only the records he owns/);
  }
});

Deno.test("new module: --scale rows draw references from tables --scale fills; none when a required one cannot", () => {
  const volume = (...fields: string[]) => {
    const src = renderModule(
      parseModuleArgs([
        "tables",
        "--field",
        "label:text",
        ...fields.flatMap((f) => ["--field", f]),
        "--unique",
        "label",
      ]),
    );
    return src.includes("volume:") ? src.slice(src.indexOf("volume:")) : null;
  };
  // restaurants and menus have volume factories: a required reference is drawn, an optional one when any exist.
  const v = volume("restaurant_id:ref:restaurants", "menu_id:ref:menus?")!;
  assert.match(v, /\{ r, refs \}/);
  assert.match(v, /restaurantId: r\.pick\(refs\("restaurants"\)\)/);
  assert.match(v, /menuId: refs\("menus"\)\.length \? r\.pick\(refs\("menus"\)\) : null/);
  // A table --scale does not fill: left out when optional; no factory at all when required.
  assert.doesNotMatch(volume("x_id:ref:not_filled?")!, /xId/);
  assert.equal(volume("x_id:ref:not_filled"), null);
});

Deno.test("new module: a ref to a table that is no module table is refused (exit 2), and nothing is written", async () => {
  // A scratch repository holding what `new module` reads and writes.
  const dir = await Deno.makeTempDir({ prefix: "seedbed-new-ref-" });
  try {
    for (const d of ["modules", "seeders", "tests/modules"]) {
      await Deno.mkdir(`${dir}/${d}`, { recursive: true });
    }
    for (const f of ["modules/mod.ts", "seeders/mod.ts"]) await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`);
    const before = async () =>
      [...Deno.readDirSync(`${dir}/modules`), ...Deno.readDirSync(`${dir}/seeders`)].length +
      await Deno.readTextFile(`${dir}/modules/mod.ts`) + await Deno.readTextFile(`${dir}/seeders/mod.ts`);
    const untouched = await before();
    const r = await run(
      [
        "run",
        "-A",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}src/cli.ts`,
        "new",
        "module",
        "payments",
        "--field",
        "customer_id:ref:customers",
      ],
      dir,
    );
    assert.equal(r.code, 2, r.text);
    assert.match(
      r.text,
      /customer_id:ref:customers: no module table is named customers\. Known tables: crm_leads, /,
    );
    assert.match(r.text, /\brestaurants\b.*\(and payments itself\)/);
    assert.doesNotMatch(r.text, /\n\s+at /, "no stack trace");
    assert.equal(await before(), untouched, "no file written, no registry changed");
    assert.deepEqual([...Deno.readDirSync(`${dir}/tests/modules`)], []);
    await assert.rejects(
      runNew(["module", "payments", "--field", "payer_id:ref:users"], dir, () => {}),
      (e) =>
        e instanceof UsageError &&
        /a user of the organization is a user field: --field payer_id:user/.test(e.message),
    );
    assert.equal(await before(), untouched);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A registry table, and the module's own table (a tree of tasks), are fine.
  const tables = REGISTRY_RESOURCES.map((r) => r.table);
  checkReferences(
    parseModuleArgs(["tasks", "--field", "title:text", "--field", "shop_id:ref:restaurants"]),
    tables,
  );
  checkReferences(
    parseModuleArgs(["tasks", "--field", "title:text", "--field", "parent_id:ref:tasks?"]),
    tables,
  );
  // A required reference to the module's own table could never be filled for its first record.
  assert.throws(
    () => checkReferences(parseModuleArgs(["tasks", "--field", "parent_id:ref:tasks"]), tables),
    (e) => e instanceof UsageError && /make it optional: --field parent_id:ref:tasks\?/.test(e.message),
  );
});

Deno.test("new module: a required reference is generated restrict (never set to null), an optional one set null", () => {
  const src = renderModule(
    parseModuleArgs([
      "tables",
      "--field",
      "label:text",
      "--field",
      "menu_id:ref:menus",
      "--field",
      "shop_id:ref:restaurants?",
      "--field",
      "checker:user",
      "--field",
      "editor:user?",
    ]),
  );
  assert.match(src, /menuId: ref\("menus", "restrict"\)\.index\(\)\.notNull\(\)/);
  assert.match(src, /shopId: ref\("restaurants"\)\.index\(\),/);
  assert.match(src, /checker: user\("restrict"\)\.notNull\(\)/);
  assert.match(src, /editor: user\(\),/);
});

/** docs/modules.md's `deno task new module bookings …`, as a user copies it (without the module name). */
async function docsExample(): Promise<string[]> {
  const doc = await Deno.readTextFile(`${ROOT}docs/modules.md`);
  const cmd = doc.match(/deno task new module bookings((?:[^\n]*\\\n)*[^\n]*)/);
  assert.ok(cmd, "docs/modules.md shows `deno task new module bookings …`");
  return cmd[1].replace(/\\\n/g, " ").trim().split(/\s+/);
}

Deno.test("new module: no unique key unless --unique asks for one (a second booking for Ada is no conflict)", async () => {
  const args = await docsExample();
  const code = (src: string) => splitSource(src).code;
  const plain = renderModule(parseModuleArgs(["bookings", ...args]));
  assert.doesNotMatch(code(plain), /\bunique\s*:/, "no unique key");
  // --scale rows all the same: a re-run finds them by the first required text field, which carries VOL-.
  assert.match(plain, /guestName: `Guest name VOL-\$\{serial\(i\)\}`/);
  assert.match(plain, /volumeKey: "guestName",/);
  const one = renderModule(parseModuleArgs(["bookings", ...args, "--unique", "guest_name"]));
  assert.match(one, /unique: \[\{ columns: \["guestName"\] \}\],/);
  assert.match(one, /guestName: `Guest name VOL-\$\{serial\(i\)\}`/, "volume keys carry VOL- and i");
  const two = renderModule(
    parseModuleArgs(["bookings", ...args, "--unique", "guest_name,starts_at", "--unique=notes"]),
  );
  assert.match(two, /unique: \[\{ columns: \["guestName", "startsAt"\] \}, \{ columns: \["notes"\] \}\],/);
  assert.throws(
    () => parseModuleArgs(["bookings", ...args, "--unique", "guest"]),
    /guest is not one of the fields/,
  );
  assert.throws(
    () => parseModuleArgs(["bookings", ...args, "--unique", "party_size"]),
    /include a text field/,
  );
  assert.throws(
    () => parseModuleArgs(["bookings", ...args, "--unique", "guest_name,guest_name"]),
    /name each field once/,
  );
  assert.throws(() => parseModuleArgs(["bookings", ...args, "--unique"]), /--unique: a value is required/);
});

Deno.test("new module: demo rows read like data (`Guest name 1`), not placeholders", async () => {
  const spec = parseModuleArgs(["bookings", ...(await docsExample())]);
  const seeder = renderModuleSeeder(spec);
  assert.match(seeder, /guestName: `Guest name \$\{n\}`/);
  assert.match(seeder, /notes: `Notes \$\{n\}`/);
  for (
    const src of [
      seeder,
      renderModule(parseModuleArgs(["bookings", ...(await docsExample()), "--unique", "guest_name"])),
    ]
  ) {
    assert.doesNotMatch(src, /GUEST_NAME|NOTES|Demo [A-Z_]+-/);
  }
});

Deno.test("new seeder: a fresh seeder writes nothing (deno task dev runs it at once), whatever its name", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,24}$/), (base) => {
      const src = renderSeeder(`${base}Seeder`);
      const { code } = splitSource(src);
      assert.doesNotMatch(
        code,
        /ctx\s*\.\s*(getOrCreate|upsert|upsertMany|bulkInsert|remove|tx|passwordHash)\b/,
      );
      assert.match(code, /seed\(ctx\)\s*\{\s*return Promise\.resolve\(ctx\.stats\);\s*\}/);
      assert.match(src, /TODO/);
      assert.match(src, /\/\/ +await ctx\.getOrCreate\(/, "an example to follow, in a comment");
    }),
  );
});

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: cmd,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, code: out.code, text };
}

/** A copy of the working tree as the user has it: tracked files and new ones (a module of their own too). */
async function copyWorkingTree(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-new-module-" });
  const files = new TextDecoder().decode(
    (await new Deno.Command("git", {
      args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      cwd: ROOT,
      stdout: "piped",
    }).output()).stdout,
  ).split("\0").filter(Boolean);
  for (const f of files) {
    await Deno.mkdir(`${dir}/${f.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`).catch(() => {}); // deleted, not yet committed
  }
  await Deno.symlink(`${ROOT}node_modules`, `${dir}/node_modules`);
  return dir;
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** `base`, or `base2`, `base3`, … : a module name no module, table or file of the copy uses yet. */
async function freeModule(dir: string, base: string): Promise<string> {
  const tables = new Set(REGISTRY_RESOURCES.flatMap((r) => [r.table, r.key, r.module]));
  const mod = await Deno.readTextFile(`${dir}/modules/mod.ts`);
  for (let n = 1;; n++) {
    const name = n === 1 ? base : `${base}${n}`;
    const taken = tables.has(name) || mod.includes(`"./${name}.ts"`) ||
      (await Promise.all([
        exists(`${dir}/modules/${name}.ts`),
        exists(`${dir}/seeders/${name}.ts`),
        exists(`${dir}/tests/modules/${name}_test.ts`),
      ])).some(Boolean);
    if (!taken) return name;
  }
}

/** `<Base>Seeder`, or `<Base>2Seeder`, …: a seeder whose file (seeders/<base>.ts) does not exist yet. */
async function freeSeeder(
  dir: string,
  base: string,
): Promise<{ name: string; file: string; variable: string }> {
  for (let n = 1;; n++) {
    const b = n === 1 ? base : `${base}${n}`;
    const file = b.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`).replace(/^_/, "");
    const variable = `${b[0].toLowerCase()}${b.slice(1)}Seeder`;
    const mod = await Deno.readTextFile(`${dir}/seeders/mod.ts`);
    if (
      !(await exists(`${dir}/seeders/${file}.ts`)) && !mod.includes(`${b}Seeder`) && !mod.includes(variable)
    ) {
      return { name: `${b}Seeder`, file, variable };
    }
  }
}

Deno.test({
  name:
    "new module + new seeder, as docs/modules.md says: clean files, tables on both dialects, and every test passes — the generated ones and the project's own",
  async fn() {
    const dir = await copyWorkingTree();
    try {
      // The names are free in this copy whatever the user already has (docs/modules.md's own example,
      // `bookings`, is the first module a newcomer makes).
      const books = await freeModule(dir, "books");
      const bookings = await freeModule(dir, "bookings");
      const lines: string[] = [];
      await runNew(
        [
          "module",
          books,
          "--field",
          "title:text",
          "--field",
          "pages:integer?",
          "--field",
          "price_cents:money",
          "--field",
          "status:enum:draft,published",
          "--field",
          "published_at:timestamp?",
          "--field",
          "tags:json?",
          "--field",
          "in_print:boolean",
          "--field",
          "editor:user?",
          "--field",
          "shop_id:ref:restaurants?",
          "--owner",
          "author_id",
          "--unique",
          "title",
        ],
        dir,
        (l) => lines.push(l),
      );
      assert.match(lines.join("\n"), /deno task db:generate[\s\S]*deno task migrate/);
      assert.doesNotMatch(lines.join("\n"), /deno fmt did not run/);
      await assert.rejects(runNew(["module", books, "--field", "title:text"], dir, () => {}), /already/);
      // docs/modules.md's example, as written there (no --unique).
      await runNew(["module", bookings, ...(await docsExample())], dir, () => {});
      // Two stand-alone seeders join the master order: one left as generated (it must write nothing), one
      // filled in like seed 002's "Creating Custom Seeders" (one more restaurant per demo organization).
      const welcome = await freeSeeder(dir, "Welcome");
      const extra = await freeSeeder(dir, "ExtraRestaurants");
      await runNew(["seeder", welcome.name], dir, () => {});
      await runNew(["seeder", extra.name], dir, () => {});
      assert.match(
        await Deno.readTextFile(`${dir}/seeders/mod.ts`),
        new RegExp(
          `${books}Seeder,\\n {2}${bookings}Seeder,\\n {2}${welcome.variable},\\n {2}${extra.variable},\\n {2}volumeSeeder,\\n\\];`,
        ),
      );
      await assert.rejects(runNew(["seeder", "welcome"], dir, () => {}), /PascalCase name ending in Seeder/);
      // A module two levels below restaurants (dishes → menus → restaurants, each ON DELETE CASCADE): a delete
      // must follow the chain (the security review's case), tested in the e2e file below.
      const dishes = await freeModule(dir, "dishes");
      await runNew(
        [
          "module",
          dishes,
          "--field",
          "title:text",
          "--field",
          "menu_id:ref:menus",
          "--field",
          `parent_id:ref:${dishes}?`,
        ],
        dir,
        () => {},
      );
      // And one beside them as generated: a required reference to menus, so "restrict" (the 409 must say so).
      const reviews = await freeModule(dir, "reviews");
      await runNew(
        ["module", reviews, "--field", "menu_id:ref:menus", "--field", "stars:integer"],
        dir,
        () => {},
      );
      const dishesFile = `${dir}/modules/${dishes}.ts`;
      const dishesSrc = await Deno.readTextFile(dishesFile);
      // A required reference is generated "restrict" (a required column cannot be nulled); made a cascade here.
      assert.match(dishesSrc, /ref\("menus", "restrict"\)/);
      await Deno.writeTextFile(
        dishesFile,
        dishesSrc.replace('ref("menus", "restrict")', 'ref("menus", "cascade")')
          .replace(`ref("${dishes}").index()`, `ref("${dishes}", "cascade").index()`), // and a tree of dishes
      );

      // What the generator wrote passes the repository's own checks (`deno task ok`, CI) as it stands.
      const written = [
        `modules/${books}.ts`,
        `modules/${bookings}.ts`,
        "modules/mod.ts",
        `modules/${dishes}.ts`,
        `modules/${reviews}.ts`,
        `seeders/${books}.ts`,
        `seeders/${bookings}.ts`,
        `seeders/${dishes}.ts`,
        `seeders/${reviews}.ts`,
        `seeders/${welcome.file}.ts`,
        `seeders/${extra.file}.ts`,
        "seeders/mod.ts",
        `tests/modules/${books}_test.ts`,
        `tests/modules/${bookings}_test.ts`,
        `tests/modules/${dishes}_test.ts`,
        `tests/modules/${reviews}_test.ts`,
      ];
      const fmt = await run(["fmt", "--check", ...written], dir);
      assert.ok(fmt.ok, `generated files are formatted:\n${fmt.text}`);
      const lint = await run(["lint", ...written], dir);
      assert.ok(lint.ok, `generated files pass lint:\n${lint.text}`);

      await Deno.writeTextFile(
        `${dir}/seeders/${extra.file}.ts`,
        `import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { demoAdmins } from "./demo_owners.ts";

export const ${extra.variable} = defineSeeder({
  name: "${extra.name}",
  module: "restaurants",
  description: "One more demo restaurant per demo organization",
  dependsOn: ["RestaurantsSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    for (const [organizationId, ownerId] of await demoAdmins(ctx)) {
      await ctx.getOrCreate(ctx.t.restaurants, { organizationId, name: "Burger Barn" }, { ownerId });
    }
    return ctx.stats;
  },
});
`,
      );

      assert.match(await Deno.readTextFile(`${dir}/modules/${books}.ts`), /owner: "authorId"/);
      // The user's next command, as printed: `deno task db:generate --name add_<module>`.
      const g = await run(["task", "db:generate", "--name", `add_${books}`], dir);
      assert.ok(g.ok, g.text);
      for (const dialect of ["sqlite", "postgres"]) {
        const sqlFile = [...Deno.readDirSync(`${dir}/migrations/${dialect}`)].find((e) =>
          e.name.endsWith(`_add_${books}.sql`)
        );
        assert.ok(sqlFile, `a ${dialect} migration`);
        const sql = await Deno.readTextFile(`${dir}/migrations/${dialect}/${sqlFile.name}`);
        assert.match(sql, new RegExp(`CREATE TABLE [\`"]${books}[\`"]`));
        assert.match(sql, new RegExp(`${books}_org_title_uq`), "--unique title");
        assert.match(sql, /[`"]author_id[`"] integer NOT NULL/, "the declared owner column");
        assert.match(sql, new RegExp(`CREATE TABLE [\`"]${bookings}[\`"]`));
        assert.doesNotMatch(sql, new RegExp(`${bookings}_org_[a-z_]*_uq`), "no unique key unless asked");
        const down = await Deno.readTextFile(
          `${dir}/migrations/${dialect}/${sqlFile.name.replace(/\.sql$/, ".down.sql")}`,
        );
        assert.match(down, new RegExp(`DROP TABLE [\`"]?${books}[\`"]?`), `${dialect}: the down migration`);
      }
      // `alembic revision -m`: an empty pair for custom SQL, numbered after it, the same name on both dialects.
      const n = await run(["task", "db:new", "--name", `backfill_${books}`], dir);
      assert.ok(n.ok, n.text);
      for (const dialect of ["sqlite", "postgres"]) {
        const names = [...Deno.readDirSync(`${dir}/migrations/${dialect}`)].map((e) => e.name);
        const up = names.find((f) => new RegExp(`^\\d{4}_backfill_${books}\\.sql$`).test(f));
        assert.ok(up && names.includes(up.replace(/\.sql$/, ".down.sql")), `${dialect}: an up/down pair`);
        const add = names.find((f) => f.endsWith(`_add_${books}.sql`))!;
        assert.equal(
          Number(up.slice(0, 4)),
          Number(add.slice(0, 4)) + 1,
          `${dialect}: numbered after add_${books}`,
        );
      }
      const c = await run(["task", "db:check"], dir);
      assert.ok(c.ok, c.text);

      // What the user does next: POST the docs' booking for Ada twice, and a book with the same title twice.
      await Deno.writeTextFile(
        `${dir}/tests/modules/${books}_${bookings}_e2e_test.ts`,
        `import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { eq } from "drizzle-orm";
import { bearer, createRole, createUser, login } from "../helpers/fixtures.ts";
import { service } from "../seeding/helpers.ts";
import { DEMO_PASSWORD } from "../../seeders/demo_data.ts";

dbTest("e2e: a delete never cascades two levels down into records the caller may not delete", async (db) => {
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  const { app } = await testApp(db);
  const [tc] = await db.db.select().from(db.t.organizations).where(eq(db.t.organizations.slug, "test-corp"));
  const chef = await createRole(db, {
    name: "chef",
    organizationId: tc.id,
    permissions: ["restaurants.*", "menus.*", "${dishes}.*"],
    recordScope: "own",
  });
  for (const email of ["chef1@testcorp.test", "chef2@testcorp.test"]) {
    await createUser(db, { email, role: "chef", roleId: chef.id, organizationId: tc.id });
  }
  // The generated seeder wrote demo ${dishes} under each demo organization's menus.
  const seeded = (await db.db.select().from(db.t.${dishes})).length;
  assert.ok(seeded >= 2 * 2, "two demo ${dishes} per demo organization");
  const chef1 = await login(app, "chef1@testcorp.test");
  const chef2 = await login(app, "chef2@testcorp.test");
  const req = (token: string, method: string, path: string, body?: unknown) =>
    app.request(path, {
      method,
      headers: { ...bearer(token), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const r = await json<{ id: number }>(await req(chef1, "POST", "/api/v1/restaurants", { name: "Chef1 Place" }));
  const m = await json<{ id: number }>(await req(chef1, "POST", "/api/v1/menus", { restaurant_id: r.id, name: "Lunch" }));
  const dish = await req(chef2, "POST", "/api/v1/${dishes}", { menu_id: m.id, title: "Soup" });
  assert.equal(dish.status, 201, await dish.clone().text());
  assert.equal((await req(chef1, "DELETE", \`/api/v1/menus/\${m.id}\`)).status, 409);
  assert.equal((await req(chef1, "DELETE", \`/api/v1/restaurants/\${r.id}\`)).status, 409, "nor through the menus");
  const count = async () => (await db.db.select().from(db.t.${dishes})).length;
  assert.equal(await count(), seeded + 1, "chef2's dish is still there");
  // The admin may delete everything below: the cascade goes through.
  const admin = await login(app, "admin@testcorp.com", DEMO_PASSWORD);
  assert.equal((await req(admin, "DELETE", \`/api/v1/restaurants/\${r.id}\`)).status, 204);
  assert.equal(await count(), seeded);
  // Chef 2 adds a dish under chef 1's menu while chef 1 deletes the restaurant: never both (a lost dish).
  for (let i = 0; i < 25; i++) {
    const r2 = await json<{ id: number }>(await req(chef1, "POST", "/api/v1/restaurants", { name: \`Race \${i}\` }));
    const m2 = await json<{ id: number }>(
      await req(chef1, "POST", "/api/v1/menus", { restaurant_id: r2.id, name: "Lunch" }),
    );
    const [post, del] = await Promise.all([
      req(chef2, "POST", "/api/v1/${dishes}", { menu_id: m2.id, title: "Soup" }),
      req(chef1, "DELETE", \`/api/v1/restaurants/\${r2.id}\`),
    ]);
    await post.body?.cancel();
    await del.body?.cancel();
    assert.ok(!(post.status === 201 && del.status === 204), \`run \${i}: chef 2's dish went with the restaurant\`);
  }
  // A tree of dishes (parent_id, cascade): the admin deletes a dish with its sub-dishes.
  const r3 = await json<{ id: number }>(await req(admin, "POST", "/api/v1/restaurants", { name: "Tree Place" }));
  const m3 = await json<{ id: number }>(await req(admin, "POST", "/api/v1/menus", { restaurant_id: r3.id, name: "Tree" }));
  const top = await json<{ id: number }>(await req(admin, "POST", "/api/v1/${dishes}", { menu_id: m3.id, title: "Top" }));
  const mid = await json<{ id: number }>(
    await req(admin, "POST", "/api/v1/${dishes}", { menu_id: m3.id, title: "Mid", parent_id: top.id }),
  );
  await req(admin, "POST", "/api/v1/${dishes}", { menu_id: m3.id, title: "Leaf", parent_id: mid.id });
  const before = await count();
  assert.equal((await req(admin, "DELETE", \`/api/v1/${dishes}/\${top.id}\`)).status, 204);
  assert.equal(await count(), before - 3, "the dish and its sub-dishes");
  // A required reference blocks whoever deletes, the admin too: the 409 says it is required, not forbidden.
  const review = await req(admin, "POST", "/api/v1/${reviews}", { menu_id: m3.id, stars: 5 });
  assert.equal(review.status, 201, await review.clone().text());
  for (const path of [\`/api/v1/menus/\${m3.id}\`, \`/api/v1/restaurants/\${r3.id}\`]) {
    const res = await req(admin, "DELETE", path);
    const body = await json<{ detail: string }>(res);
    assert.equal(res.status, 409, path);
    assert.match(
      body.detail,
      /is held by ${reviews} records with a required reference to it or to records deleted with it: delete/,
      path,
    );
    assert.doesNotMatch(body.detail, /you may not/, path);
  }
});

dbTest("e2e: a fresh seeder writes nothing; --unique is a 409, no --unique is none", async (db) => {
  const smsBefore = (await db.db.select().from(db.t.smsTemplates)).length;
  const run = await service(db).execute({ triggeredBy: "t", createBackup: false, only: ["${welcome.name}"] });
  assert.deepEqual(run.results.seeders["${welcome.name}"], { status: "completed", created: 0, updated: 0, deleted: 0 });
  assert.equal((await db.db.select().from(db.t.smsTemplates)).length, smsBefore);
  await service(db).execute({ triggeredBy: "t", createBackup: false });
  const { app } = await testApp(db);
  const token = await login(app, "admin@testcorp.com", DEMO_PASSWORD);
  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const ada = { guest_name: "Ada", party_size: 4, starts_at: "2026-12-24T19:00:00Z" };
  assert.equal((await post("/api/v1/${bookings}", ada)).status, 201);
  assert.equal((await post("/api/v1/${bookings}", ada)).status, 201, "a second booking for Ada");
  const book = { title: "Dune", price_cents: 999 };
  assert.equal((await post("/api/v1/${books}", book)).status, 201);
  assert.equal((await post("/api/v1/${books}", book)).status, 409, "--unique title");
  const list = await json<{ items: { guest_name: string }[] }>(
    await app.request("/api/v1/${bookings}?limit=100", { headers: bearer(token) }),
  );
  assert.deepEqual(list.items.map((b) => b.guest_name).filter((n) => n !== "Ada").sort(), ["Guest name 1", "Guest name 2"]);
});
`,
      );

      // The generated tests, the one above, and the project's own tests that read the registry and the seeders.
      const url = Deno.env.get("TEST_DATABASE_URL");
      const t = await run(
        [
          "test",
          "--allow-all",
          // The seeders' tests that read the module list (their password, production and --only tests do not).
          `--filter=/^(${books}|${bookings}|${dishes}|${reviews}|e2e|registry|owner|volume|seeders: (a second run|permissions|roles carry|development))/`,
          `tests/modules/${books}_test.ts`,
          `tests/modules/${bookings}_test.ts`,
          `tests/modules/${dishes}_test.ts`,
          `tests/modules/${reviews}_test.ts`,
          `tests/modules/${books}_${bookings}_e2e_test.ts`,
          "tests/modules/registry_test.ts",
          "tests/modules/owner_column_test.ts",
          "tests/seeding/seeders_test.ts",
          "tests/seeding/volume_test.ts",
        ],
        dir,
        url ? { TEST_DATABASE_URL: url } : {},
      );
      assert.ok(t.ok, t.text);
      assert.match(t.text, new RegExp(`${books}: seeded`));
      assert.match(t.text, new RegExp(`${bookings}: seeded`));
      // A required reference (menu_id): demo rows under each organization's menus, so its test can fail.
      for (const dialect of ["libsql", "postgres"]) {
        assert.match(
          t.text,
          new RegExp(`${dishes}: seeded for the demo organizations.*\\[${dialect}\\] \\.\\.\\. .*ok`),
        );
      }
      assert.match(t.text, /registry: no file outside modules\/ lists module tables .*ok/);
      assert.match(t.text, /seeders: a second run creates nothing.*\[postgres\] \.\.\. .*ok/);
      assert.match(t.text, /volume: --scale N adds N rows to every module table.*\[postgres\] \.\.\. .*ok/);
      assert.doesNotMatch(t.text, /seeders: production/, "the filter keeps the module tests only");
      for (const dialect of ["libsql", "postgres"]) {
        assert.match(t.text, new RegExp(`records he owns \\(author_id\\) \\[${dialect}\\] \\.\\.\\. .*ok`));
        assert.match(
          t.text,
          new RegExp(`e2e: a fresh seeder writes nothing.*\\[${dialect}\\] \\.\\.\\. .*ok`),
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "db:generate: a schema drizzle-kit cannot read (a hand-written ref to no table) is a one-line error, exit 1 — never 'nothing generated'",
  async fn() {
    const dir = await copyWorkingTree();
    try {
      const name = await freeModule(dir, "payments");
      await Deno.writeTextFile(
        `${dir}/modules/${name}.ts`,
        `import { defineModule, ref, text } from "../src/modules/define.ts";

export default defineModule({
  key: "${name}",
  licensing: { tiers: ["starter"] },
  resources: {
    ${name}: {
      table: "${name}",
      type: "${name}_record",
      path: "/api/v1/${name}",
      noun: "payment",
      schemaName: "PaymentRecord",
      fields: { label: text(), customerId: ref("no_such_table") },
    },
  },
});
`,
      );
      const mod = await Deno.readTextFile(`${dir}/modules/mod.ts`);
      await Deno.writeTextFile(
        `${dir}/modules/mod.ts`,
        mod.replace(/(export const MODULES = \[)/, `import ${name} from "./${name}.ts";\n$1`)
          .replace(/\n\] as const;/, `\n  ${name},\n] as const;`),
      );
      const files = () => DIALECTS.map((d) => [...Deno.readDirSync(`${dir}/migrations/${d}`)].length).join();
      const before = files();
      const g = await run(["task", "db:generate", "--name", `add_${name}`], dir);
      assert.equal(g.code, 1, g.text);
      assert.match(
        g.text,
        new RegExp(
          `^seedbed: the schema cannot be loaded, so no migration was generated: module tables: ${name}\\.customer_id references unknown table "no_such_table" \\(module tables: crm_leads, .*\\)$`,
          "m",
        ),
      );
      assert.doesNotMatch(g.text, /\n\s+at /, "no stack trace");
      assert.doesNotMatch(g.text, /nothing generated|No schema changes/);
      assert.equal(files(), before, "no migration file written");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const DIALECTS = ["sqlite", "postgres"];
