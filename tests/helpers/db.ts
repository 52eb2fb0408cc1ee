/**
 * Test databases. Every test gets its own database in its just-migrated state,
 * on libSQL and on Postgres (`dbTest` registers one Deno.test per dialect; `singleDialectTest`, for tests
 * whose subject is not the database, libSQL only):
 *
 * - libSQL: a copy of a file migrated once per test file;
 * - Postgres: one database per test file on TEST_DATABASE_URL's server, copied from a migrated template
 *   database kept for later runs (one schema per file where the role cannot create databases), or one embedded
 *   Postgres (PGlite) per test file when no server is given, booted from a
 *   data directory initialized and migrated once for the whole run; migrated once and
 *   brought back to the just-migrated state before each test (every table
 *   emptied with triggers off, the rows and sequences the migrations left
 *   restored, session state reset). A test that changes the schema or closes
 *   the database gets a fresh one next time. `migrated: false`, or a second
 *   database while the shared one is in use, opens a fresh one.
 *
 * Migrating and booting once per file instead of once per test is what keeps
 * the suite in minutes (docs/testing.md). Never share state between tests.
 */
import { type Database, openDatabase, pgliteDatabase } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrator.ts";
import type { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { hashAtMinimumCostForTests } from "../../src/auth/passwords.ts";

// Every test file that opens a database hashes passwords at argon2's minimum cost (a login is then ~0.1 ms of
// CPU instead of ~25 ms); tests/auth/password_test.ts checks the real parameters with this switched off.
hashAtMinimumCostForTests(true);

export type TestDialect = "libsql" | "postgres";
export const DIALECTS: TestDialect[] = ["libsql", "postgres"];

const PG_URL = Deno.env.get("TEST_DATABASE_URL");

export interface TestDatabase {
  db: Database;
  /** The URL a second client (another "replica") can open. */
  url: string;
  dispose(): Promise<void>;
}

/** Opens a database of the dialect for one test: just migrated (the default), or fresh and empty. */
export async function openTestDatabase(
  dialect: TestDialect,
  migrated = true,
): Promise<TestDatabase> {
  if (dialect === "libsql") return migrated ? await libsqlCopy() : await libsqlFresh();
  if (!migrated) return PG_URL ? await pgSchemaFresh() : await pgliteFresh();
  // A second database while the file's shared one is in use (a test with two "replicas"): a fresh one.
  if (sharedInUse) return PG_URL ? await pgMigratedFresh() : await pgliteFresh("migrated");
  sharedInUse = true;
  try {
    const t = PG_URL ? await pgServerShared() : await pgliteShared();
    return { ...t, dispose: () => t.dispose().finally(() => (sharedInUse = false)) };
  } catch (err) {
    sharedInUse = false;
    throw err;
  }
}

/** True while a test holds the file's shared Postgres database. */
let sharedInUse = false;

async function migratedFresh(t: TestDatabase): Promise<TestDatabase> {
  try {
    await migrate(t.db);
    return t;
  } catch (err) {
    await t.dispose();
    throw err;
  }
}

// --- libSQL: a copy of a migrated template file -------------------------------------------------------

let libsqlTemplate: Promise<string> | null = null;

/** A libSQL database in a new temporary folder, empty or a copy of `template`; dispose removes the folder. */
async function libsqlFresh(template?: string): Promise<TestDatabase> {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-test-" });
  if (template) await Deno.copyFile(template, `${dir}/test.db`);
  const url = `file:${dir}/test.db`;
  const db = await openDatabase(url, { maxConnections: 4 });
  return {
    db,
    url,
    dispose: async () => {
      await db.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function libsqlCopy(): Promise<TestDatabase> {
  libsqlTemplate ??= (async () => {
    const t = await libsqlFresh();
    await migrate(t.db);
    await t.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    await t.db.close();
    const path = t.url.slice("file:".length);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      } catch { /* gone */ }
    });
    return path;
  })();
  return await libsqlFresh(await libsqlTemplate);
}

// --- Postgres: reset to the just-migrated state -------------------------------------------------------

/** What a migrated database holds before any test touched it. */
interface Baseline {
  fingerprint: string;
  /** Statements that bring the data back (tables emptied, migration rows and sequences restored). */
  resetSql: string;
  /** Statements that bring the session's settings back (a test may leave a SET behind). */
  sessionSql: string;
}

/**
 * The schema's shape (columns with types and defaults, index and trigger counts), read from pg_catalog by the
 * schema's OID: information_schema's views scan the whole catalog, which grows with every schema a run makes.
 */
const FINGERPRINT = `WITH ns AS (SELECT current_schema()::regnamespace AS oid)
  SELECT md5(coalesce((SELECT string_agg(c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
  || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ',' ORDER BY c.relname, a.attnum)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relnamespace = (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v')), '')
  || (SELECT count(*) FROM pg_class WHERE relnamespace = (SELECT oid FROM ns) AND relkind = 'i')
  || '/' || (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = (SELECT oid FROM ns))) AS f`;

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;
const lit = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** Reads the baseline of a just-migrated database: its schema fingerprint, rows and sequence positions. */
async function captureBaseline(
  query: (text: string) => Promise<Record<string, unknown>[]>,
): Promise<Baseline> {
  const [{ f }] = await query(FINGERPRINT);
  // RESET ALL alone would also drop what the driver set at connection time (PGlite's search_path).
  const session = ["RESET ALL", "SELECT pg_advisory_unlock_all()"];
  for (const r of await query("SELECT name, setting FROM pg_settings WHERE source = 'session'")) {
    session.push(`SELECT set_config(${lit(String(r.name))}, ${lit(String(r.setting))}, false)`);
  }
  const tables = (await query(
    "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
  )).map((r) => String(r.t));
  const parts = ["SET session_replication_role = replica"];
  for (const t of tables) parts.push(`DELETE FROM ${q(t)}`);
  for (const t of tables) {
    const [{ rows }] = await query(`SELECT json_agg(x)::text AS rows FROM ${q(t)} x`);
    if (rows) {
      parts.push(
        `INSERT INTO ${q(t)} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::${q(t)}, ${
          lit(String(rows))
        }::json)`,
      );
    }
  }
  for (
    const s of await query(
      "SELECT sequencename AS s, last_value AS v FROM pg_sequences WHERE schemaname = current_schema()",
    )
  ) {
    parts.push(
      s.v === null
        ? `PERFORM setval(${lit(q(String(s.s)))}, 1, false)`
        : `PERFORM setval(${lit(q(String(s.s)))}, ${Number(s.v)}, true)`,
    );
  }
  parts.push("RESET session_replication_role");
  // One statement (a DO block), so one round trip on a server as on PGlite.
  return {
    fingerprint: String(f),
    resetSql: `DO $reset$ BEGIN\n${parts.join(";\n")};\nEND $reset$`,
    sessionSql: session.join(";\n"),
  };
}

// PGlite: one instance per test file.
let pglite: Promise<{ client: PGlite; baseline: Baseline }> | null = null;
let pgliteDead = false;

/**
 * An embedded Postgres booted from a data directory made once: `empty` (just initialized) or `migrated`.
 * Initializing (initdb) and migrating cost seconds of CPU per instance; loading a saved data directory
 * about a second. The templates are saved under the temporary folder, named by a hash of PGlite's
 * version, the Postgres migrations and the migrator, so every test file of a run (and later runs) boots
 * from them and a change to any of those makes new ones.
 */
async function bootPglite(template: "empty" | "migrated" = "empty"): Promise<PGlite> {
  const { PGlite } = await import("@electric-sql/pglite");
  const client = new PGlite({ loadDataDir: await pgliteTemplate(template) });
  await client.waitReady;
  return client;
}

const pgliteTemplates = new Map<string, Promise<Blob>>();

function pgliteTemplate(kind: "empty" | "migrated"): Promise<Blob> {
  let t = pgliteTemplates.get(kind);
  if (!t) {
    t = loadOrMakePgliteTemplate(kind);
    t.catch(() => pgliteTemplates.delete(kind));
    pgliteTemplates.set(kind, t);
  }
  return t;
}

const ROOT = new URL("../../", import.meta.url);

/** A hash of what a template's content depends on (PGlite data directories and the server's template database). */
async function templateKey(): Promise<string> {
  const parts: string[] = [
    JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))).imports[
      "@electric-sql/pglite"
    ],
  ];
  const dir = new URL("migrations/postgres/", ROOT);
  const names = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  for (const name of names.sort()) parts.push(name, await Deno.readTextFile(new URL(name, dir)));
  for (const f of ["src/db/migrator.ts", "src/db/migration_files.ts"]) {
    parts.push(await Deno.readTextFile(new URL(f, ROOT)).catch(() => ""));
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function loadOrMakePgliteTemplate(kind: "empty" | "migrated"): Promise<Blob> {
  const dir = Deno.env.get("TMPDIR") || "/tmp";
  const path = `${dir}/seedbed-test-pglite-${kind}-${await templateKey()}.tar.gz`;
  try {
    return new Blob([await Deno.readFile(path)]);
  } catch { /* not made yet: make it */ }
  const { PGlite } = await import("@electric-sql/pglite");
  const client = new PGlite();
  try {
    await client.waitReady;
    if (kind === "migrated") await migrate(await pgliteDatabase(client));
    const dump = await client.dumpDataDir("gzip");
    // Written aside, then renamed: test files running in parallel never read half a file.
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, new Uint8Array(await dump.arrayBuffer()));
    await Deno.rename(tmp, path).catch(() => Deno.remove(tmp).catch(() => {}));
    return dump;
  } finally {
    await client.close().catch(() => {});
  }
}

