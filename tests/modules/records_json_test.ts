/**
 * A module's list page and get are built as JSON straight from the driver's raw rows
 * (src/db/raw_rows.ts, src/modules/records_json.ts). They must answer exactly what Drizzle's rows through
 * `toJson` answer: the same keys in the same order, the same values, the same totals and next position — for
 * any rows (text, nulls, money, booleans, JSON, timestamps of any year), any page (skip / limit, keyset,
 * bounded or exact total) and any record scope, on libSQL and on Postgres.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Database } from "../../src/db/client.ts";
import { type Page, type RecordScope, RecordsRepository } from "../../src/modules/records_repository.ts";
import { pgUtcIso } from "../../src/modules/records_json.ts";
import { timestamptzFromText } from "../../src/db/schema_kit.ts";
import { toJson } from "../../src/modules/resources.ts";
import { dbTest } from "../helpers/db.ts";
import { createWorld, type World } from "../helpers/fixtures.ts";

/** Text Postgres can store (no NUL), in any script. */
const text = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replaceAll("\u0000", ""));
/** Any instant a Date holds from year 1 to 9999, to the millisecond. */
const instant = fc.date({
  min: new Date("0001-01-01T00:00:00.000Z"),
  max: new Date("9999-12-31T23:59:59.999Z"),
  noInvalidDate: true,
});
/** Any instant of years 0001–9999, with years before 1000 (which Drizzle's own mapping misread) often. */
const stored = fc.oneof(
  { arbitrary: instant, weight: 3 },
  {
    arbitrary: fc.date({
      min: new Date("0001-01-01T00:00:00.000Z"),
      max: new Date("0999-12-31T23:59:59.999Z"),
      noInvalidDate: true,
    }),
    weight: 1,
  },
);

/** What a call answers: its value, or the error it throws (both paths must fail alike, if at all). */
async function outcome<T>(f: () => Promise<T>): Promise<{ value: T } | { error: string }> {
  try {
    return { value: await f() };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** Both answers of a list: the raw-row path and Drizzle's rows through toJson. */
async function bothLists(repo: RecordsRepository, s: RecordScope, page: Page) {
  const fast = await outcome(async () => {
    const r = await repo.listJson(s, page);
    assert.ok(r, "the driver offers raw rows (libSQL, postgres.js)");
    return r;
  });
  const old = await outcome(async () => {
    const r = await repo.list(s, page);
    return { ...r, items: r.items.map(toJson) };
  });
  return { fast, old };
}

/** Equal values and the same key order, all the way down (what the HTTP body would show). */
function same(actual: unknown, expected: unknown) {
  assert.deepStrictEqual(actual, expected);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

const scopeOf = (w: World, kind: number, scope: RecordScope["scope"]): RecordScope => {
  const user = [w.admin, w.manager, w.executive, w.executive2][kind];
  return { organizationId: w.acme.id, userId: user.id, scope };
};

const pageArb = fc.record({
  skip: fc.nat({ max: 40 }),
  limit: fc.integer({ min: 1, max: 25 }),
  after: fc.option(fc.nat({ max: 80 }), { nil: undefined }),
  exactTotal: fc.boolean(),
});
const scopeArb = fc.tuple(
  fc.nat({ max: 3 }),
  fc.constantFrom("own" as const, "team" as const, "all" as const),
);

/** Random rows for a table of `db.t` of each field kind (menus: JSON, booleans; campaigns: money, timestamps). */
async function insertRandom(db: Database, w: World, seed: number) {
  const owners = [w.admin.id, w.manager.id, w.executive.id, w.executive2.id];
  const campaigns = fc.sample(
    fc.record({
      name: text,
      channel: text,
      status: fc.constantFrom("draft", "active", "completed"),
      budgetCents: fc.nat({ max: 1e12 }),
      startsAt: fc.option(stored, { nil: null }),
      endsAt: fc.option(stored, { nil: null }),
      createdAt: stored,
      owner: fc.nat({ max: 3 }),
    }),
    { numRuns: 12, seed },
  );
  await db.db.insert(db.t.marketingCampaigns).values(campaigns.map(({ owner, ...c }, i) => ({
    ...c,
    name: `${c.name} ${seed}-${i}`,
    organizationId: w.acme.id,
    ownerId: owners[owner],
  })));
  const [restaurant] = await db.db.insert(db.t.restaurants).values({
    organizationId: w.acme.id,
    ownerId: w.admin.id,
    name: `R ${seed}`,
  }).returning();
  const menus = fc.sample(
    fc.record({
      name: text,
      description: fc.option(text, { nil: null }),
      items: fc.array(fc.record({ name: text, price_cents: fc.integer(), note: fc.option(text) }), {
        maxLength: 4,
      }),
      isActive: fc.boolean(),
      owner: fc.nat({ max: 3 }),
    }),
    { numRuns: 12, seed },
  );
  await db.db.insert(db.t.menus).values(menus.map(({ owner, ...m }, i) => ({
    ...m,
    name: `${m.name} ${seed}-${i}`,
    restaurantId: restaurant.id,
    organizationId: w.acme.id,
    ownerId: owners[owner],
  })));
}

dbTest(
  "records JSON: a list page and a get from raw rows answer exactly what Drizzle's rows through toJson do",
  async (db) => {
    const w = await createWorld(db);
    await db.db.insert(db.t.marketingCampaigns).values({
      organizationId: w.globex.id,
      ownerId: w.otherAdmin.id,
      name: "another tenant's",
      channel: "x",
    });
    const repos = [new RecordsRepository(db, "marketingCampaigns"), new RecordsRepository(db, "menus")];
    let seed = 0;
    let pagesWithRows = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), pageArb, scopeArb, fc.nat({ max: 1 }), async (grow, page, sk, r) => {
        if (grow || seed === 0) await insertRandom(db, w, ++seed);
        const repo = repos[r];
        const s = scopeOf(w, sk[0], sk[1]);
        const p: Page = page.after === undefined ? page : { ...page, skip: 0 };
        const { fast, old } = await bothLists(repo, s, p);
        same(fast, old);
        if ("value" in old && old.value.items.length) pagesWithRows++;
        // The get of every record the page holds (by id, whatever it answers), one past it, another tenant's.
        const page0 = await repo.list(s, { ...p, limit: p.limit });
        const ids = [...page0.items.map((i) => i.id), (page0.items.at(-1)?.id ?? 0) + 1, 1];
        for (const id of ids) {
          const g = await outcome(async () => {
            const r = await repo.getJson(s, id);
            assert.notEqual(r, undefined, "the driver offers raw rows");
            return r;
          });
          same(g, await outcome(async () => await repo.get(s, id).then((o) => o && toJson(o))));
        }
      }),
      { numRuns: 40 },
    );
    assert.ok(pagesWithRows >= 10, `only ${pagesWithRows} of 40 pages compared records`);
  },
  { needsServer: true },
);

