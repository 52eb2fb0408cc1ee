/**
 * The client-side response deadline (src/db/pg_socket.ts) on a real
 * Postgres: a statement whose connection is black-holed mid-query fails
 * with RESPONSE_TIMEOUT (503) once the server has been silent for
 * DATABASE_RESPONSE_TIMEOUT_MS, instead of waiting minutes for the kernel;
 * bulk work that lifted the statement timeout is never cut; an idle
 * connection is never dropped, whatever it ran before.
 * Story: docs/reliability.md ("A database blip stays a blip").
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { sql } from "drizzle-orm";
import { liftStatementTimeout, openDatabase, responseTimeoutOf } from "../../src/db/client.ts";
import { responseWatches } from "../../src/db/pg_socket.ts";
import { AppError } from "../../src/errors.ts";
import { loadConfig } from "../../src/config.ts";
import { CuttableProxy, within } from "../faults/helpers.ts";

const PG_URL = Deno.env.get("TEST_DATABASE_URL");
const opts = { ignore: !PG_URL };

async function proxied(timeouts: { statementTimeoutMs: number; responseTimeoutMs?: number }) {
  const target = new URL(PG_URL!);
  const proxy = new CuttableProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  proxy.open();
  const u = new URL(PG_URL!);
  u.port = String(proxy.port);
  const db = await openDatabase(u.toString(), {
    maxConnections: 2,
    timeouts: { connectTimeoutSeconds: 1, reconnectMaxMs: 50, ...timeouts },
  });
  return {
    db,
    proxy,
    async dispose() {
      await proxy.cut();
      await db.close(0).catch(() => {});
    },
  };
}

Deno.test("response deadline: follows the statement timeout unless set; config refuses one that would cut it", () => {
  assert.equal(
    responseTimeoutOf({ connectTimeoutSeconds: 5, reconnectMaxMs: 500, statementTimeoutMs: 30_000 }),
    35_000,
  );
  assert.equal(
    responseTimeoutOf({ connectTimeoutSeconds: 5, reconnectMaxMs: 500, statementTimeoutMs: 0 }),
    0,
  );
  assert.equal(
    responseTimeoutOf({
      connectTimeoutSeconds: 5,
      reconnectMaxMs: 500,
      statementTimeoutMs: 0,
      responseTimeoutMs: 9,
    }),
    9,
  );
  const env = { APP_ENV: "test", SECRET_KEY: "x".repeat(40) };
  assert.equal(
    loadConfig({ ...env, DATABASE_RESPONSE_TIMEOUT_MS: "40000" }).database.responseTimeoutMs,
    40_000,
  );
  assert.equal(loadConfig(env).database.responseTimeoutMs, undefined);
  assert.throws(
    () =>
      loadConfig({ ...env, DATABASE_STATEMENT_TIMEOUT_MS: "30000", DATABASE_RESPONSE_TIMEOUT_MS: "30000" }),
    /DATABASE_RESPONSE_TIMEOUT_MS: must exceed DATABASE_STATEMENT_TIMEOUT_MS/,
  );
});

Deno.test({
  ...opts,
  name: "response deadline: a query black-holed mid-flight fails with 503 RESPONSE_TIMEOUT at the deadline",
  async fn() {
    const s = await proxied({ statementTimeoutMs: 300, responseTimeoutMs: 800 });
    try {
      assert.deepEqual(await s.db.rows(sql`SELECT 1 AS one`), [{ one: 1 }]);
      s.proxy.stall();
      const started = performance.now();
      const err = await within(5_000, s.db.rows(sql`SELECT 2 AS two`)).then(() => null, (e) => e);
      const ms = performance.now() - started;
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, "DATABASE_UNAVAILABLE");
      assert.match(err.message, /RESPONSE_TIMEOUT/);
      assert.equal(err.headers?.["Retry-After"], "1");
      assert.ok(ms >= 700 && ms < 2_000, `failed after ${Math.round(ms)} ms`);
      // Inside a transaction too (not lifted): the statement and then the transaction fail.
      const tx = await within(
        5_000,
        s.db.transaction(async (tx) => await s.db.rows(sql`SELECT 3`, tx)),
      ).then(() => null, (e) => e);
      assert.ok(tx instanceof AppError && tx.code === "DATABASE_UNAVAILABLE", String(tx));
      s.proxy.resume();
      assert.deepEqual(await within(5_000, s.db.rows(sql`SELECT 4 AS four`)), [{ four: 4 }]);
    } finally {
      await s.dispose();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "response deadline: bulk work that lifted the statement timeout is never cut, however long it is silent",
  async fn() {
    const db = await openDatabase(PG_URL!, {
      maxConnections: 2,
      timeouts: {
        connectTimeoutSeconds: 1,
        reconnectMaxMs: 50,
        statementTimeoutMs: 200,
        responseTimeoutMs: 400,
      },
    });
    try {
      // Not lifted: the server's statement timeout answers first (57014), never the client's deadline.
      const cut = await db.rows(sql`SELECT pg_sleep(1)`).then(() => null, (e) => e);
      assert.ok(cut instanceof AppError, String(cut));
      assert.equal(cut.code, "SERVICE_UNAVAILABLE", cut.message);
      // Lifted: a silent second and a half, three times the deadline, in one transaction.
      const r = await db.transaction(async (tx) => {
        await liftStatementTimeout(db, tx);
        await db.rows(sql`SELECT pg_sleep(0.7)`, tx);
        return await db.rows<{ ok: number }>(sql`SELECT pg_sleep(0.8), 1 AS ok`, tx);
      });
      assert.equal(r[0].ok, 1);
      // The lift ends with its transaction: the next statement is bounded again.
      const again = await db.rows(sql`SELECT pg_sleep(1)`).then(() => null, (e) => e);
      assert.equal((again as AppError).code, "SERVICE_UNAVAILABLE");
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  ...opts,
  name: "response deadline: whatever a connection ran, once idle it owes nothing and is never dropped",
  async fn() {
    const app = `rd_${crypto.randomUUID().slice(0, 8)}`;
    const u = new URL(PG_URL!);
    u.searchParams.set("application_name", app);
    const db = await openDatabase(u.toString(), {
      maxConnections: 3,
      timeouts: {
        connectTimeoutSeconds: 2,
        reconnectMaxMs: 50,
        statementTimeoutMs: 2_000,
        responseTimeoutMs: 2_500,
      },
    });
    const schema = `rd_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    try {
      await db.run(`CREATE SCHEMA ${schema}`);
      await db.run(`CREATE TABLE ${schema}.t (id int primary key, v text)`);
      const steps = [
        () => db.rows(sql`SELECT 1`),
        () => db.rows(sql`SELECT ${"a value with Z\u0000?".replace("\u0000", "")} AS v, ${42}::int AS n`),
        () => db.run(`SELECT 1; SELECT 2; SELECT 3`), // one simple query, several statements
        () => db.rows(sql.raw(`SELECT nope FROM nowhere`)).catch(() => {}), // an error (extended protocol)
        () => db.run(`SELECT nope FROM nowhere`).catch(() => {}),
        () =>
          db.transaction(async (tx) => {
            await liftStatementTimeout(db, tx);
            await db.run(
              sql.raw(`INSERT INTO ${schema}.t SELECT g, repeat('Z', 200) FROM generate_series(1, 500) g
              ON CONFLICT (id) DO NOTHING`),
              tx,
            );
          }),
        () => db.transaction(async () => await Promise.reject(new Error("rolled back"))).catch(() => {}),
        () => db.rows(sql.raw(`SELECT * FROM ${schema}.t`)), // many DataRows holding 'Z'
        () =>
          Promise.all(
            Array.from({ length: 8 }, (_, i) => db.rows(sql`SELECT ${i}::int AS i, pg_sleep(0.01)`)),
          ),
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat(steps.length - 1), { minLength: 1, maxLength: 12 }),
          async (order) => {
            await Promise.all(order.map((i) => steps[i]()));
          },
        ),
        { numRuns: 15 },
      );
      const pids = async () =>
        (await db.rows<{ pid: number }>(
          sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${app}`,
        ))
          .map((r) => r.pid);
      for (const w of responseWatches) assert.equal(w.lifted, false, "no lift outlives its transaction");
      const before = await pids();
      await new Promise((r) => setTimeout(r, 3_000)); // past the deadline, idle
      assert.ok(
        [...responseWatches].every((w) => w.owed === 0),
        `idle connections still owe answers: ${JSON.stringify([...responseWatches])}`,
      );
      const after = await pids();
      for (const pid of before) assert.ok(after.includes(pid), `connection ${pid} was dropped while idle`);
    } finally {
      await db.run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await db.close();
    }
  },
});

Deno.test({
  ...opts,
  name:
    "timeouts: by default the server cancels statements after 30 s and the client waits 35 s for a silent one",
  async fn() {
    const db = await openDatabase(PG_URL!, { maxConnections: 1 });
    try {
      const [row] = await db.rows<{ statement_timeout: string }>(sql`SHOW statement_timeout`);
      assert.equal(row.statement_timeout, "30s");
      const deadlines = [...responseWatches].map((w) => w.deadlineMs);
      assert.ok(deadlines.length > 0 && deadlines.every((ms) => ms === 35_000), `deadlines: ${deadlines}`);
      // Bulk work lifts it for its transaction only.
      const inside = await db.transaction(async (tx) => {
        await liftStatementTimeout(db, tx);
        return (await db.rows<{ statement_timeout: string }>(sql`SHOW statement_timeout`, tx))[0]
          .statement_timeout;
      });
      assert.equal(inside, "0");
      assert.equal(
        (await db.rows<{ statement_timeout: string }>(sql`SHOW statement_timeout`))[0].statement_timeout,
        "30s",
      );
    } finally {
      await db.close();
    }
  },
});