async function pgliteFresh(template: "empty" | "migrated" = "empty"): Promise<TestDatabase> {
  const db = await pgliteDatabase(await bootPglite(template));
  return { db, url: "pglite://memory", dispose: () => db.close().catch(() => {}) };
}

async function pgliteShared(): Promise<TestDatabase> {
  const shared = await sharedPglite();
  const { client } = shared;
  const db = await pgliteDatabase(client);
  const test: Database = {
    ...db,
    // A test that closes its database really closes it; the next test boots a fresh instance.
    close: () => {
      pgliteDead = true;
      return db.close();
    },
  };
  return { db: test, url: "pglite://memory", dispose: () => Promise.resolve() };
}

async function sharedPglite(): Promise<{ client: PGlite; baseline: Baseline }> {
  if (pglite && !pgliteDead) {
    const s = await pglite.catch(() => null);
    if (s && !s.client.closed && await resetPglite(s.client, s.baseline)) return s;
    await s?.client.close().catch(() => {});
  }
  pgliteDead = false;
  pglite = (async () => {
    const client = await bootPglite("migrated");
    const baseline = await captureBaseline(async (text) =>
      (await client.query(text)).rows as Record<string, unknown>[]
    );
    return { client, baseline };
  })();
  return await pglite;
}

/** Brings the shared instance back to the baseline; false when the schema changed (boot a fresh one). */
async function resetPglite(client: PGlite, baseline: Baseline): Promise<boolean> {
  try {
    if (client.isInTransaction?.()) await client.exec("ROLLBACK");
    await client.exec(baseline.sessionSql);
    const [{ f }] = (await client.query(FINGERPRINT)).rows as { f: string }[];
    if (f !== baseline.fingerprint) return false;
    await client.exec(baseline.resetSql);
    return true;
  } catch {
    return false;
  }
}