dbTest(
  "records JSON: past TOTAL_CAP the bounded and the exact totals are the same on both paths",
  async (db) => {
    const w = await createWorld(db);
    for (let from = 0; from < 1010; from += 500) {
      await db.db.insert(db.t.restaurants).values(
        Array.from({ length: Math.min(500, 1010 - from) }, (_, i) => ({
          organizationId: w.acme.id,
          ownerId: w.admin.id,
          name: `R${from + i}`,
          isActive: i % 2 === 0,
        })),
      );
    }
    const repo = new RecordsRepository(db, "restaurants");
    const s = scopeOf(w, 0, "all");
    for (
      const page of [
        { skip: 0, limit: 20 },
        { skip: 0, limit: 20, exactTotal: true },
        { skip: 995, limit: 20 },
        { skip: 5000, limit: 20 },
        { skip: 5000, limit: 20, exactTotal: true },
        { skip: 0, limit: 20, after: 1_000_000 },
      ]
    ) {
      const { fast, old } = await bothLists(repo, s, page);
      same(fast, old);
    }
  },
  { needsServer: true },
);

Deno.test("records JSON: Postgres's UTC timestamptz text becomes the ISO string of the instant it reads as", () => {
  const pgText = (d: Date, micros: number) => {
    const iso = d.toISOString();
    const frac = String(d.getUTCMilliseconds() * 1000 + micros).padStart(6, "0").replace(/0+$/, "");
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? `.${frac}` : ""}+00`;
  };
  fc.assert(
    fc.property(stored, fc.nat({ max: 999 }), (d, micros) => {
      const t = pgText(d, micros);
      assert.equal(pgUtcIso(t), d.toISOString(), t);
      assert.equal(pgUtcIso(t), timestamptzFromText(t).toISOString(), t);
    }),
    { numRuns: 2000 },
  );
  for (
    const t of [
      "2026-12-03 09:26:40+01",
      "2026-12-03 09:26:40.5+05:30",
      "infinity",
      "0001-12-31 23:00:00+00 BC",
      "10000-01-01 04:00:00+00",
    ]
  ) {
    assert.equal(pgUtcIso(t), undefined, t);
  }
});
