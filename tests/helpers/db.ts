/**
 * Test databases. Every test gets its own: a fresh libSQL file, and a fresh
 * Postgres schema on TEST_DATABASE_URL when it is set, otherwise a fresh
 * embedded Postgres (PGlite) — so the suite passes on a machine with no
 * server. `dbTest` registers one Deno.test per dialect.
 */
import { type Database, openDatabase } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrator.ts";

export type TestDialect = "libsql" | "postgres";
export const DIALECTS: TestDialect[] = ["libsql", "postgres"];

const PG_URL = Deno.env.get("TEST_DATABASE_URL");

export interface TestDatabase {
  db: Database;
  /** The URL a second client (another "replica") can open. */
  url: string;
  dispose(): Promise<void>;
}

/** Opens a fresh, empty database of the dialect (unmigrated unless `migrated`). */
export async function openTestDatabase(
  dialect: TestDialect,
  migrated = true,
): Promise<TestDatabase> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === "libsql") {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-test-" });
    url = `file:${dir}/test.db`;
    cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  } else if (PG_URL) {
    const schema = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const u = new URL(PG_URL);
    u.searchParams.set("schema", schema);
    url = u.toString();
    cleanup = async () => {
      const admin = await openDatabase(PG_URL, { maxConnections: 1 });
      try {
        await admin.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.close();
      }
    };
  } else {
    url = "pglite://memory";
    cleanup = () => Promise.resolve();
  }
  const db = await openDatabase(url, { maxConnections: 4 });
  if (migrated) await migrate(db);
  return {
    db,
    url,
    dispose: async () => {
      await db.close().catch(() => {});
      await cleanup();
    },
  };
}

/** True when Postgres tests share one database that other processes can reach. */
export const POSTGRES_IS_SERVER = Boolean(PG_URL);

export interface DbTestOptions {
  /** Skip the automatic migration (tests of the migrator itself). */
  migrated?: boolean;
  /** Only these dialects. */
  only?: TestDialect[];
  ignore?: boolean;
}

/** Registers `name [libsql]` and `name [postgres]`, each with a fresh database. */
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
      ignore: options.ignore,
      sanitizeResources: false,
      sanitizeOps: false,
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
