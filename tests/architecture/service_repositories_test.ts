/**
 * Services do not call the database where a repository exists (issue 16 §1): no `src/**\/*_service.ts`
 * names a table that a repository (`src/**\/*_repository.ts`) queries, nor runs a query of its own
 * (`db.db.`, `db.rows(`, `db.run(`): it asks the repository. A text scan, so it is honest about its reach:
 * a table reached some other way (an alias of `db.t`, a table imported from the schema) is caught only
 * through the query it would still need (`db.db.`). Transactions (`db.transaction`) stay the services'
 * to open; the repositories take the executor. And every service is built once, in `src/deps.ts`, where the
 * HTTP app and the CLI both get it. Story: docs/architecture.md.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { sqliteSchema } from "../../src/db/schema.ts";
import { REGISTRY_RESOURCES } from "../../src/modules/registry.ts";

const ROOT = new URL("../../", import.meta.url);

/**
 * What may stay, `"<path>: <needle>"` (`"src/x/x_service.ts: db.db."`) → why. Only a table no repository serves may be queried from a service
 * (empty: every service goes through a repository).
 */
const ALLOWED = new Map<string, string>();

/** `db.t.users`, `this.deps.db.t["users"]`: the tables a file names. */
const TABLE_REF = /\bdb\.t(?:\.(\w+)|\[\s*["'](\w+)["']\s*\])/g;
/** `const { rolePermissions: rp, permissions } = this.db.t;`: tables taken by destructuring. */
const DESTRUCTURED = /\{([^{}]*)\}\s*=\s*(?:this\.)?(?:deps\.)?db\.t\b/g;
/** `db.t` taken whole (`const t = this.db.t`): which tables it reaches cannot be read from the text. */
const WHOLE = /\bdb\.t\b(?![.[])/g;
/** A query run directly: Drizzle's builder, or raw SQL. */
const DIRECT = /\bdb\.(?:db\.|rows\(|run\()/g;

/** The tables a file's text names through `db.t`. */
export function tablesNamed(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(TABLE_REF)) out.push(m[1] ?? m[2]);
  for (const m of text.matchAll(DESTRUCTURED)) {
    for (const part of m[1].split(",")) {
      const name = part.split(":")[0].trim();
      if (name) out.push(name);
    }
  }
  return out;
}

/** Every use of the database a service should leave to a repository: `[needle, line]`. */
export function offences(text: string, owned: ReadonlySet<string>): [string, number][] {
  const out: [string, number][] = [];
  for (const m of text.matchAll(TABLE_REF)) {
    const table = m[1] ?? m[2];
    if (owned.has(table)) out.push([`db.t.${table}`, m.index]);
  }
  const destructured: [number, number][] = [];
  for (const m of text.matchAll(DESTRUCTURED)) {
    destructured.push([m.index, m.index + m[0].length]);
    for (const table of tablesNamed(m[0])) if (owned.has(table)) out.push([`db.t.${table}`, m.index]);
  }
  for (const m of text.matchAll(WHOLE)) {
    if (!destructured.some(([from, to]) => m.index >= from && m.index < to)) {
      out.push(["db.t", m.index]);
    }
  }
  for (const m of text.matchAll(DIRECT)) out.push([m[0], m.index]);
  const lineOf = (i: number) => text.slice(0, i).split("\n").length;
  return out.sort((a, b) => a[1] - b[1]).map(([needle, at]) => [needle, lineOf(at)]);
}

async function sources(suffix: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const p of await readdir(new URL("src/", ROOT), { recursive: true })) {
    if (p.endsWith(suffix)) out.push([`src/${p}`, await readFile(new URL(`src/${p}`, ROOT), "utf8")]);
  }
  return out.sort();
}

/**
 * The tables some repository serves: those its text names, and the record tables of `RecordsRepository`
 * (every module table and files: `RecordTableKey`), which it reaches by key.
 */
async function ownedTables(): Promise<Map<string, string>> {
  const owned = new Map<string, string>();
  const repositories = await sources("_repository.ts");
  // A repository's own table first (its `get t()`), then any other it names.
  for (const [path, text] of repositories) {
    for (const m of text.matchAll(/get t\(\)[^{]*\{\s*return this\.db\.t\.(\w+)/g)) owned.set(m[1], path);
  }
  for (const [path, text] of repositories) {
    for (const table of tablesNamed(text)) if (!owned.has(table)) owned.set(table, path);
  }
  const records = "src/modules/records_repository.ts";
  const recordsText = await readFile(new URL(records, ROOT), "utf8");
  assert.match(
    recordsText,
    /type RecordTableKey = keyof ModuleTables \| "files";/,
    "the record tables moved",
  );
  for (const key of [...REGISTRY_RESOURCES.map((r) => r.key), "files"]) owned.set(key, records);
  assert.equal(
    owned.get("users"),
    "src/users/users_repository.ts",
    "the scan sees each repository's own table",
  );
  for (const table of owned.keys()) assert.ok(table in sqliteSchema, `${table}: no table of the schema`);
  return owned;
}

Deno.test("service repositories: no service queries a table its repository serves", async () => {
  const owned = await ownedTables();
  assert.ok(
    owned.has("users") && owned.has("organizations") && owned.has("files"),
    "the scan sees the tables",
  );
  const found: string[] = [];
  for (const [path, text] of await sources("_service.ts")) {
    for (const [needle, line] of offences(text, new Set(owned.keys()))) {
      if (ALLOWED.has(`${path}: ${needle}`)) continue;
      const repo = owned.get(needle.slice("db.t.".length));
      found.push(`${path}:${line} ${needle}${repo ? ` (${repo})` : ""}`);
    }
  }
  assert.deepEqual(found, [], "call (or add) a repository method instead");
});

Deno.test("service repositories: every service is built in src/deps.ts (a class's own factory aside)", async () => {
  const found: string[] = [];
  for (const [path, text] of await sources(".ts")) {
    if (path === "src/deps.ts") continue;
    for (const m of text.matchAll(/\bnew (\w+Service)\(/g)) {
      if (!new RegExp(`\\bclass ${m[1]}\\b`).test(text)) found.push(`${path}: new ${m[1]}`);
    }
  }
  assert.deepEqual(found, [], "build it in buildDeps (src/deps.ts) and hand it over through AppDeps");
});

Deno.test("service repositories: the scan sees every form", () => {
  const owned = new Set(["users", "organizations", "rolePermissions"]);
  const needles = (text: string) => offences(text, owned).map(([n]) => n);
  assert.deepEqual(needles(`const t = this.deps.db.t.organizations;`), ["db.t.organizations"]);
  assert.deepEqual(needles(`await this.db.db.insert(this.db.t.users)`), ["db.db.", "db.t.users"]);
  assert.deepEqual(needles(`x(this.db.t["users"])`), ["db.t.users"]);
  assert.deepEqual(needles(`const { rolePermissions: rp, jobs } = this.db.t;`), ["db.t.rolePermissions"]);
  assert.deepEqual(needles(`const t = this.db.t;`), ["db.t"]);
  assert.deepEqual(needles(`await this.db.rows(sql\`SELECT 1\`)`), ["db.rows("]);
  assert.deepEqual(needles(`const t = this.db.t.jobs;`), []);
  assert.deepEqual(needles(`await this.db.transaction(async (tx) => repo.insert(row, tx))`), []);
  assert.deepEqual(needles(`this.repo = new UsersRepository(db); this.db.dialect`), []);
});
