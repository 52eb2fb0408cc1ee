/**
 * libSQL reads outside transactions run on the hot reader (a read-only
 * connection with cached prepared statements, src/db/libsql.ts). They must be
 * indistinguishable from the client's: same rows (by index and by name), same
 * columns, same errors, and never stale — whoever committed, whenever.
 */
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { openLibsql } from "../../src/db/libsql.ts";

async function withFile(fn: (url: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-reader-" });
  try {
    await fn(`file:${dir}/r.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Everything a caller can observe of a result set. */
function observe(
  rs: { columns: string[]; columnTypes: string[]; rows: ArrayLike<unknown>[]; rowsAffected: number },
) {
  return {
    columns: rs.columns,
    columnTypes: rs.columnTypes,
    rowsAffected: rs.rowsAffected,
    rows: rs.rows.map((r) => ({
      length: r.length,
      byIndex: Array.from(r, (v) => v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v),
      keys: Object.keys(r),
      entries: Object.entries(r).map(([k, v]) => [k, v instanceof ArrayBuffer ? [...new Uint8Array(v)] : v]),
      // Every own property, in order, with its attributes (indexes are not enumerable, `length` is hidden).
      properties: Reflect.ownKeys(r).map((k) => {
        const { value, ...attributes } = Object.getOwnPropertyDescriptor(r, k)!;
        return [String(k), attributes, value instanceof ArrayBuffer ? [...new Uint8Array(value)] : value];
      }),
    })),
  };
}

Deno.test("libSQL reader: results and errors are the client's, for every value type", async () => {
  await withFile(async (url) => {
    const { client } = await openLibsql(url);
    const plain = createClient({ url, intMode: "number" });
    try {
      await client.execute(
        "CREATE TABLE v (id integer PRIMARY KEY, t text, r real, b blob, n integer, big integer, flag integer)",
      );
      await client.execute({
        sql:
          "INSERT INTO v VALUES (1, 'héllo', 1.5, x'00ff10', NULL, 9007199254740991, 1), (2, '', -0.25, x'', 7, -3, 0)",
        args: [],
      });
      const cases: { sql: string; args: unknown[] }[] = [
        { sql: "SELECT * FROM v ORDER BY id", args: [] },
        {
          sql: 'select id, t as "id", count(*) over () as total from v where id >= ? order by id',
          args: [1],
        },
        { sql: "SELECT * FROM v WHERE flag = ?", args: [true] },
        { sql: "SELECT ? AS d, ? AS s, ? AS n", args: [new Date(5000), "x", null] },
        { sql: "SELECT * FROM v WHERE id > ?", args: [100] }, // no rows
      ];
      for (const c of cases) {
        // deno-lint-ignore no-explicit-any
        const ours = await client.execute({ sql: c.sql, args: c.args as any });
        // deno-lint-ignore no-explicit-any
        const theirs = await plain.execute({ sql: c.sql, args: c.args as any });
        assert.deepEqual(observe(ours), observe(theirs), c.sql);
        assert.deepEqual(
          JSON.parse(JSON.stringify(ours)),
          JSON.parse(JSON.stringify(theirs)),
          `${c.sql} (toJSON)`,
        );
      }
      // A large blob serialises like the client's (toJSON: base64).
      await client.execute({
        sql: "INSERT INTO v (id, b) VALUES (3, ?)",
        args: [new Uint8Array(1_000_000).fill(7)],
      });
      const big = { sql: "SELECT b FROM v WHERE id = ?", args: [3] };
      assert.equal(JSON.stringify(await client.execute(big)), JSON.stringify(await plain.execute(big)));
      await client.execute("DELETE FROM v WHERE id = 3");
      // Errors are the client's own (the reader hands failures over).
      for (const bad of ["SELECT * FROM missing", "SELECT nope FROM v", "SELECT big * 1000 FROM v"]) {
        const a = await client.execute(bad).then(() => null, (e) => e);
        const b = await plain.execute(bad).then(() => null, (e) => e);
        assert.ok(a && b, bad);
        assert.equal(a.constructor.name, b.constructor.name, bad);
        assert.equal(a.message, b.message, bad);
        assert.equal(a.code, b.code, bad);
      }
      // More distinct statements than the cache holds: evicted ones are prepared again.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 600; i++) {
          const rs = await client.execute({ sql: `SELECT ${i} AS i, count(*) AS n FROM v`, args: [] });
          assert.deepEqual([rs.rows[0].i, rs.rows[0].n], [i, 2]);
        }
      }
    } finally {
      plain.close();
      client.close();
    }
  });
});

Deno.test("libSQL reader: never stale — commits by this client, in a transaction, or by another connection", async () => {
  await withFile(async (url) => {
    const { client } = await openLibsql(url);
    const other = createClient({ url, intMode: "number" });
    try {
      await client.execute("CREATE TABLE c (k text PRIMARY KEY, v integer)");
      await client.execute("INSERT INTO c VALUES ('a', 0)");
      const read = async () =>
        (await client.execute({ sql: "SELECT v FROM c WHERE k = ?", args: ["a"] })).rows[0].v;
      for (let i = 1; i <= 30; i++) {
        if (i % 3 === 0) await other.execute({ sql: "UPDATE c SET v = ? WHERE k = 'a'", args: [i] });
        else if (i % 3 === 1) await client.execute({ sql: "UPDATE c SET v = ? WHERE k = 'a'", args: [i] });
        else {
          const tx = await client.transaction("write");
          await tx.execute({ sql: "UPDATE c SET v = ? WHERE k = 'a'", args: [i] });
          await tx.commit();
        }
        assert.equal(await read(), i, `after write ${i}`);
      }
      // While this process holds a write transaction, a read outside it answers at once, with what is
      // committed (it no longer queues behind the transaction); the commit is seen right after.
      const tx = await client.transaction("write");
      await tx.execute("UPDATE c SET v = 99 WHERE k = 'a'");
      assert.equal(await read(), 30);
      await tx.commit();
      assert.equal(await read(), 99);
      // Schema changes are picked up by cached statements, and by statements first prepared after them.
      const all = async () =>
        Object.keys((await client.execute({ sql: "SELECT * FROM c WHERE k = ?", args: ["a"] })).rows[0]);
      assert.deepEqual(await all(), ["k", "v"]);
      await other.execute("ALTER TABLE c ADD COLUMN u integer DEFAULT 4");
      assert.deepEqual(await all(), ["k", "v", "u"]);
      await client.execute("ALTER TABLE c ADD COLUMN w integer DEFAULT 5");
      assert.deepEqual(
        Object.keys((await client.execute({ sql: "SELECT * FROM c WHERE k = ?", args: ["a"] })).rows[0]),
        ["k", "v", "u", "w"],
      );
    } finally {
      other.close();
      client.close();
    }
    // Closed: reads fail as the client's do.
    await assert.rejects(client.execute("SELECT 1"));
  });
});

Deno.test('libSQL reader: paths "generic" reads through the client alone, with the same answers', async () => {
  await withFile(async (url) => {
    const fast = await openLibsql(url);
    const generic = await openLibsql(url, undefined, "generic");
    try {
      assert.ok(fast.prepareRow, "the fast path has the hot reader");
      assert.equal(generic.prepareRow, null, "the generic path has none");
      await fast.client.execute("CREATE TABLE g (k text PRIMARY KEY, v integer, b blob)");
      await fast.client.execute("INSERT INTO g VALUES ('a', 1, x'00ff'), ('b', NULL, NULL)");
      for (
        const sql of [
          "SELECT * FROM g ORDER BY k",
          "SELECT count(*) AS n FROM g",
          "SELECT v FROM g WHERE k = 'z'",
        ]
      ) {
        assert.deepEqual(
          observe(await generic.client.execute(sql)),
          observe(await fast.client.execute(sql)),
          sql,
        );
      }
    } finally {
      generic.client.close();
      fast.client.close();
    }
  });
});
