/**
 * `Database.prepareRow`: the hot-path read (the security version) is prepared
 * once, yet every call sees what was committed before it — by this handle or
 * by another connection (another replica, the CLI) — and reports a missing
 * table as the unmigrated database it is. On libSQL (a dedicated native read
 * connection) and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { openDatabase } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";

dbTest("prepareRow: prepared once, never stale, across connections", async (db, { url }) => {
  const read = db.prepareRow<{ v: number | string }>("SELECT v FROM hot WHERE k = 'a'");
  // Before the table exists: the unmigrated-database error, and the reader still works afterwards.
  await assert.rejects(read(), (err) => err instanceof AppError && err.code === "DATABASE_NOT_MIGRATED");
  await db.run("CREATE TABLE hot (k text PRIMARY KEY, v integer NOT NULL)");
  assert.equal(await read(), undefined);
  await db.run("INSERT INTO hot (k, v) VALUES ('a', 1)");
  assert.equal(Number((await read())?.v), 1);

  const other = await openDatabase(url, { maxConnections: 1 });
  try {
    for (let i = 2; i <= 20; i++) {
      // Alternate writers: this handle, and another connection to the same database.
      const writer = i % 2 ? db : other;
      await writer.run(`UPDATE hot SET v = ${i} WHERE k = 'a'`);
      assert.equal(Number((await read())?.v), i, `after write ${i}`);
    }
    // A write inside a transaction is seen once it commits, not before.
    await db.transaction(async (tx) => {
      await db.run("UPDATE hot SET v = 100 WHERE k = 'a'", tx);
    });
    assert.equal(Number((await read())?.v), 100);
  } finally {
    await other.close();
  }
  // Another handle on the same database needs a file or a Postgres server (an embedded PGlite is private
  // to its handle).
}, { migrated: false, only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] });

dbTest("prepareRow: a closed database refuses to read", async (_db, { url }) => {
  const second = await openDatabase(url, { maxConnections: 1 });
  await second.run("CREATE TABLE hot2 (v integer)");
  const read = second.prepareRow("SELECT v FROM hot2");
  assert.equal(await read(), undefined);
  await second.close();
  await assert.rejects(read());
}, { migrated: false });

Deno.test("prepareRow (libSQL): the hot reader opens the very file the client opened, percent-encoding and all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-test-" });
  try {
    const db = await openDatabase(`file:${dir}/enc%20X.db`);
    try {
      await db.run("CREATE TABLE hot (v integer)");
      await db.run("INSERT INTO hot VALUES (5)");
      assert.equal(Number((await db.prepareRow<{ v: number }>("SELECT v FROM hot")())?.v), 5);
    } finally {
      await db.close();
    }
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.ok(names.includes("enc X.db"), names.join(", "));
    assert.ok(!names.some((n) => n.includes("%20")), `a second file was created: ${names.join(", ")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
