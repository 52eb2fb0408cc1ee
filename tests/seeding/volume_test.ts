/** --scale N: N rows per module table, deterministic for a random seed, idempotent, batched. */
import assert from "node:assert/strict";
import { asc, like } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { createRandom } from "../../src/seeding/random.ts";
import { dbTest, openTestDatabase } from "../helpers/db.ts";
import { rowCount, service } from "./helpers.ts";
import { VOLUME_RESOURCES, volumeSeeder } from "../../seeders/volume.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { defineSeeder } from "../../src/seeding/types.ts";

const SCALE = 250;

/** The volume rows of a few tables, without ids, owners and timestamps (those depend on the database). */
async function snapshot(db: Database) {
  const t = db.t;
  const leads = await db.db.select().from(t.crmLeads).where(like(t.crmLeads.name, "VOL-%")).orderBy(
    asc(t.crmLeads.name),
  );
  const emps = await db.db.select().from(t.hrEmployees).where(like(t.hrEmployees.employeeNumber, "VOL-%"))
    .orderBy(asc(t.hrEmployees.employeeNumber));
  const trips = await db.db.select().from(t.transportTrips).where(like(t.transportTrips.tripNumber, "VOL-%"))
    .orderBy(asc(t.transportTrips.tripNumber));
  return {
    leads: leads.map((l) => [l.name, l.company, l.email, l.status, l.source, l.valueCents]),
    employees: emps.map((
      e,
    ) => [e.employeeNumber, e.fullName, e.department, e.position, e.hiredAt?.toISOString()]),
    trips: trips.map((
      x,
    ) => [x.tripNumber, x.origin, x.destination, x.distanceKm, x.departedAt?.toISOString()]),
  };
}

dbTest("volume: --scale N adds N rows to every module table; a second run adds none", async (db) => {
  const svc = service(db);
  const r = await svc.execute({ triggeredBy: "t", createBackup: false, scale: SCALE, randomSeed: 7 });
  // Every module table with a volume factory: the eight demo tables, restaurants and menus.
  assert.equal(r.results.seeders.VolumeSeeder.created, SCALE * VOLUME_RESOURCES.length);
  const t = db.t;
  const volume = [
    [t.crmLeads, t.crmLeads.name],
    [t.manufacturingOrders, t.manufacturingOrders.orderNumber],
    [t.hrEmployees, t.hrEmployees.employeeNumber],
    [t.marketingCampaigns, t.marketingCampaigns.name],
    [t.serviceTickets, t.serviceTickets.ticketNumber],
    [t.assets, t.assets.assetTag],
    [t.transportVehicles, t.transportVehicles.plateNumber],
    [t.transportTrips, t.transportTrips.tripNumber],
  ] as const;
  for (const [table, key] of volume) {
    const rows = await db.db.select().from(table).where(like(key, "VOL-%"));
    assert.equal(rows.length, SCALE);
    const orgs = new Set(rows.map((x) => x.organizationId));
    assert.equal(orgs.size, 2, "spread over both demo organizations");
  }
  const trips = await db.db.select().from(t.transportTrips).where(like(t.transportTrips.tripNumber, "VOL-%"));
  const vehicles = new Map(
    (await db.db.select().from(t.transportVehicles)).map((v) => [v.id, v.organizationId]),
  );
  assert.ok(trips.every((x) => x.vehicleId !== null && vehicles.get(x.vehicleId) === x.organizationId));

  const again = await svc.execute({ triggeredBy: "t", createBackup: false, scale: SCALE, randomSeed: 7 });
  assert.deepEqual(again.results.total, { created: 0, updated: 0, deleted: 0 });
  assert.equal(await rowCount(db, t.crmLeads), SCALE + 10);
});

dbTest(
  "volume: seed --scale's progress counts the rows the VolumeSeeder wrote — on a fresh run, a re-run at a larger scale, beside another seeder's bulk insert",
  async (db) => {
    // A seeder of the user's that bulk-inserts too: its rows are no volume data.
    const templates = defineSeeder({
      name: "BulkTemplatesSeeder",
      description: "t",
      dependsOn: [],
      environments: ["test"],
      async seed(ctx) {
        await ctx.bulkInsert(ctx.t.smsTemplates, [{ name: "bulk-a", body: "a" }, {
          name: "bulk-b",
          body: "b",
        }]);
        return ctx.stats;
      },
    });
    const svc = service(db, {
      seeders: [...SEEDERS.filter((s) => s.name !== "VolumeSeeder"), templates, volumeSeeder],
    });
    const run = async (scale: number) => {
      let progress = 0;
      const r = await svc.execute({
        triggeredBy: "t",
        createBackup: false,
        scale,
        randomSeed: 5,
        progress: (n) => progress += n,
      });
      return { progress, created: r.results.seeders.VolumeSeeder.created };
    };
    const fresh = await run(3);
    // What the CLI's progress line expects (its total) is what a fresh run writes.
    assert.deepEqual(fresh, { progress: 3 * VOLUME_RESOURCES.length, created: 3 * VOLUME_RESOURCES.length });
    const larger = await run(5); // the rows 1–3 of each table exist: only the others are written
    assert.ok(larger.created < 5 * VOLUME_RESOURCES.length, JSON.stringify(larger));
    assert.equal(larger.progress, larger.created, "the progress line says the rows written");
    assert.deepEqual(await run(5), { progress: 0, created: 0 }, "a re-run writes nothing and says so");
  },
);

