/**
 * Small dialect helpers of src/db/client.ts and database_url.ts on both dialects: a dialect's name for
 * people, the snapshot transaction a backup reads in, and which driver a DATABASE_URL selects.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { dialectName, snapshotTransaction } from "../../src/db/client.ts";
import { databaseKind } from "../../src/db/database_url.ts";
import { dbTest } from "../helpers/db.ts";

dbTest("client: dialectName says libSQL or Postgres", (db, { dialect }) => {
  assert.equal(dialectName(db.dialect), dialect === "libsql" ? "libSQL" : "Postgres");
  assert.equal(dialectName("sqlite"), "libSQL");
  assert.equal(dialectName("postgres"), "Postgres");
  return Promise.resolve();
});

dbTest(
  "client: snapshotTransaction runs fn in one transaction (Postgres: repeatable read, read only)",
  async (
    db,
    { dialect },
  ) => {
    const t = db.t.organizations;
    await db.db.insert(t).values({ name: "Acme", slug: "acme" });
    const n = await snapshotTransaction(db, async (tx) => {
      const [{ c }] = await db.rows<{ c: number | string }>(sql`SELECT count(*) AS c FROM organizations`, tx);
      if (dialect === "postgres") {
        const [{ iso }] = await db.rows<{ iso: string }>(
          sql`SELECT current_setting('transaction_isolation') AS iso`,
          tx,
        );
        const [{ ro }] = await db.rows<{ ro: string }>(
          sql`SELECT current_setting('transaction_read_only') AS ro`,
          tx,
        );
        assert.deepEqual([iso, ro], ["repeatable read", "on"]);
      }
      return Number(c);
    });
    assert.equal(n, 1, "fn's result");
    if (dialect === "postgres") {
      await assert.rejects(
        snapshotTransaction(db, (tx) => tx.insert(t).values({ name: "B", slug: "b" })),
        (err: Error) => /read-only/.test(String((err.cause as Error | undefined)?.message ?? err.message)),
      );
    }
  },
);

Deno.test("client: databaseKind reads the driver from the URL alone", () => {
  for (const url of [":memory:", "file:./x.db", "libsql://db.example.com", "https://db.example.com"]) {
    assert.equal(databaseKind(url), "libsql", url);
  }
  for (const url of ["postgres://u@h/db", "postgresql://u@h/db?schema=s"]) {
    assert.equal(databaseKind(url), "postgres");
  }
  for (const url of ["mysql://h/db", "pglite://memory", ""]) assert.equal(databaseKind(url), null, url);
});
