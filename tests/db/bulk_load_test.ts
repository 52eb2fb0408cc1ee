/**
 * The dialect's side of a bulk load (src/db/bulk_load.ts), on both dialects: tables emptied and readied,
 * rows in, then foreign keys and indexes back, references checked and identity counters advanced past the
 * loaded ids. The tables live in a transaction each test rolls back.
 */
import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import type { Database, Tx } from "../../src/db/client.ts";
import {
  beginBulkLoad,
  danglingReferences,
  finishBulkLoad,
  jsonRowsInserter,
} from "../../src/db/bulk_load.ts";
import { dbTest, type TestDialect } from "../helpers/db.ts";
import { createPair, rolledBack } from "./scratch_tables.ts";

const TABLES = [{ name: "t_parent", primaryKey: { name: "id" } }, {
  name: "t_child",
  primaryKey: { name: "id" },
}];
const NAMES = TABLES.map((t) => t.name);

/** Loads rows as a restore does: through the JSON inserter where there is one, else plain inserts. */
async function load(db: Database, tx: Tx, parents: number[], children: [number, number][]): Promise<void> {
  const insertJson = jsonRowsInserter(db, tx);
  if (insertJson) {
    await insertJson("t_parent", ["id", "name"], parents.map((id) => JSON.stringify({ id, name: `p${id}` })));
    await insertJson(
      "t_child",
      ["id", "parent_id"],
      children.map(([id, parent]) => JSON.stringify({ id, parent_id: parent })),
    );
    return;
  }
  for (const id of parents) {
    await db.run(sql`INSERT INTO t_parent (id, name) VALUES (${id}, ${`p${id}`})`, tx);
  }
  for (const [id, p] of children) {
    await db.run(sql`INSERT INTO t_child (id, parent_id) VALUES (${id}, ${p})`, tx);
  }
}

const indexesOfChild = async (db: Database, tx: Tx, dialect: TestDialect) =>
  (await db.rows<{ name: string }>(
    dialect === "libsql"
      ? sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 't_child' AND sql IS NOT NULL`
      : sql`SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 't_child'
              AND indexname <> 't_child_pkey'`,
    tx,
  )).map((r) => r.name);

const nextId = async (db: Database, tx: Tx) =>
  Number(
    (await db.rows<{ id: number | string }>(
      sql`INSERT INTO t_parent (name) VALUES ('next') RETURNING id`,
      tx,
    ))[0].id,
  );

dbTest("bulk load: tables emptied, rows in, then indexes and foreign keys back and ids advanced", async (db, {
  dialect,
}) => {
  assert.equal(jsonRowsInserter(db, db.db) !== null, dialect === "postgres", "JSON batches on Postgres only");
  await rolledBack(db, async (tx) => {
    await createPair(db, tx, dialect);
    await db.run("INSERT INTO t_parent (name) VALUES ('old')", tx);
    await db.run("INSERT INTO t_child (parent_id) VALUES (1)", tx);
    const state = await beginBulkLoad(db, tx, NAMES, { dropIndexes: true });
    const count = async (t: string) =>
      Number((await db.rows<{ n: number | string }>(sql.raw(`SELECT count(*) AS n FROM ${t}`), tx))[0].n);
    assert.deepEqual([await count("t_parent"), await count("t_child")], [0, 0], "emptied");
    // Postgres drops the secondary indexes of a large load until the end; libSQL keeps them.
    assert.deepEqual(await indexesOfChild(db, tx, dialect), dialect === "postgres" ? [] : ["t_child_parent"]);
    // Children before their parents: no reference is checked during the load.
    await load(db, tx, [], [[3, 7]]);
    await load(db, tx, [5, 7], []);
    assert.deepEqual(await danglingReferences(db, tx), []);
    await finishBulkLoad(db, tx, state, TABLES);
    assert.deepEqual(await indexesOfChild(db, tx, dialect), ["t_child_parent"], "indexes back");
    assert.equal(await nextId(db, tx), 8, "the identity counter is past the loaded ids");
  });
});

dbTest("bulk load: the ids never go backwards, and without dropIndexes the indexes stay", async (db, {
  dialect,
}) => {
  await rolledBack(db, async (tx) => {
    await createPair(db, tx, dialect);
    for (let i = 0; i < 20; i++) await db.run("INSERT INTO t_parent (name) VALUES ('old')", tx);
    const state = await beginBulkLoad(db, tx, NAMES, { dropIndexes: false });
    assert.deepEqual(await indexesOfChild(db, tx, dialect), ["t_child_parent"]);
    await load(db, tx, [2], []);
    await finishBulkLoad(db, tx, state, TABLES);
    assert.equal(await nextId(db, tx), 21, "ids already handed out are not handed out again");
  });
});

dbTest("bulk load: a dangling reference is found — named on libSQL, refused on Postgres", async (db, {
  dialect,
}) => {
  await rolledBack(db, async (tx) => {
    await createPair(db, tx, dialect);
    const state = await beginBulkLoad(db, tx, NAMES, { dropIndexes: false });
    await load(db, tx, [1], [[1, 1], [2, 99]]);
    if (dialect === "libsql") {
      assert.deepEqual(
        (await danglingReferences(db, tx)).map((r) => [r.table, Number(r.rowid), r.parent]),
        [["t_child", 2, "t_parent"]],
      );
      return;
    }
    assert.deepEqual(
      await danglingReferences(db, tx),
      [],
      "Postgres checks when the foreign key is re-added",
    );
    await assert.rejects(finishBulkLoad(db, tx, state, TABLES), /foreign key|t_child/i);
  });
});
