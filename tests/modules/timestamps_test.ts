/**
 * A record's timestamp field round-trips any instant of years 0001–9999 (UTC) on both databases: what a
 * client sends (RFC 3339, any offset) is what the create, the get and the list answer, as the instant's ISO
 * string in UTC. Anything outside those years is a 422 naming the field, on both databases alike (Postgres
 * has no year 0, and a year past 9999 has no four-digit ISO string to answer with). Before the fix a year
 * before 1000 came back from Postgres as 19xx / 20xx or as an invalid date (a 500 on get and list), and a
 * year 0 was stored on libSQL but refused by Postgres (a 500).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { timestamptzFromText } from "../../src/db/schema_kit.ts";
import { RecordsRepository } from "../../src/modules/records_repository.ts";
import { TIMESTAMP_MAX, TIMESTAMP_MIN, toJson } from "../../src/modules/resources.ts";
import { json, testApp } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

const MIN = Date.parse(TIMESTAMP_MIN);
const MAX = Date.parse(TIMESTAMP_MAX);

/** An instant of years 0001–9999, now and then at the edges or before year 1000. */
const instant = fc.oneof(
  { arbitrary: fc.integer({ min: MIN, max: MAX }), weight: 4 },
  { arbitrary: fc.integer({ min: MIN, max: Date.UTC(1000, 0, 1) }), weight: 4 },
  {
    arbitrary: fc.constantFrom(MIN, MAX, Date.UTC(999, 11, 31, 23, 59, 59, 999), Date.UTC(100, 0, 1)),
    weight: 1,
  },
).map((ms) => new Date(ms));

/** An offset in minutes RFC 3339 can write (±23:59). */
const offset = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });

