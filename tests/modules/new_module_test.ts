/**
 * `deno task new module …` on a copy of the repository: the written module, seeder and test type-check,
 * drizzle-kit generates its table for both dialects, and the generated test passes (a guarded, seeded
 * /api/v1/<name> on the real databases). Bad arguments are refused naming what was wrong.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseField, parseModuleArgs, renderModule, runNew } from "../../src/cli/new_command.ts";
import { UsageError } from "../../src/cli/context.ts";

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

Deno.test("new module: --scale rows draw references from tables --scale fills; none when a required one cannot", () => {
  const volume = (...fields: string[]) => {
    const src = renderModule(
      parseModuleArgs(["tables", "--field", "label:text", ...fields.flatMap((f) => ["--field", f])]),
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

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: cmd,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

Deno.test({
  name: "new module: a fresh module gets its table on both dialects and a guarded, seeded route",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-new-module-" });
    try {
      const files = new TextDecoder().decode(
        (await new Deno.Command("git", { args: ["ls-files", "-z"], cwd: ROOT, stdout: "piped" }).output())
          .stdout,
      ).split("\0").filter(Boolean);
      for (const f of files) {
        await Deno.mkdir(`${dir}/${f.split("/").slice(0, -1).join("/")}`, { recursive: true });
        await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`).catch(() => {});
      }
      await Deno.symlink(`${ROOT}node_modules`, `${dir}/node_modules`);
      const lines: string[] = [];
      await runNew(
        [
          "module",
          "books",
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
        ],
        dir,
        (l) => lines.push(l),
      );
      assert.match(lines.join("\n"), /deno task db:generate[\s\S]*deno task migrate/);
      await assert.rejects(runNew(["module", "books", "--field", "title:text"], dir, () => {}), /already/);
      // A stand-alone seeder joins the master order (and runs in the generated test's seeding below).
      await runNew(["seeder", "WelcomeSeeder"], dir, () => {});
      assert.match(
        await Deno.readTextFile(`${dir}/seeders/mod.ts`),
        /booksSeeder,\n {2}welcomeSeeder,\n {2}volumeSeeder,\n\];/,
      );
      await assert.rejects(runNew(["seeder", "welcome"], dir, () => {}), /PascalCase name ending in Seeder/);
      // What the generator wrote passes the repository's own checks (CI runs `deno task ok`).
      const written = [
        "modules/books.ts",
        "modules/mod.ts",
        "seeders/books.ts",
        "seeders/welcome.ts",
        "seeders/mod.ts",
        "tests/modules/books_test.ts",
      ];
      const fmt = await run(["fmt", "--check", ...written], dir);
      assert.ok(fmt.ok, `generated files are formatted:\n${fmt.text}`);
      const lint = await run(["lint", ...written], dir);
      assert.ok(lint.ok, `generated files pass lint:\n${lint.text}`);

      assert.match(await Deno.readTextFile(`${dir}/modules/books.ts`), /owner: "authorId"/);
      // The user's next command, as printed: `deno task db:generate --name add_books`.
      const g = await run(["task", "db:generate", "--name", "add_books"], dir);
      assert.ok(g.ok, g.text);
      for (const dialect of ["sqlite", "postgres"]) {
        const sqlFile = [...Deno.readDirSync(`${dir}/migrations/${dialect}`)].find((e) =>
          e.name.endsWith("_add_books.sql")
        );
        assert.ok(sqlFile, `a ${dialect} migration`);
        const sql = await Deno.readTextFile(`${dir}/migrations/${dialect}/${sqlFile.name}`);
        assert.match(sql, /CREATE TABLE [`"]books[`"]/);
        assert.match(sql, /books_org_title_uq/);
        assert.match(sql, /[`"]author_id[`"] integer NOT NULL/, "the declared owner column");
        assert.doesNotMatch(sql, /[`"]owner_id[`"]/);
        const down = await Deno.readTextFile(
          `${dir}/migrations/${dialect}/${sqlFile.name.replace(/\.sql$/, ".down.sql")}`,
        );
        assert.match(down, /DROP TABLE [`"]?books[`"]?/, `${dialect}: the down migration drops it`);
      }
      // `alembic revision -m`: an empty pair for custom SQL, numbered after it, the same name on both dialects.
      const n = await run(["task", "db:new", "--name", "backfill_books"], dir);
      assert.ok(n.ok, n.text);
      for (const dialect of ["sqlite", "postgres"]) {
        const names = [...Deno.readDirSync(`${dir}/migrations/${dialect}`)].map((e) => e.name);
        const up = names.find((f) => /^\d{4}_backfill_books\.sql$/.test(f));
        assert.ok(up && names.includes(up.replace(/\.sql$/, ".down.sql")), `${dialect}: an up/down pair`);
        const add = names.find((f) => f.endsWith("_add_books.sql"))!;
        assert.equal(
          Number(up.slice(0, 4)),
          Number(add.slice(0, 4)) + 1,
          `${dialect}: numbered after add_books`,
        );
      }
      const c = await run(["task", "db:check"], dir);
      assert.ok(c.ok, c.text);
      const url = Deno.env.get("TEST_DATABASE_URL");
      const t = await run(
        ["test", "--allow-all", "tests/modules/books_test.ts"],
        dir,
        url ? { TEST_DATABASE_URL: url } : {},
      );
      assert.ok(t.ok, t.text);
      assert.match(t.text, /books: seeded/);
      for (const dialect of ["libsql", "postgres"]) {
        assert.match(t.text, new RegExp(`records he owns \\(author_id\\) \\[${dialect}\\] \\.\\.\\. .*ok`));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
