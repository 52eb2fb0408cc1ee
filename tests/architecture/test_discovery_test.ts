/**
 * Plain `deno test` (docs/testing.md) runs the suite in tests/ and nothing else: a file anywhere else whose
 * name Deno takes for a test module (`test.ts`, `*_test.ts`, `*.test.ts`, …) would be loaded as one, and
 * `scripts/test.ts`, the runner, would start a second whole run inside the first. deno.json's `test.include`
 * says where tests live; this holds every such name to it.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";

const ROOT = new URL("../../", import.meta.url);
// Deno's test-module names (`deno test --help`).
const TEST_NAME = /(^|[._])test\.(ts|tsx|mts|js|mjs|jsx)$/;

Deno.test("deno test: tests live in tests/ only; no other file is taken for a test module", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  assert.deepEqual(config.test?.include, ["tests/"], "deno.json: test.include is tests/");
  // A test written outside tests/ would never run (the include leaves it out): the only such name is the runner.
  const skipped = new Set([
    "node_modules",
    ".git",
    ...(config.exclude ?? []).map((d: string) => d.replace(/\/$/, "")),
  ]);
  const named: string[] = [];
  for await (const top of Deno.readDir(ROOT)) {
    if (skipped.has(top.name)) continue;
    const inside = top.isDirectory
      ? (await readdir(new URL(`${top.name}/`, ROOT), { recursive: true }))
      : [""];
    for (const p of inside) {
      const path = [top.name, p.replaceAll("\\", "/")].filter(Boolean).join("/");
      if (TEST_NAME.test(path.split("/").at(-1)!)) named.push(path);
    }
  }
  assert.ok(named.includes("tests/architecture/test_discovery_test.ts"), "the walk finds this file");
  assert.deepEqual(named.filter((p) => !p.startsWith("tests/")), ["scripts/test.ts"]);
});