dbTest(
  "volume: the same random seed gives the same rows on a fresh database; another seed does not",
  async (db, { dialect }) => {
    await service(db).execute({ triggeredBy: "t", createBackup: false, scale: 60, randomSeed: 42 });
    const other = await openTestDatabase(dialect);
    const third = await openTestDatabase(dialect);
    try {
      await service(other.db).execute({ triggeredBy: "t", createBackup: false, scale: 60, randomSeed: 42 });
      await service(third.db).execute({ triggeredBy: "t", createBackup: false, scale: 60, randomSeed: 43 });
      const a = await snapshot(db);
      assert.equal(a.leads.length, 60);
      assert.deepEqual(await snapshot(other.db), a);
      const c = await snapshot(third.db);
      assert.notDeepEqual(c.leads, a.leads);
      assert.deepEqual(c.leads.map((l) => l[0]), a.leads.map((l) => l[0]), "same keys, different content");
    } finally {
      await other.dispose();
      await third.dispose();
    }
  },
);

Deno.test("volume: the generator is deterministic per (seed, stream) and streams are independent", () => {
  const draw = (seed: number, stream: string) => {
    const r = createRandom(seed, stream);
    return Array.from({ length: 5 }, () => r.int(0, 1_000_000));
  };
  assert.deepEqual(draw(1, "a"), draw(1, "a"));
  assert.notDeepEqual(draw(1, "a"), draw(2, "a"));
  assert.notDeepEqual(draw(1, "a"), draw(1, "b"));
  const r = createRandom(9);
  for (let i = 0; i < 1000; i++) {
    const v = r.int(3, 5);
    assert.ok(v >= 3 && v <= 5);
  }
});

dbTest(
  "volume: the fast bulk path writes exactly what Drizzle's query builder writes",
  async (db, { dialect }) => {
    await service(db).execute({ triggeredBy: "t", createBackup: false, scale: 40, randomSeed: 5 });
    const slow = await openTestDatabase(dialect);
    try {
      await service(slow.db, { paths: "generic" }).execute({
        triggeredBy: "t",
        createBackup: false,
        scale: 40,
        randomSeed: 5,
      });
      const strip = (rows: Record<string, unknown>[]) =>
        rows.map(({ createdAt: _c, updatedAt: _u, ...rest }) => rest).sort((a, b) =>
          Number(a.id) - Number(b.id)
        );
      const t = db.t;
      for (
        const name of [
          "crmLeads",
          "manufacturingOrders",
          "hrEmployees",
          "marketingCampaigns",
          "serviceTickets",
          "assets",
          "transportVehicles",
          "transportTrips",
        ] as const
      ) {
        const fast = strip(await db.db.select().from(t[name]) as Record<string, unknown>[]);
        const built = strip(await slow.db.db.select().from(slow.db.t[name]) as Record<string, unknown>[]);
        assert.equal(fast.length, built.length, name);
        assert.deepEqual(fast, built, name);
      }
      const [lead] = await db.db.select().from(t.crmLeads).where(like(t.crmLeads.name, "VOL-%")).limit(1);
      assert.ok(lead.createdAt instanceof Date && Math.abs(lead.createdAt.getTime() - Date.now()) < 60_000);
    } finally {
      await slow.dispose();
    }
  },
);

dbTest(
  "volume: a larger --scale adds exactly the difference, menus (whose restaurant is drawn) included",
  async (db) => {
    const svc = service(db);
    const menus = async () =>
      (await db.db.select().from(db.t.menus).where(like(db.t.menus.name, "%VOL-%"))).length;
    const first = await svc.execute({ triggeredBy: "t", createBackup: false, scale: 6, randomSeed: 3 });
    assert.equal(first.results.seeders.VolumeSeeder.created, 6 * VOLUME_RESOURCES.length);
    assert.equal(await menus(), 6);
    const larger = await svc.execute({ triggeredBy: "t", createBackup: false, scale: 10, randomSeed: 3 });
    assert.equal(larger.results.seeders.VolumeSeeder.created, 4 * VOLUME_RESOURCES.length);
    assert.equal(await menus(), 10, "rows 1–6 found by name, wherever their restaurant was drawn");
  },
);