// A Postgres server: one database per test file, copied from a migrated template database (CREATE DATABASE
// … TEMPLATE copies files: ~0.1 s against ~0.6 s of server CPU to migrate a schema); one schema per test file
// where the role may not create databases.
let serverSchema: Promise<{ schema: string; url: string; baseline: Baseline; database?: string }> | null =
  null;

function schemaUrl(schema: string): string {
  const u = new URL(PG_URL!);
  u.searchParams.set("schema", schema);
  return u.toString();
}

function databaseUrl(name: string): string {
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdmin<T>(fn: (admin: Database) => Promise<T>): Promise<T> {
  const admin = await openDatabase(PG_URL!, { maxConnections: 1, timeouts: TEST_TIMEOUTS });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await withAdmin((admin) => admin.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

async function dropDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.run(`DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`));
}

let templateDatabase: Promise<string | null> | null = null;

/**
 * The migrated template database, `<test database>_tpl_<hash of the migrations>`: made once (under an advisory
 * lock, migrated under a temporary name, then renamed, so a crash never leaves a half-migrated template) and
 * kept for later runs, as the PGlite templates are. null when this role cannot create databases.
 */
function pgTemplate(): Promise<string | null> {
  templateDatabase ??= (async () => {
    const base = new URL(PG_URL!).pathname.slice(1) || "postgres";
    const name = `${base.slice(0, 30)}_tpl_${await templateKey()}`;
    try {
      return await withAdmin(async (admin) => {
        await admin.run(sql`SELECT pg_advisory_lock(hashtext(${name}))`);
        try {
          const [{ n }] = await admin.rows<{ n: number }>(
            sql`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${name}`,
          );
          if (Number(n) > 0) return name;
          const tmp = `${name}_tmp`;
          await admin.run(`DROP DATABASE IF EXISTS ${q(tmp)} WITH (FORCE)`);
          await admin.run(`CREATE DATABASE ${q(tmp)}`);
          const db = await openDatabase(databaseUrl(tmp), { maxConnections: 1, timeouts: TEST_TIMEOUTS });
          try {
            await migrate(db);
          } finally {
            await db.close();
          }
          await admin.run(`ALTER DATABASE ${q(tmp)} RENAME TO ${q(name)}`);
          return name;
        } finally {
          await admin.run(sql`SELECT pg_advisory_unlock(hashtext(${name}))`);
        }
      });
    } catch {
      return null; // no CREATEDB: schemas instead
    }
  })();
  return templateDatabase;
}

/** A new database copied from the migrated template, or null (no template). */
async function pgDatabaseCopy(): Promise<{ database: string; url: string } | null> {
  const template = await pgTemplate();
  if (!template) return null;
  const database = `${template.slice(0, 40)}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  for (let attempt = 0;; attempt++) {
    try {
      await withAdmin((admin) => admin.run(`CREATE DATABASE ${q(database)} TEMPLATE ${q(template)}`));
      return { database, url: databaseUrl(database) };
    } catch (err) {
      // "source database is being accessed by other users": another file is copying it at this moment.
      if (attempt >= 20 || !/being accessed by other users/.test(String((err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}

/** A second just-migrated database on the server: a copy of the template, else a schema migrated now. */
async function pgMigratedFresh(): Promise<TestDatabase> {
  const copy = await pgDatabaseCopy();
  if (!copy) return await migratedFresh(await pgSchemaFresh());
  const db = await openDatabase(copy.url, { maxConnections: 4, timeouts: TEST_TIMEOUTS });
  return {
    db,
    url: copy.url,
    dispose: async () => {
      await db.close().catch(() => {});
      await dropDatabase(copy.database);
    },
  };
}

async function pgServerShared(): Promise<TestDatabase> {
  serverSchema ??= (async () => {
    const copy = await pgDatabaseCopy();
    const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const url = copy?.url ?? schemaUrl(schema);
    const db = await openDatabase(url, { maxConnections: 1, timeouts: TEST_TIMEOUTS });
    try {
      if (!copy) await migrate(db);
      return {
        schema,
        url,
        database: copy?.database,
        baseline: await captureBaseline((text) => db.rows(sql.raw(text))),
      };
    } finally {
      await db.close();
    }
  })();
  const shared = await serverSchema;
  const db = await openDatabase(shared.url, { maxConnections: 4, timeouts: TEST_TIMEOUTS });
  const [{ f }] = await db.rows<{ f: string }>(sql.raw(FINGERPRINT));
  if (f !== shared.baseline.fingerprint) {
    // The previous test changed the schema: this file goes on in a fresh one.
    await db.close();
    await dropShared(shared).catch(() => {});
    serverSchema = null;
    return await pgServerShared();
  }
  await db.run(shared.baseline.resetSql);
  return { db, url: shared.url, dispose: () => db.close().catch(() => {}) };
}

function dropShared(shared: { schema: string; database?: string }): Promise<void> {
  return shared.database ? dropDatabase(shared.database) : dropSchema(shared.schema);
}

/**
 * The test databases' connections run without the client-side response deadline (pg_socket.ts): its
 * timer, armed while a statement is unanswered, outlives a test that leaves a statement in flight and
 * trips Deno's timer sanitizer in whichever test runs next. The deadline has its own tests
 * (tests/db/response_deadline_test.ts, tests/faults/db_blips_test.ts), on connections they open.
 */
const TEST_TIMEOUTS = { responseTimeoutMs: 0 };

async function pgSchemaFresh(): Promise<TestDatabase> {
  const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const url = schemaUrl(schema);
  const db = await openDatabase(url, { maxConnections: 4, timeouts: TEST_TIMEOUTS });
  return {
    db,
    url,
    dispose: async () => {
      await db.close().catch(() => {});
      await dropSchema(schema);
    },
  };
}

// When the file's tests are done: its server database (or schema) is dropped (left behind, every run's would grow
// the catalog that every test's queries read), its embedded Postgres closed.
Deno.test.afterAll(async () => {
  const shared = await serverSchema?.catch(() => null);
  serverSchema = null;
  if (shared) await dropShared(shared).catch(() => {});
  const lite = await pglite?.catch(() => null);
  pglite = null;
  await lite?.client.close().catch(() => {});
});

/** True when Postgres tests share one database that other processes can reach. */
export const POSTGRES_IS_SERVER = Boolean(PG_URL);

export interface DbTestOptions {
  /** Skip the automatic migration (tests of the migrator itself). */
  migrated?: boolean;
  /** Only these dialects. */
  only?: TestDialect[];
  ignore?: boolean;
  /**
   * The test opens a second connection or process on the same database (replicas, liveness locks):
   * on the embedded PGlite, which is one in-process session, its Postgres half is reported ignored.
   */
  needsServer?: boolean;
  /** false: switch Deno's resource and op sanitizers off for this test (say why at the call). */
  sanitize?: boolean;
}

/**
 * A test whose subject is not the database (HTTP input, tokens, service keys, the OpenAPI document): on libSQL
 * only, the cheaper dialect. What it stands on in the database runs on both in tests/db/store_contract_test.ts;
 * tests of the three layers, backups, seeding and anything dialect-specific stay on both (`dbTest`).
 */
export function singleDialectTest(
  name: string,
  fn: Parameters<typeof dbTest>[1],
  options: Omit<DbTestOptions, "only"> = {},
): void {
  dbTest(name, fn, { ...options, only: ["libsql"] });
}

/** Registers `name [libsql]` and `name [postgres]`, each with its own just-migrated database. */
export function dbTest(
  name: string,
  fn: (
    db: Database,
    ctx: { dialect: TestDialect; url: string },
  ) => Promise<void>,
  options: DbTestOptions = {},
): void {
  for (const dialect of options.only ?? DIALECTS) {
    Deno.test({
      name: `${name} [${dialect}]`,
      ignore: options.ignore || (dialect === "postgres" && options.needsServer && !POSTGRES_IS_SERVER),
      // Deno's leak checks stay on (the file's shared PGlite and the per-test connections leave no
      // Deno resource or pending op behind); `sanitize: false` only where a test says why.
      sanitizeResources: options.sanitize ?? true,
      sanitizeOps: options.sanitize ?? true,
      fn: async () => {
        const t = await openTestDatabase(dialect, options.migrated ?? true);
        try {
          await fn(t.db, { dialect, url: t.url });
        } finally {
          await t.dispose();
        }
      },
    });
  }
}