/** `d` as RFC 3339 text in the given offset (local wall time + offset), with 0–6 fraction digits. */
function rfc3339(d: Date, offsetMin: number, fractionDigits: number): string {
  const local = new Date(d.getTime() + offsetMin * 60_000);
  const iso = local.toISOString(); // the four-digit year of a local time inside 0000–9999
  const frac = fractionDigits === 0
    ? ""
    : "." + iso.slice(20, 23).padEnd(fractionDigits, "0").slice(0, fractionDigits);
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  const off = offsetMin === 0 && fractionDigits % 2 === 0
    ? "Z"
    : `${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
  return `${iso.slice(0, 19)}${frac}${off}`;
}

/** What the API answers for an instant sent with `fractionDigits` digits: the instant, to the millisecond. */
function expected(d: Date, fractionDigits: number): string {
  const keep = fractionDigits >= 3 ? 1 : fractionDigits === 2 ? 10 : fractionDigits === 1 ? 100 : 1000;
  const ms = d.getTime();
  return new Date(ms - (((ms % keep) + keep) % keep)).toISOString();
}

async function setup(db: Parameters<Parameters<typeof dbTest>[1]>[0]) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  // Globex is on the enterprise tier: manufacturing orders, whose due_date is a timestamp field.
  const token = await login(app, "admin@globex.test");
  return { w, app, auth: bearer(token) };
}

const post = (auth: Record<string, string>, body: unknown) => ({
  method: "POST",
  headers: { ...auth, "content-type": "application/json" },
  body: JSON.stringify(body),
});

dbTest("timestamps: any instant of years 0001–9999 round-trips through create, get and list", async (db) => {
  const { app, auth } = await setup(db);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(instant, offset, fc.integer({ min: 0, max: 6 }), async (d, off, digits) => {
      // RFC 3339 writes the local time with a four-digit year.
      const localYear = new Date(d.getTime() + off * 60_000).getUTCFullYear();
      fc.pre(localYear >= 0 && localYear <= 9999);
      const sent = rfc3339(d, off, digits);
      const want = expected(d, digits);
      const res = await app.request(
        "/api/v1/manufacturing/orders",
        post(auth, { order_number: `MO-${++n}`, product: "Widget", quantity: 1, due_date: sent }),
      );
      const created = await json(res);
      assert.equal(res.status, 201, `${sent}: ${JSON.stringify(created)}`);
      assert.equal(created.due_date, want, sent);
      const got = await app.request(`/api/v1/manufacturing/orders/${created.id}`, { headers: auth });
      assert.equal(got.status, 200, sent);
      assert.equal((await json(got)).due_date, want, sent);
      const list = await app.request("/api/v1/manufacturing/orders?limit=100", { headers: auth });
      assert.equal(list.status, 200, sent);
      const items = (await json<{ items: { id: number; due_date: string }[] }>(list)).items;
      assert.equal(items.find((i) => i.id === created.id)?.due_date, want, sent);
    }),
    { numRuns: 60 },
  );
});

dbTest(
  "timestamps: an instant outside years 0001–9999 (UTC) is a 422 naming the field, nothing stored",
  async (db) => {
    const { app, auth } = await setup(db);
    const outside = [
      "0000-06-01T00:00:00Z",
      "0000-12-31T23:59:59.999Z",
      "0001-01-01T00:00:00+00:01", // 0000-12-31T23:59Z
      "0001-01-01T00:30:00+01:00",
      "9999-12-31T23:30:00-01:00", // 10000-01-01T00:30Z
      "9999-12-31T23:59:59.9999-00:01",
    ];
    for (const due of outside) {
      const res = await app.request(
        "/api/v1/manufacturing/orders",
        post(auth, { order_number: `X-${due}`, product: "Widget", quantity: 1, due_date: due }),
      );
      const body = await json<{ code: string; errors: { field: string; message: string }[] }>(res);
      assert.equal(res.status, 422, `${due}: ${JSON.stringify(body)}`);
      assert.equal(body.code, "VALIDATION_ERROR");
      assert.deepEqual(body.errors.map((e) => e.field), ["due_date"], due);
      assert.match(body.errors[0].message, /0001-01-01T00:00:00\.000Z to 9999-12-31T23:59:59\.999Z/);
    }
    // The edges themselves are taken; an update is held to the same range.
    const first = await app.request(
      "/api/v1/manufacturing/orders",
      post(auth, { order_number: "EDGE", product: "Widget", quantity: 1, due_date: "0001-01-01T00:00:00Z" }),
    );
    assert.equal(first.status, 201);
    const id = (await json(first)).id;
    const patch = (due: string) =>
      app.request(`/api/v1/manufacturing/orders/${id}`, {
        method: "PATCH",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ due_date: due }),
      });
    const late = await patch("9999-12-31T23:59:59.999Z");
    assert.equal(late.status, 200);
    assert.equal((await json(late)).due_date, TIMESTAMP_MAX);
    const refused = await patch("0000-01-01T00:00:00Z");
    assert.equal(refused.status, 422);
    assert.deepEqual((await json<{ errors: { field: string }[] }>(refused)).errors.map((e) => e.field), [
      "due_date",
    ]);
    const rows = await db.db.select().from(db.t.manufacturingOrders);
    assert.deepEqual(rows.map((r) => r.dueDate?.toISOString()), [TIMESTAMP_MAX]);
  },
);

dbTest(
  "timestamps: stored instants of any year 0001–9999 read back alike on the raw and the Drizzle path",
  async (db) => {
    const w = await createWorld(db);
    const repo = new RecordsRepository(db, "marketingCampaigns");
    const scope = { organizationId: w.acme.id, userId: w.admin.id, scope: "all" as const };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(instant, instant, async (starts, created) => {
        const [row] = await db.db.insert(db.t.marketingCampaigns).values({
          organizationId: w.acme.id,
          ownerId: w.admin.id,
          name: `c${++n}`,
          channel: "x",
          startsAt: starts,
          createdAt: created,
        }).returning();
        assert.equal(row.startsAt?.toISOString(), starts.toISOString());
        assert.equal(row.createdAt.toISOString(), created.toISOString());
        const viaDrizzle = await repo.get(scope, row.id);
        assert.ok(viaDrizzle);
        const asJson = toJson(viaDrizzle);
        assert.equal(asJson.starts_at, starts.toISOString());
        assert.equal(asJson.created_at, created.toISOString());
        const raw = await repo.getJson(scope, row.id);
        // The raw path is there on libSQL and postgres.js (not on the embedded PGlite): the same answer.
        if (raw !== undefined) assert.deepEqual(raw, asJson);
      }),
      { numRuns: 50 },
    );
  },
);

Deno.test("timestamps: Postgres's timestamptz text of any year and offset is read as its instant", () => {
  const cases: [string, string][] = [
    ["2026-12-03 09:26:40.123456+00", "2026-12-03T09:26:40.123Z"],
    ["0999-01-01 00:00:00+00", "0999-01-01T00:00:00.000Z"],
    ["0050-03-01 00:00:00.5+00", "0050-03-01T00:00:00.500Z"],
    ["0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000Z"],
    ["0001-12-31 23:00:00+00 BC", "0000-12-31T23:00:00.000Z"],
    ["0044-03-15 12:00:00+00 BC", "-000043-03-15T12:00:00.000Z"],
    ["10000-01-01 04:00:00+00", "+010000-01-01T04:00:00.000Z"],
    ["2026-12-03 10:26:40+01", "2026-12-03T09:26:40.000Z"],
    ["2026-12-03 14:56:40.1+05:30", "2026-12-03T09:26:40.100Z"],
    ["2026-12-03 05:26:40-04", "2026-12-03T09:26:40.000Z"],
    ["1850-01-01 00:53:28+00:53:28", "1850-01-01T00:00:00.000Z"],
  ];
  for (const [text, iso] of cases) assert.equal(timestamptzFromText(text).toISOString(), iso, text);
  assert.ok(Number.isNaN(timestamptzFromText("infinity").getTime()));
  // Postgres's UTC text of any instant of years 0001–9999, with microseconds: that instant, truncated.
  fc.assert(
    fc.property(instant, fc.nat({ max: 999 }), (d, micros) => {
      const iso = d.toISOString();
      const frac = String(d.getUTCMilliseconds() * 1000 + micros).padStart(6, "0").replace(/0+$/, "");
      const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ""}+00`;
      assert.equal(timestamptzFromText(text).toISOString(), iso, text);
    }),
    { numRuns: 2000 },
  );
});
