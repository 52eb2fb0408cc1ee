/**
 * Dialect knowledge in src/db/ (the house plan; issue 16): outside it no code branches on the dialect or speaks
 * one dialect's SQL (its catalog, PRAGMAs, advisory locks, clock functions). Such a piece goes behind a named
 * function in src/db/ (`listTables`, `dbNowMs`, `timestampParam`, `beginBulkLoad`, …); what cannot move says
 * why on the line above, in a `// Not in src/db/: <why>` comment. Story: docs/architecture.md.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";

const ROOT = new URL("../../", import.meta.url);

/** A branch on a dialect (or database kind) by name, or SQL only one dialect speaks. */
const DIALECT_CODE = new RegExp(
  [
    String.raw`[!=]==?\s*["'](?:sqlite|postgres|libsql)["']`,
    String.raw`["'](?:sqlite|postgres|libsql)["']\s*[!=]==?`,
    String.raw`\(\s*["'](?:sqlite|postgres)["']`,
    String.raw`\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:sqlite_\w+|pg_\w+)`,
    String.raw`\bpragma_\w+\(|\bPRAGMA\s+\w|\bpg_(?:try_)?advisory_|\bjulianday\(|\bclock_timestamp\(`,
    String.raw`::regnamespace|\bjson_populate_recordset\(`,
  ].join("|"),
);

const ALLOWED = /\/\/ Not in src\/db\/: \S/;

/** Lines of code (not comment lines) of `text` that match, as `path:line`, unless the line above says why. */
function offendersIn(path: string, text: string): string[] {
  const lines = text.split("\n");
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (/^\s*(?:\*|\/\/|\/\*)/.test(line) || !DIALECT_CODE.test(line)) return;
    if (ALLOWED.test(line) || ALLOWED.test(lines[i - 1] ?? "")) return;
    out.push(`${path}:${i + 1}: ${line.trim()}`);
  });
  return out;
}

Deno.test("dialect knowledge: no code outside src/db/ branches on the dialect or speaks one dialect's SQL", async () => {
  const offenders: string[] = [];
  for (const p of await readdir(new URL("src/", ROOT), { recursive: true })) {
    const path = `src/${p}`;
    if (!path.endsWith(".ts") || path.startsWith("src/db/")) continue;
    offenders.push(...offendersIn(path, await readFile(new URL(path, ROOT), "utf8")));
  }
  assert.deepEqual(offenders, [], "move it behind a named function in src/db/ (or say why it cannot move)");
});

Deno.test("dialect knowledge: the check sees branches and one dialect's SQL, not prose or a reason given", () => {
  for (
    const line of [
      `  if (db.dialect === "postgres") {`,
      `  const rows = db.dialect !== 'sqlite' ? a : b;`,
      `  return "sqlite" === d ? 1 : 2;`,
      `  const size = rowsPerStatement("sqlite", columns);`,
      "    sql`SELECT name FROM sqlite_master WHERE type = 'table'`,",
      "    sql`SELECT tablename AS name FROM pg_tables`,",
      "    sql`SELECT 1 FROM pragma_foreign_key_list(${t})`,",
      `  await db.run("PRAGMA defer_foreign_keys = ON", tx);`,
      "    sql`SELECT pg_try_advisory_xact_lock(hashtext(${k})) AS ok`,",
      "    : sql`CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`;",
    ]
  ) assert.deepEqual(offendersIn("x.ts", line).length, 1, line);
  for (
    const text of [
      ` * On Postgres, a PRAGMA-free path: sqlite_master is read in src/db/.`,
      `  // db.dialect === "postgres" used to be checked here`,
      `        help: "Postgres: connections by state (from pg_stat_activity)",`,
      `  const kind = databaseKind(url);`,
      `  // Not in src/db/: a reason\n  x = kind === "postgres" ? 1 : 2;`,
    ]
  ) assert.deepEqual(offendersIn("x.ts", text), [], text);
});
