/**
 * Both dialects stay where they matter: the tests of the three layers (tenants, entitlements, RBAC, record
 * scope, AuthZEN), of backups and of seeding never use `singleDialectTest`, and the store contract runs every
 * one of its tests on both. Story: docs/testing.md.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";

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

/** Every test file, as `tests/<path>`. */
async function testFiles(): Promise<string[]> {
  const paths = await readdir(new URL("tests/", ROOT), { recursive: true });
  return paths.filter((p) => p.endsWith("_test.ts")).map((p) => `tests/${p}`);
}

/** Words that say a test's subject is a layer, backups, seeding or several replicas. */
const BOTH_DIALECT_SUBJECTS =
  /replica|restore|reset|backup|seed(?! 0\d\d)|organization|tenant|entitle|role|permission|record scope|2\^31/i;

Deno.test("dialects: no test of a layer, backups or seeding runs on one dialect only", async () => {
  const offenders: string[] = [];
  for (const file of await testFiles()) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const listed = BOTH_DIALECTS.some((p) => file === p || (p.endsWith("/") && file.startsWith(p)));
    // By place: not in the folders and files of the layers, backups and seeding.
    if (listed && /\bsingleDialectTest\(/.test(text)) offenders.push(`${file}: singleDialectTest`);
    // By subject, anywhere: a name that says layer, backups, seeding or replicas.
    for (const m of text.matchAll(/\bsingleDialectTest\(\s*["'`]([^"'`]*)/g)) {
      if (BOTH_DIALECT_SUBJECTS.test(m[1])) offenders.push(`${file}: "${m[1]}"`);
    }
    // Where both are the rule, libSQL alone says why, in a comment just above its option (Postgres alone is
    // Postgres's own behaviour: locks, COPY, error codes).
    if (listed) {
      const lines = text.split("\n");
      lines.forEach((line, i) => {
        if (!/only: \["libsql"\]/.test(line)) return;
        if (!lines.slice(Math.max(0, i - 2), i + 1).some((l) => /\/\/ One dialect: \S/.test(l))) {
          offenders.push(`${file}:${i + 1}: one dialect without a "// One dialect: <why>" comment`);
        }
      });
    }
  }
  assert.deepEqual(offenders, [], "use dbTest there: both dialects");
  // The list names what exists (a renamed folder would silently drop out of the rule).
  for (const p of BOTH_DIALECTS) await Deno.stat(new URL(p, ROOT));
});

Deno.test("dialects: the store contract runs on both dialects, every test of it", async () => {
  const text = await Deno.readTextFile(new URL("tests/db/store_contract_test.ts", ROOT));
  const names = [...text.matchAll(/\bdbTest\(\s*"store contract: ([^"]+)"/g)].map((m) =>
    m[1].split(" — ")[0]
  );
  assert.deepEqual(names, ["token revocations", "login", "service keys"]);
  // No options at all: nothing narrowed to one dialect, ignored or left to a server only.
  assert.doesNotMatch(text, /^\}, \{|^ {2}\{ \w+:|\bsingleDialectTest\(|Deno\.test\(/m);
});
