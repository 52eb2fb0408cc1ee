/**
 * One base64url, a library's (issue 16 §5): cursors, page tokens, service keys and generated passwords and
 * secrets all use jose's `base64url`; no hand-rolled `btoa`/`atob` with character swaps, whose padding and
 * alphabet drift apart from one copy to the next. Story: docs/architecture.md.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { base64url } from "jose";
import fc from "fast-check";
import { decodeCursor, encodeCursor } from "../../src/modules/records_service.ts";
import { generatePassword } from "../../seeders/super_admin.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("base64: no btoa/atob in src/, modules/, seeders/ or scripts/", async () => {
  const offenders: string[] = [];
  for (const dir of ["src", "modules", "seeders", "scripts"]) {
    for (const p of await readdir(new URL(`${dir}/`, ROOT), { recursive: true })) {
      if (!p.endsWith(".ts")) continue;
      const code = (await readFile(new URL(`${dir}/${p}`, ROOT), "utf8")).replace(/^\s*(\/\/|\*).*$/gm, "");
      if (/\b(btoa|atob)\s*\(/.test(code)) offenders.push(`${dir}/${p}`);
    }
  }
  assert.deepEqual(offenders, [], "use jose's base64url");
});

Deno.test("base64 (property): a list cursor is base64url without padding and names its position again", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n) => {
      const c = encodeCursor(n);
      assert.match(c, /^[A-Za-z0-9_-]+$/);
      assert.equal(decodeCursor(c), n);
      assert.equal(new TextDecoder().decode(base64url.decode(c)), JSON.stringify({ a: n }));
    }),
  );
  assert.match(generatePassword(), /^[A-Za-z0-9_-]{20}$/);
});
