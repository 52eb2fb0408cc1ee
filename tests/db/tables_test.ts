/**
 * The database's tables from its own catalog (`listTables`) and emptying some of them (`emptyTables`,
 * src/db/tables.ts), on both dialects. The tables a test makes live in a transaction it rolls back.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database, Tx } from "../../src/db/client.ts";
import { MIGRATIONS_TABLE } from "../../src/db/migrator.ts";
import { emptyTables, listTables } from "../../src/db/tables.ts";
import { dbTest } from "../helpers/db.ts";
import { createPair, rolledBack } from "./scratch_tables.ts";

const count = async (db: Database, tx: Tx, table: string) =>
  Number((await db.rows<{ n: number | string }>(sql.raw(`SELECT count(*) AS n FROM ${table}`), tx))[0].n);

dbTest("tables: listTables names every table of the database, sorted, without SQLite's own", async (db) => {
  const names = await listTables(db);
  for (const t of ["organizations", "users", "backups", MIGRATIONS_TABLE]) assert.ok(names.includes(t), t);
  assert.deepEqual(names, [...names].sort());
  assert.deepEqual(names.filter((n) => n.startsWith("sqlite_")), []);
  await rolledBack(db, async (tx) => {
    await db.run("CREATE TABLE t_new (id integer PRIMARY KEY)", tx);
    assert.ok((await listTables(db, tx)).includes("t_new"), "read through the executor given");
  });
  assert.ok(!(await listTables(db)).includes("t_new"));
});

dbTest(
  "tables: emptyTables empties the listed tables in any order, restarts their ids, and no other",
  async (db, {
    dialect,
  }) => {
    await rolledBack(db, async (tx) => {
      await createPair(db, tx, dialect);
      await db.run("INSERT INTO t_parent (name) VALUES ('a'), ('b')", tx);
      await db.run("INSERT INTO t_child (parent_id) VALUES (1), (2), (2)", tx);
      // Only the child: the parents stay.
      await emptyTables(db, tx, ["t_child"]);
      assert.equal(await count(db, tx, "t_child"), 0);
      assert.equal(await count(db, tx, "t_parent"), 2);
      await db.run("INSERT INTO t_child (parent_id) VALUES (1)", tx);
      // Parents listed first: a RESTRICT reference among the listed tables never blocks it.
      await emptyTables(db, tx, ["t_parent", "t_child"]);
      assert.equal(await count(db, tx, "t_parent"), 0);
      assert.equal(await count(db, tx, "t_child"), 0);
      const [row] = await db.rows<{ id: number | string }>(
        sql`INSERT INTO t_parent (name) VALUES ('c') RETURNING id`,
        tx,
      );
      assert.equal(Number(row.id), 1, "ids start from 1 again");
      await emptyTables(db, tx, []); // nothing to do
      assert.equal(await count(db, tx, "t_parent"), 1);
    });
  },
);
