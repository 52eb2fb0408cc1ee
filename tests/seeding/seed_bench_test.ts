/**
 * `bench/seed_bench.ts` at a tiny size on libSQL: the driver baseline must insert exactly the rows the
 * seeding engine wrote, for every module table with a volume factory in the registry (a table whose
 * unique key is not its `VOL-` column — menus — once went missing from the baseline). No timing is
 * asserted: the figures are the bench's business.
 */
import assert from "node:assert/strict";
import { VOLUME_RESOURCES } from "../../seeders/volume.ts";

const BENCH = new URL("../../bench/seed_bench.ts", import.meta.url).pathname;

Deno.test("bench:seed — the baseline inserts the same rows as the seeding engine, for every volume table", async () => {
  const perTable = 3;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      BENCH,
      "--rows",
      String(perTable * VOLUME_RESOURCES.length),
      "--reps",
      "1",
      "--only",
      "libsql",
    ],
    env: { LOG_LEVEL: "silent" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(stdout, new RegExp(`^libsql +rows ${perTable * VOLUME_RESOURCES.length} \\|`, "m"), stdout);
});
