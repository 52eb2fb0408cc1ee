/**
 * Driver canary: the fast paths in src/db/ lean on driver internals (Drizzle's private transaction
 * session, postgres.js's `$client` and a query's resolve/reject hooks). These tests fail loudly, naming
 * the pinned version, when an upgrade moves them — before the fast paths quietly fall back or break.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import {
  DriverShapeError,
  PINNED_DRIVERS,
  postgresJsClient,
  postgresJsOfTransaction,
  queryHooks,
  requireTransactionDriver,
} from "../../src/db/driver_internals.ts";
import { openCopyIn, postgresJsOfTx } from "../../src/db/pg_copy.ts";
import { noDelaySocket } from "../../src/db/pg_socket.ts";
import { rawValuesOf } from "../../src/db/raw_rows.ts";
import { eq, getTableColumns, getTableName, isTable, sql } from "drizzle-orm";
import { pgSchema } from "../../src/db/schema.ts";
import { timestamptzFromText } from "../../src/db/schema_kit.ts";

Deno.test("driver canary: deno.json pins exactly the driver versions the internals were read from", async () => {
  const { imports } = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  for (const [name, version] of Object.entries(PINNED_DRIVERS)) {
    if (name === "postgres") continue; // vendor/postgres, checked below
    assert.equal(
      imports[name],
      `npm:${name}@${version}`,
      `deno.json's ${name} is not ${version}: re-read src/db/driver_internals.ts against the new version, then update PINNED_DRIVERS`,
    );
  }
});

Deno.test("driver canary: the postgres.js in use is vendor/postgres, with Seedbed's patch applied", async () => {
  const { imports } = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(
    imports.postgres,
    "./vendor/postgres/src/index.js",
    "deno.json maps postgres to vendor/postgres",
  );
  const vendored = JSON.parse(
    await Deno.readTextFile(new URL("../../vendor/postgres/package.json", import.meta.url)),
  );
  assert.equal(
    vendored.version,
    PINNED_DRIVERS.postgres,
    `vendor/postgres is ${vendored.version}, src/db/driver_internals.ts was read from ${PINNED_DRIVERS.postgres}`,
  );
  // Every line the patch adds is in the files postgres.js is loaded from.
  const patch = await Deno.readTextFile(new URL("../../vendor/postgres/seedbed.patch", import.meta.url));
  const loaded = new URL("../", import.meta.resolve("postgres")); // the package root (src/index.js is its entry)
  let file = "";
  let added = 0;
  for (const line of patch.split("\n")) {
    if (line.startsWith("+++ b/")) {
      file = await Deno.readTextFile(new URL(line.slice("+++ b/".length), loaded));
    } else if (line.startsWith("+") && line.trim() !== "+") {
      added++;
      assert.ok(
        file.includes(line.slice(1)),
        `postgres.js is loaded without Seedbed's patch (${line.slice(1).trim()})`,
      );
    }
  }
  assert.ok(added > 10, "the patch adds its lines");
});

dbTest("driver canary: a Drizzle transaction still carries its raw connection", async (db, { url }) => {
  await db.transaction(async (tx) => {
    const run = requireTransactionDriver(db, tx);
    assert.equal(typeof await run("SELECT 1", []), "number");
    if (url.startsWith("postgres")) {
      assert.ok(
        postgresJsClient(db),
        `drizzle-orm@${PINNED_DRIVERS["drizzle-orm"]}: db.$client is postgres.js`,
      );
      assert.ok(postgresJsOfTransaction(db, tx), "tx.session.client is postgres.js");
    }
  });
});

Deno.test("driver canary: a postgres.js query still has the resolve/reject hooks openCopyIn takes over", async () => {
  // Queries are lazy: nothing connects until one is awaited.
  const sql = postgres("postgres://canary@127.0.0.1:1/canary", { max: 1, connect_timeout: 1 });
  try {
    const hooks = queryHooks(sql.unsafe("SELECT 1"));
    assert.equal(hooks.active, false);
  } finally {
    await sql.end({ timeout: 0 });
  }
});

dbTest(
  "driver canary: COPY FROM STDIN reports its real outcome through the taken-over hooks",
  async (db) => {
    await db.run("CREATE TEMP TABLE canary (n integer NOT NULL)");
    await db.transaction(async (tx) => {
      const pg = postgresJsOfTx(db, tx)!;
      const ok = await openCopyIn(pg, "COPY canary (n) FROM STDIN");
      ok.stream.write("1\n2\n");
      ok.stream.end();
      await ok.done;
      const bad = await openCopyIn(pg, "COPY canary (n) FROM STDIN");
      bad.stream.write("not a number\n");
      bad.stream.end();
      await assert.rejects(bad.done, /invalid input syntax/);
    }).catch((err) => {
      if (!/invalid input syntax|current transaction is aborted/.test(String(err))) throw err;
    });
  },
  { only: ["postgres"], ignore: !POSTGRES_IS_SERVER },
);

Deno.test({
  name: "driver canary: postgres.js still opens its connections through the `socket` option (TCP_NODELAY)",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  fn: async () => {
    const make = noDelaySocket();
    let made = 0;
    const sql = postgres(Deno.env.get("TEST_DATABASE_URL")!, {
      max: 1,
      onnotice: () => {},
      ...{ socket: (o: Parameters<typeof make>[0]) => (made++, make(o)) },
    });
    try {
      assert.deepEqual([...await sql`SELECT 1 AS one`], [{ one: 1 }]);
      assert.equal(
        made,
        1,
        `postgres@${PINNED_DRIVERS.postgres} no longer calls options.socket: TCP_NODELAY is lost`,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test("driver canary: a simulated change fails loudly, naming the pinned version", () => {
  // postgres.js without the hooks (as if a release renamed them).
  assert.throws(
    () => queryHooks({ writable() {}, readable() {} }),
    (err: unknown) =>
      err instanceof DriverShapeError &&
      err.message.includes(`postgres@${PINNED_DRIVERS.postgres}`) &&
      /resolve\(\), reject\(\), active/.test(err.message),
  );
  // Drizzle without the private session (as if a release renamed `session`).
  const fakeDb = { dialect: "postgres" } as Parameters<typeof requireTransactionDriver>[0];
  assert.throws(
    () => requireTransactionDriver(fakeDb, {} as never),
    (err: unknown) =>
      err instanceof DriverShapeError && err.message.includes(`drizzle-orm@${PINNED_DRIVERS["drizzle-orm"]}`),
  );
});

dbTest(
  "driver canary: a prepared select still yields its rows as raw values (the record reads' fast path)",
  async (db) => {
    const t = db.t.organizations;
    const [org] = await db.db.insert(t).values({ name: "Canary", slug: "canary" }).returning();
    const q = db.db.select({ id: t.id, name: t.name, createdAt: t.createdAt }).from(t)
      .where(eq(t.id, sql.placeholder("id"))).prepare("canary_raw_values");
    const raw = rawValuesOf(db, q);
    if (db.dialect === "postgres" && !POSTGRES_IS_SERVER) {
      assert.equal(raw, null, "PGlite: Drizzle's path serves");
      return;
    }
    assert.ok(
      raw,
      `drizzle-orm@${
        PINNED_DRIVERS["drizzle-orm"]
      }: a prepared query no longer carries values() (libSQL) or client / queryString / params (postgres.js)`,
    );
    const rows = await raw({ id: org.id });
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0][0], rows[0][1]], [org.id, "Canary"]);
    const created = t.createdAt.mapFromDriverValue(rows[0][2] as never) as Date;
    assert.equal(created.getTime(), org.createdAt.getTime());
    assert.equal((await raw({ id: -1 })).length, 0);
    // On Postgres a named prepared statement, bound again on each connection that has it.
    for (let i = 0; i < 12; i++) {
      assert.deepEqual(Array.from((await raw({ id: org.id }))[0]), Array.from(rows[0]));
    }
  },
);

Deno.test("driver canary: every timestamptz column reads Postgres's text with timestamptzFromText (any year)", () => {
  let columns = 0;
  for (const table of Object.values(pgSchema)) {
    if (!isTable(table)) continue;
    for (const column of Object.values(getTableColumns(table))) {
      if (column.columnType !== "PgTimestamp") continue;
      columns++;
      assert.equal(
        column.mapFromDriverValue,
        timestamptzFromText,
        `${getTableName(table)}.${column.name}: drizzle-orm@${
          PINNED_DRIVERS["drizzle-orm"]
        } no longer builds the column through the builder's build() (src/db/schema_kit.ts pgTs)`,
      );
    }
  }
  assert.ok(columns > 20, `only ${columns} timestamptz columns found`);
});
