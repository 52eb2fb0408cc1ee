/**
 * DemoModuleDataSeeder: a few rows in every module table (CRM, HR,
 * marketing, service, asset, transport, and some manufacturing orders) for
 * each demo organization, owned by its admin, manager and executive. Keyed
 * by each table's natural key within the organization.
 */
import { inArray } from "drizzle-orm";
import { defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { DEMO_MODULE_ROWS, DEMO_ORGS, DEMO_USERS, type DemoRole } from "./demo_data.ts";

export const demoModuleDataSeeder = defineSeeder({
  name: "DemoModuleDataSeeder",
  description:
    "Demo module data (HR, CRM, marketing, service, asset, transport, manufacturing) per organization",
  dependsOn: ["DemoUsersSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    const { t, tx } = ctx;
    const orgs = await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
      .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug)));
    const users = await tx.select({ id: t.users.id, email: t.users.email }).from(t.users)
      .where(inArray(t.users.email, DEMO_USERS.map((u) => u.email)));
    const idByEmail = new Map(users.map((u) => [u.email, u.id]));

    for (const org of orgs) {
      const data = DEMO_MODULE_ROWS[org.slug];
      const organizationId = org.id;
      const owner = (key: DemoRole) => {
        const u = DEMO_USERS.find((d) => d.org === org.slug && d.key === key)!;
        const id = idByEmail.get(u.email);
        if (id === undefined) throw new Error(`demo user ${u.email} does not exist`);
        return id;
      };
      for (const { owner: o, name, ...rest } of data.leads) {
        await ctx.getOrCreate(t.crmLeads, { organizationId, name }, { ...rest, ownerId: owner(o) });
      }
      for (const { owner: o, employeeNumber, ...rest } of data.employees) {
        await ctx.getOrCreate(t.hrEmployees, { organizationId, employeeNumber }, {
          ...rest,
          ownerId: owner(o),
          hiredAt: new Date("2023-03-01T00:00:00Z"),
        });
      }
      for (const { owner: o, name, ...rest } of data.campaigns) {
        await ctx.getOrCreate(t.marketingCampaigns, { organizationId, name }, { ...rest, ownerId: owner(o) });
      }
      for (const { owner: o, ticketNumber, ...rest } of data.tickets) {
        await ctx.getOrCreate(t.serviceTickets, { organizationId, ticketNumber }, {
          ...rest,
          ownerId: owner(o),
          customerEmail: "customer@example.com",
        });
      }
      for (const { owner: o, assetTag, ...rest } of data.assets) {
        await ctx.getOrCreate(t.assets, { organizationId, assetTag }, { ...rest, ownerId: owner(o) });
      }
      const vehicleIds = new Map<string, number>();
      for (const { owner: o, plateNumber, ...rest } of data.vehicles) {
        const { row } = await ctx.getOrCreate(t.transportVehicles, { organizationId, plateNumber }, {
          ...rest,
          ownerId: owner(o),
        });
        vehicleIds.set(plateNumber, row.id);
      }
      for (const { owner: o, tripNumber, plateNumber, ...rest } of data.trips) {
        await ctx.getOrCreate(t.transportTrips, { organizationId, tripNumber }, {
          ...rest,
          vehicleId: vehicleIds.get(plateNumber) ?? null,
          ownerId: owner(o),
        });
      }
      for (const { owner: o, orderNumber, ...rest } of data.orders) {
        await ctx.getOrCreate(t.manufacturingOrders, { organizationId, orderNumber }, {
          ...rest,
          ownerId: owner(o),
        });
      }
    }
    return ctx.stats;
  },
});
