/**
 * The Deno commands the CLI prints (next steps, hints) are ones the user can run: `deno …` when a `deno`
 * executable is on PATH, `npx -y deno@2 …` when not (a machine with Node only, as in the README's quick start) —
 * npm's own `node_modules/.bin`, where `npx -y deno@2` puts the Deno it runs, does not count. Checked on the
 * helper, on `db:generate`'s next steps, and on `new module` / `new seeder` run as processes with either PATH.
 */
import assert from "node:assert/strict";
import { deno, denoInvocation } from "../../src/deno_command.ts";
import { nextSteps } from "../../scripts/generate_migration.ts";
import { cli } from "./helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Three PATH directories: one with a Deno, one without, and npm's `.bin` with the Deno `npx` runs. */
async function pathDirs() {
  const root = await Deno.makeTempDir({ prefix: "seedbed-deno-path-" });
  const withDeno = `${root}/bin`;
  const without = `${root}/empty`;
  const npx = `${root}/_npx/1234/node_modules/.bin`;
  for (const d of [withDeno, without, npx]) await Deno.mkdir(d, { recursive: true });
  await Deno.symlink(Deno.execPath(), `${withDeno}/deno`);
  await Deno.symlink(Deno.execPath(), `${npx}/deno`);
  // A file named deno that cannot run is no Deno.
  await Deno.writeTextFile(`${without}/deno`, "not a program");
  await Deno.chmod(`${without}/deno`, 0o644);
  return { root, withDeno, without, npx };
}

Deno.test("deno command: `deno …` with a deno on PATH, `npx -y deno@2 …` without (npm's node_modules/.bin does not count)", async () => {
  const p = await pathDirs();
  try {
    assert.equal(denoInvocation(p.withDeno), "deno");
    assert.equal(denoInvocation(`${p.without}:${p.npx}:${p.withDeno}`), "deno", "anywhere on PATH");
    assert.equal(denoInvocation(`${p.withDeno}/`), "deno", "a trailing slash");
    assert.equal(denoInvocation(p.without), "npx -y deno@2");
    assert.equal(
      denoInvocation(`${p.npx}:${p.without}`),
      "npx -y deno@2",
      "npx's own Deno is not the user's",
    );
    assert.equal(denoInvocation(`${p.npx}/`), "npx -y deno@2");
    assert.equal(denoInvocation(""), "npx -y deno@2");
    assert.equal(deno("task migrate", p.withDeno), "deno task migrate");
    assert.equal(deno("task migrate", p.without), "npx -y deno@2 task migrate");
    // The process's own PATH by default (this test runs under a Deno: `deno task test`).
    assert.equal(deno("task dev"), `${denoInvocation(Deno.env.get("PATH"))} task dev`);
  } finally {
    await Deno.remove(p.root, { recursive: true });
  }
});

Deno.test("deno command: db:generate's next steps, both ways", async () => {
  const p = await pathDirs();
  try {
    const installed = nextSteps(["0042_add_dishes"], p.withDeno);
    assert.match(installed, /review migrations\/\*\/0042_add_dishes\{\.sql,\.down\.sql\}/);
    assert.match(installed, /^ {2}deno task migrate +apply it to DATABASE_URL.s database/m);
    assert.match(installed, /^ {2}deno task migrate down +check the way back/m);
    assert.match(installed, /^ {2}deno test -A tests\/db\/migration_roundtrip_test\.ts +up → down → up/m);
    assert.doesNotMatch(installed, /npx/);
    const node = nextSteps(["0042_add_dishes"], `${p.npx}:${p.without}`);
    assert.match(node, /^ {2}npx -y deno@2 task migrate +apply it to DATABASE_URL.s database/m);
    assert.match(node, /^ {2}npx -y deno@2 task migrate down +check the way back/m);
    assert.match(node, /^ {2}npx -y deno@2 test -A tests\/db\/migration_roundtrip_test\.ts +up → down → up/m);
    assert.doesNotMatch(node, /^ {2}deno /m);
  } finally {
    await Deno.remove(p.root, { recursive: true });
  }
});

Deno.test("deno command: `new module` and `new seeder` print their next steps as the user can run them", async () => {
  const p = await pathDirs();
  try {
    for (const [path, prefix] of [[p.withDeno, "deno"], [`${p.npx}:${p.without}`, "npx -y deno@2"]]) {
      // A scratch repository holding what `new` reads and writes.
      const dir = await Deno.makeTempDir({ prefix: "seedbed-new-hint-" });
      try {
        for (const d of ["modules", "seeders", "tests/modules"]) {
          await Deno.mkdir(`${dir}/${d}`, { recursive: true });
        }
        for (const f of ["modules/mod.ts", "seeders/mod.ts"]) {
          await Deno.copyFile(`${ROOT}${f}`, `${dir}/${f}`);
        }
        const m = await cli(["new", "module", "widgets", "--field", "name:text"], { PATH: path }, dir);
        assert.equal(m.code, 0, m.stderr);
        const esc = prefix.replace(/[.@]/g, "\\$&");
        assert.match(m.stdout, new RegExp(`^next:\\n {2}${esc} task db:generate --name add_widgets +#`, "m"));
        assert.match(
          m.stdout,
          new RegExp(`^ {2}${esc} task migrate +# .*\\(re\\)start ${esc} task dev:`, "m"),
        );
        const s = await cli(["new", "seeder", "WelcomeSeeder"], { PATH: path }, dir);
        assert.equal(s.code, 0, s.stderr);
        assert.match(s.stdout, new RegExp(`then: ${esc} task seed --only WelcomeSeeder$`, "m"));
        if (prefix === "deno") assert.doesNotMatch(m.stdout + s.stdout, /npx/);
        else assert.doesNotMatch(m.stdout + s.stdout, /(^|[^@\w])deno task/m);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(p.root, { recursive: true });
  }
});
