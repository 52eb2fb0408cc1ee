/**
 * Both dialects stay where they matter: the tests of the three layers (tenants, entitlements, RBAC, record
 * scope, AuthZEN), of backups and of seeding never use `singleDialectTest`, and the store contract runs every
 * one of its tests on both. Story: docs/testing.md.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Folders and files whose subject is a layer, backups or seeding: every database test there runs on both. */
const BOTH_DIALECTS = [
  "tests/access/",
  "tests/authzen/",
  "tests/backups/",
  "tests/files/",
  "tests/modules/",
  "tests/roles/",
  "tests/seeding/",
  "tests/tenants/",
  "tests/users/",
  "tests/db/",
  "tests/faults/",
  "tests/security/tenant_isolation_test.ts",
  "tests/security/escalation_test.ts",
  "tests/security/disclosure_test.ts",
  "tests/security/throttling_test.ts",
  "tests/gateway/forward_auth_test.ts",
  "tests/gateway/nginx_test.ts",
];

async function testFiles(dir: URL, prefix = "tests/"): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await testFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`));
    else if (e.name.endsWith("_test.ts")) out.push(`${prefix}${e.name}`);
  }
  return out;
}

Deno.test("dialects: no test of a layer, backups or seeding runs on one dialect only", async () => {
  const offenders: string[] = [];
  for (const file of await testFiles(new URL("tests/", ROOT))) {
    if (!BOTH_DIALECTS.some((p) => file === p || (p.endsWith("/") && file.startsWith(p)))) continue;
    const text = await Deno.readTextFile(new URL(file, ROOT));
    if (/\bsingleDialectTest\(/.test(text)) offenders.push(file);
  }
  assert.deepEqual(offenders, [], "use dbTest there: both dialects");
  // The list names what exists (a renamed folder would silently drop out of the rule).
  for (const p of BOTH_DIALECTS) await Deno.stat(new URL(p, ROOT));
});

Deno.test("dialects: the store contract runs on both dialects, every test of it", async () => {
  const text = await Deno.readTextFile(new URL("tests/db/store_contract_test.ts", ROOT));
  const tests = text.match(/^dbTest\(/gm) ?? [];
  assert.ok(tests.length >= 3, "revocations, the login path, service keys");
  assert.doesNotMatch(
    text,
    /\bonly:|\bsingleDialectTest\(|Deno\.test\(/,
    "nothing in it is narrowed to one dialect",
  );
});
