/**
 * DemoModuleDataSeeder: the demo records every module declares (`demo` in `modules/<key>.ts`), for each demo
 * organization, owned by its admin, manager and executive, in registry order (a referenced table first).
 * Each row is found or created by its resource's first unique key within the organization, so a re-run
 * creates nothing; a `demoRef` value becomes the id of the referenced demo row. Story: docs/modules.md.
 */
import { and, eq, inArray, type SQL } from "drizzle-orm";
import { type AnyTable, defineSeeder, DEMO_ENVS } from "../src/seeding/types.ts";
import { isDemoRef } from "../src/modules/define.ts";
import { REGISTRY_RESOURCES } from "../src/modules/registry.ts";
import { DEMO_ORGS, DEMO_USERS, type DemoRole } from "./demo_data.ts";

/** The module tables with demo rows, in registry order. */
export const DEMO_RESOURCES = REGISTRY_RESOURCES.filter((r) => r.demo);

type Columns = Record<string, AnyTable["_"]["columns"][string]>;

export const demoModuleDataSeeder = defineSeeder({
  name: "DemoModuleDataSeeder",
  description: `Demo module data (${
    [...new Set(DEMO_RESOURCES.map((r) => r.module))].join(", ")
  }) per organization`,
  dependsOn: ["DemoUsersSeeder"],
  environments: DEMO_ENVS,
  demo: true,
  async seed(ctx) {
    const { t, tx } = ctx;
    const tables = t as unknown as Record<string, AnyTable & Columns>;
    const bySql = new Map(REGISTRY_RESOURCES.map((r) => [r.table, r]));
    const orgs = await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
      .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug)));
    const users = await tx.select({ id: t.users.id, email: t.users.email }).from(t.users)
      .where(inArray(t.users.email, DEMO_USERS.map((u) => u.email)));
    const idByEmail = new Map(users.map((u) => [u.email, u.id]));

    for (const org of orgs) {
      const demoOrg = DEMO_ORGS.find((o) => o.slug === org.slug)!;
      const organizationId = org.id;
      const owner = (key: DemoRole) => {
        const u = DEMO_USERS.find((d) => d.org === org.slug && d.key === key)!;
        const id = idByEmail.get(u.email);
        if (id === undefined) throw new Error(`demo user ${u.email} does not exist`);
        return id;
      };
      /** The id of the row of `table` (this organization) matching `key`, or null. */
      const refId = async (table: string, key: Readonly<Record<string, unknown>>) => {
        const target = bySql.get(table);
        if (!target) throw new Error(`demo: demoRef("${table}") names no module table`);
        const tt = tables[target.key];
        const where: SQL[] = [eq(tt.organizationId, organizationId)];
        for (const [prop, v] of Object.entries(key)) where.push(eq(tt[prop], v));
        const [row] = await tx.select({ id: tt.id }).from(tt).where(and(...where)).limit(1);
        return (row?.id as number | undefined) ?? null;
      };
      for (const res of DEMO_RESOURCES) {
        const keyProps = res.unique![0].columns;
        for (const { owner: o, ...row } of res.demo!(demoOrg)) {
          const key: Record<string, unknown> = { organizationId };
          const values: Record<string, unknown> = { [res.ownerKey]: owner(o) };
          for (const [prop, v] of Object.entries(row)) {
            const value = isDemoRef(v) ? await refId(v.table, v.key) : v;
            if (keyProps.includes(prop)) key[prop] = value;
            else values[prop] = value;
          }
          await ctx.getOrCreate(tables[res.key], key as never, values as never);
        }
      }
    }
    return ctx.stats;
  },
});
