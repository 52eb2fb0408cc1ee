/**
 * VolumeSeeder (`--scale N`): N realistic rows in each of the eight module
 * tables, spread over the demo organizations and owned by their users,
 * inserted in batches. The same `--random-seed` gives the same rows.
 *
 * Row i is keyed by its number (`VOL-LEAD-000001`, …), not by its content:
 * a re-run with the same scale inserts nothing, and N rows per table means
 * N, whatever seed produced them.
 */
import { asc, inArray, like } from "drizzle-orm";
import { defineSeeder, type NewRow, type SeedContext } from "../src/seeding/types.ts";
import type { Schema } from "../src/db/schema.ts";
import { DEMO_ORGS, DEMO_USERS } from "./demo_data.ts";

const FIRST = [
  "Ava",
  "Liam",
  "Noah",
  "Emma",
  "Olivia",
  "Mateo",
  "Sofia",
  "Yuki",
  "Amara",
  "Ravi",
  "Lena",
  "Omar",
];
const LAST = [
  "Smith",
  "Garcia",
  "Chen",
  "Okafor",
  "Müller",
  "Rossi",
  "Kowalski",
  "Silva",
  "Nguyen",
  "Haddad",
];
const COMPANY = [
  "Harbor",
  "Summit",
  "Golden",
  "Urban",
  "Prairie",
  "Coastal",
  "Maple",
  "Atlas",
  "Crescent",
  "Pioneer",
];
const KIND = ["Foods", "Bistro", "Catering", "Grocers", "Kitchens", "Bakery", "Provisions", "Markets"];
const DEPARTMENTS = ["Operations", "Sales", "Support", "Logistics", "Finance", "Kitchen", "Marketing"];
const POSITIONS = ["Associate", "Specialist", "Coordinator", "Lead", "Supervisor", "Analyst"];
const PRODUCTS = ["Frozen dough", "Sauce base", "Salad mix", "Spice blend", "Meal kit", "Dessert tray"];
const CITIES = ["Springfield", "Shelbyville", "Ogdenville", "Capital City", "North Haverbrook", "Brockway"];
const SUBJECTS = ["Late delivery", "Damaged package", "Billing question", "App login issue", "Missing item"];
const ASSETS = ["Delivery tablet", "Oven", "Freezer", "Laptop", "POS terminal", "Scooter"];
const MODELS = ["Ford Transit", "Mercedes Sprinter", "Isuzu NPR", "Renault Master", "Fiat Ducato"];
const DAY = 86_400_000;
const EPOCH = Date.UTC(2024, 0, 1);

const pad = (i: number) => String(i).padStart(6, "0");

