/** Time in SQL (src/db/time.ts) on both dialects: the database's clock, typed timestamp parameters, raw timestamps. */
import assert from "node:assert/strict";
import { eq, sql } from "drizzle-orm";
import { dbNowMs, timestampMs, timestampParam } from "../../src/db/time.ts";
import { dbTest } from "../helpers/db.ts";

dbTest(
  "time: dbNowMs is the database's clock in epoch milliseconds, an integer that moves forward",
  async (db) => {
    const read = async () =>
      (await db.rows<{ now: number | string }>(sql`SELECT ${dbNowMs(db)} AS now`))[0].now;
    const before = Date.now();
    const a = Number(await read());
    await new Promise((r) => setTimeout(r, 5));
    const b = Number(await read());
    assert.ok(Number.isInteger(a) && Number.isInteger(b), `${a}, ${b}`);
    // The test database runs on this host (or in this process): its clock is this clock.
    assert.ok(Math.abs(a - before) < 5_000, `database ${a}, here ${before}`);
    assert.ok(b > a, `${a} then ${b}`);
    // As an expression it compares with stored epoch ms (the lease rows).
    const [{ ok }] = await db.rows<{ ok: unknown }>(
      sql`SELECT CASE WHEN ${dbNowMs(db)} + 60000 > ${before} THEN 1 ELSE 0 END AS ok`,
    );
    assert.equal(Number(ok), 1);
  },
);

dbTest(
  "time: timestampParam is typed for its column, even in a CASE of parameters; timestampMs reads it raw",
  async (
    db,
  ) => {
    const t = db.t.loginThrottles;
    const at = Date.parse("2026-12-03T09:26:40.123Z");
    await db.db.insert(t).values({
      key: "k",
      failures: 1,
      windowStartedAt: new Date(at),
      blockedUntil: null,
    });
    const p = (ms: number) => timestampParam(db, t.blockedUntil, ms);
    // Untyped, a CASE of parameters is text on Postgres, which a timestamptz column refuses.
    await db.db.update(t).set({
      blockedUntil: sql`CASE WHEN ${t.failures} > 0 THEN ${p(at + 1000)} ELSE ${p(at)} END`,
    }).where(eq(t.key, "k"));
    const [row] = await db.db.select().from(t).where(eq(t.key, "k"));
    assert.equal(row.blockedUntil?.getTime(), at + 1000);
    // Compared with the column: a Date works as well as epoch ms.
    const later = await db.db.select({ key: t.key }).from(t).where(
      sql`${t.blockedUntil} > ${timestampParam(db, t.blockedUntil, new Date(at))}`,
    );
    assert.deepEqual(later, [{ key: "k" }]);
    const [{ v }] = await db.rows<{ v: unknown }>(sql`SELECT max(${t.blockedUntil}) AS v FROM ${t}`);
    assert.equal(timestampMs(v), at + 1000, `raw ${typeof v}: ${String(v)}`);
  },
);

Deno.test("time: timestampMs takes epoch ms as a number or bigint, a timestamp as text or Date, else NaN", () => {
  const at = Date.parse("2026-12-03T09:26:40.123Z");
  assert.equal(timestampMs(at), at);
  assert.equal(timestampMs(BigInt(at)), at);
  assert.equal(timestampMs("2026-12-03 09:26:40.123+00"), at);
  assert.equal(timestampMs(new Date(at)), at);
  assert.ok(Number.isNaN(timestampMs("infinity")));
});
