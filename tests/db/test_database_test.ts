/**
 * The test helper's promise: every dbTest starts from the just-migrated state, whatever the test before it
 * left behind (rows, sequence positions, session settings, schema changes, a closed database), although
 * the Postgres half shares one migrated database per test file (tests/helpers/db.ts).
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { dbTest, openTestDatabase } from "../helpers/db.ts";
import type { Database } from "../../src/db/client.ts";

async function organizationsAfterInsert(db: Database): Promise<{ ids: number[]; version: number }> {
  const [{ n }] = await db.rows<{ n: number }>(sql`SELECT count(*) AS n FROM organizations`);
  assert.equal(Number(n), 0, "the previous test's rows are gone");
  const rows = await db.db.insert(db.t.organizations).values([
    { name: "A", slug: "a", licenseTier: "starter" },
    { name: "B", slug: "b", licenseTier: "starter" },
  ]).returning({ id: db.t.organizations.id });
  const [{ v }] = await db.rows<{ v: number }>(
    sql`SELECT version AS v FROM security_versions WHERE scope = 'access'`,
  );
  return { ids: rows.map((r) => r.id), version: Number(v) };
}

async function timeZone(db: Database): Promise<string | null> {
  if (db.dialect !== "postgres") return null;
  const [{ tz }] = await db.rows<{ tz: string }>(sql`SELECT current_setting('TimeZone') AS tz`);
  return tz;
}

// Registered several times over: each run checks what the one before left behind.
let first: { ids: number[]; version: number } | undefined;
for (let i = 0; i < 3; i++) {
  dbTest(
    `test database ${i}: empty, ids from the start, security version and settings as migrated`,
    async (db) => {
      assert.notEqual(await timeZone(db), "Pacific/Chatham");
      const got = await organizationsAfterInsert(db);
      assert.deepEqual(got.ids, [1, 2]);
      if (db.dialect === "postgres") {
        first ??= got;
        assert.deepEqual(got, first);
        await db.run("SET TimeZone = 'Pacific/Chatham'"); // left behind for the next run
      }
    },
  );
}

dbTest("test database: a test that changes the schema and closes its database", async (db) => {
  await db.run("CREATE TABLE stray (x integer)");
  await db.close();
});

dbTest("test database: the next one has neither the table nor a closed database", async (db) => {
  const [{ n }] = await db.rows<{ n: number }>(
    db.dialect === "postgres"
      ? sql`SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'stray'`
      : sql`SELECT count(*) AS n FROM sqlite_master WHERE name = 'stray'`,
  );
  assert.equal(Number(n), 0);
  await organizationsAfterInsert(db);
});

dbTest(
  "test database: a second database opened during a test is another one, migrated",
  async (db, { dialect }) => {
    await organizationsAfterInsert(db);
    const other = await openTestDatabase(dialect);
    try {
      const [{ n }] = await other.db.rows<{ n: number }>(sql`SELECT count(*) AS n FROM organizations`);
      assert.equal(Number(n), 0);
      const [{ m }] = await db.rows<{ m: number }>(sql`SELECT count(*) AS m FROM organizations`);
      assert.equal(Number(m), 2, "opening the second database left the first one alone");
    } finally {
      await other.dispose();
    }
  },
);