export const volumeSeeder = defineSeeder({
  name: "VolumeSeeder",
  description: "With --scale N: N deterministic rows per module table (batched inserts)",
  dependsOn: ["DemoUsersSeeder"],
  environments: ["development", "test", "production"],
  volume: true,
  async seed(ctx) {
    const n = ctx.options.scale;
    if (n <= 0) return ctx.stats;
    const { t, tx } = ctx;
    const orgs =
      (await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
        .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug))))
        .sort((a, b) =>
          DEMO_ORGS.findIndex((o) => o.slug === a.slug) - DEMO_ORGS.findIndex((o) => o.slug === b.slug)
        );
    if (orgs.length === 0) throw new Error("no demo organization exists to own volume data");
    const users = await tx.select({ id: t.users.id, email: t.users.email, org: t.users.organizationId }).from(
      t.users,
    )
      .where(inArray(t.users.email, DEMO_USERS.map((u) => u.email))).orderBy(asc(t.users.email));
    const owners = orgs.map((o) => users.filter((u) => u.org === o.id).map((u) => u.id));
    if (owners.some((list) => list.length === 0)) {
      throw new Error("every demo organization needs a demo user");
    }

    const gen = <T>(
      stream: string,
      make: (i: number, org: number, owner: number, r: ReturnType<SeedContext["random"]>) => T,
    ) => {
      const r = ctx.random(stream);
      const rows: T[] = [];
      for (let i = 1; i <= n; i++) {
        const k = (i - 1) % orgs.length;
        rows.push(make(i, orgs[k].id, r.pick(owners[k]), r));
      }
      return rows;
    };
    const date = (r: ReturnType<SeedContext["random"]>, spanDays: number) =>
      new Date(EPOCH + r.int(0, spanDays) * DAY);
    const company = (r: ReturnType<SeedContext["random"]>) => `${r.pick(COMPANY)} ${r.pick(KIND)}`;

    await ctx.bulkInsert(
      t.crmLeads,
      gen<NewRow<Schema["crmLeads"]>>("leads", (i, organizationId, ownerId, r) => {
        const c = company(r);
        return {
          organizationId,
          ownerId,
          name: `VOL-LEAD-${pad(i)}`,
          company: c,
          email: `contact${i}@${c.toLowerCase().replace(/\s+/g, "-")}.example`,
          status: r.pick(["new", "contacted", "qualified", "proposal", "won", "lost"]),
          source: r.pick(["website", "referral", "trade show", "outbound"]),
          valueCents: r.int(10_000, 10_000_000),
        };
      }),
    );
    await ctx.bulkInsert(
      t.manufacturingOrders,
      gen("orders", (i, organizationId, ownerId, r) => ({
        organizationId,
        ownerId,
        orderNumber: `VOL-MO-${pad(i)}`,
        product: r.pick(PRODUCTS),
        quantity: r.int(1, 500),
        status: r.pick(["planned", "in_progress", "completed"]),
        dueDate: date(r, 365),
      })),
    );
    await ctx.bulkInsert(
      t.hrEmployees,
      gen("employees", (i, organizationId, ownerId, r) => ({
        organizationId,
        ownerId,
        employeeNumber: `VOL-EMP-${pad(i)}`,
        fullName: `${r.pick(FIRST)} ${r.pick(LAST)}`,
        department: r.pick(DEPARTMENTS),
        position: r.pick(POSITIONS),
        hiredAt: date(r, 1500),
        salaryCents: r.int(3_000_000, 15_000_000),
      })),
    );
    await ctx.bulkInsert(
      t.marketingCampaigns,
      gen("campaigns", (i, organizationId, ownerId, r) => {
        const start = date(r, 365);
        return {
          organizationId,
          ownerId,
          name: `VOL-CAMPAIGN-${pad(i)}`,
          channel: r.pick(["email", "social", "radio", "print", "search"]),
          status: r.pick(["draft", "active", "completed"]),
          budgetCents: r.int(50_000, 5_000_000),
          startsAt: start,
          endsAt: new Date(start.getTime() + r.int(7, 90) * DAY),
        };
      }),
    );
    await ctx.bulkInsert(
      t.serviceTickets,
      gen("tickets", (i, organizationId, ownerId, r) => ({
        organizationId,
        ownerId,
        ticketNumber: `VOL-TCK-${pad(i)}`,
        subject: `${r.pick(SUBJECTS)} (${r.pick(CITIES)})`,
        priority: r.pick(["low", "normal", "high", "urgent"]),
        status: r.pick(["open", "in_progress", "closed"]),
        customerEmail: `customer${r.int(1, 99_999)}@example.com`,
      })),
    );
    await ctx.bulkInsert(
      t.assets,
      gen("assets", (i, organizationId, ownerId, r) => ({
        organizationId,
        ownerId,
        assetTag: `VOL-AST-${pad(i)}`,
        name: r.pick(ASSETS),
        category: r.pick(["equipment", "electronics", "vehicle", "furniture"]),
        status: r.pick(["in_service", "maintenance", "retired"]),
        purchaseValueCents: r.int(10_000, 5_000_000),
      })),
    );
    await ctx.bulkInsert(
      t.transportVehicles,
      gen("vehicles", (i, organizationId, ownerId, r) => ({
        organizationId,
        ownerId,
        plateNumber: `VOL-${pad(i)}`,
        model: r.pick(MODELS),
        capacityKg: r.int(500, 8_000),
        status: r.pick(["available", "on_trip", "maintenance"]),
      })),
    );
    const vehicles = await tx.select({ id: t.transportVehicles.id, org: t.transportVehicles.organizationId })
      .from(t.transportVehicles).where(like(t.transportVehicles.plateNumber, "VOL-%"))
      .orderBy(asc(t.transportVehicles.plateNumber));
    const byOrg = new Map<number, number[]>();
    for (const v of vehicles) byOrg.set(v.org, [...(byOrg.get(v.org) ?? []), v.id]);
    await ctx.bulkInsert(
      t.transportTrips,
      gen("trips", (i, organizationId, ownerId, r) => {
        const fleet = byOrg.get(organizationId) ?? [];
        return {
          organizationId,
          ownerId,
          tripNumber: `VOL-TRP-${pad(i)}`,
          vehicleId: fleet.length ? r.pick(fleet) : null,
          origin: r.pick(CITIES),
          destination: r.pick(CITIES),
          distanceKm: r.int(2, 900),
          status: r.pick(["scheduled", "in_transit", "delivered"]),
          departedAt: date(r, 365),
        };
      }),
    );
    return ctx.stats;
  },
});
