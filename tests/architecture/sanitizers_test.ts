/**
 * `deno task test` holds every test to Deno's op and resource sanitizers (off by default since Deno 2.9): a
 * test that leaves a timer or a file open fails under the runner's flags, and passes without them. Story:
 * docs/testing.md.
 */
import assert from "node:assert/strict";
import { DENO_TEST_FLAGS } from "../../scripts/test_flags.ts";

Deno.test("sanitizers: the runner's flags fail a test that leaks a timer or a file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seedbed_sanitizers_" });
  try {
    const file = `${dir}/leaks_test.ts`;
    await Deno.writeTextFile(
      file,
      [
        `Deno.test("leaks a timer", () => { setTimeout(() => {}, 60_000); });`,
        `Deno.test("leaks a file", async () => {`,
        `  await Deno.open(${JSON.stringify(`${dir}/f`)}, { create: true, write: true });`,
        `});`,
      ].join("\n"),
    );
    const run = async (flags: readonly string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["test", ...flags, "--no-config", file],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      return { code: o.code, out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr) };
    };
    const held = await run(DENO_TEST_FLAGS);
    assert.notEqual(held.code, 0, held.out);
    assert.match(held.out, /leaks a timer \.\.\. FAILED/, held.out);
    assert.match(held.out, /leaks a file \.\.\. FAILED/, held.out);
    const loose = await run(["--allow-all", "--no-check"]);
    assert.equal(loose.code, 0, `without the flags both pass: ${loose.out}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
