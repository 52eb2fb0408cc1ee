/**
 * `deno task db:check`: fails when
 * - a migration lacks its down file, a down file has no up migration, or the two dialects'
 *   migrations differ in names (checkMigrationFiles, docs/migrations.md);
 * - the committed migrations are out of date with the schema: runs `drizzle-kit generate`
 *   for both dialects into scratch copies of `migrations/` and compares the file sets.
 */
import { checkMigrationFiles } from "../src/db/migration_files.ts";
import { deno } from "../src/deno_command.ts";

const ROOT = new URL("../", import.meta.url).pathname;
let stale = false;
const problems = await checkMigrationFiles();
for (const p of problems) console.error(p);
if (problems.length) stale = true;
else console.log("migrations: every migration has its down file, and both dialects list the same ones");
for (const [dialect, folder] of [["sqlite", "sqlite"], ["postgres", "postgres"]]) {
  const scratch = await Deno.makeTempDir({ prefix: "seedbed-drift-" });
  await new Deno.Command("cp", { args: ["-r", `${ROOT}migrations/${folder}/.`, scratch] }).output();
  const before = await listFiles(scratch);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "npm:drizzle-kit@0.31.11", "generate"],
    cwd: ROOT,
    env: { DRIZZLE_DIALECT: dialect, DRIZZLE_OUT: scratch },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(new TextDecoder().decode(out.stderr));
    Deno.exit(2);
  }
  const after = await listFiles(scratch);
  const added = after.filter((f) => !before.includes(f));
  if (added.length) {
    stale = true;
    console.error(
      `migrations/${folder} is out of date with src/db/schema.ts; run \`${
        deno("task db:generate")
      }\`. Would add: ${added.join(", ")}`,
    );
  } else {
    console.log(`migrations/${folder}: up to date`);
  }
  await Deno.remove(scratch, { recursive: true });
}
Deno.exit(stale ? 1 : 0);

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) { for (const f of await listFiles(`${dir}/${e.name}`)) out.push(`${e.name}/${f}`); }
    else out.push(e.name);
  }
  return out.sort();
}
