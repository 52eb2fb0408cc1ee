/**
 * VolumeSeeder (`--scale N`): N realistic rows in every module table that declares a volume factory
 * (`modules/*.ts`), spread over the demo organizations and owned by their users, inserted in batches. The
 * same `--random-seed` gives the same rows.
 *
 * Row i is keyed by its number (`VOL-LEAD-000001`, …), not by its content:
 * a re-run with the same scale inserts nothing, and N rows per table means
 * N, whatever seed produced them. Tables are filled in registry order, so a
 * referenced table (vehicles) is filled before the tables referring to it (trips).
 */
import { asc, eq, inArray } from "drizzle-orm";
import { defineSeeder } from "../src/seeding/types.ts";
import type { AnyTable } from "../src/seeding/types.ts";
import { REGISTRY_RESOURCES } from "../src/modules/registry.ts";
import { DEMO_ORGS, DEMO_USERS } from "./demo_data.ts";

/** The module tables `--scale` fills. */
export const VOLUME_RESOURCES = REGISTRY_RESOURCES.filter((r) => r.volume);

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
    const tables = t as unknown as Record<string, typeof t.files>;
    const sqlToKey = new Map(REGISTRY_RESOURCES.map((r) => [r.table, r.key]));
    const refCache = new Map<string, Map<number, number[]>>();
    /** Ids of an organization's rows of a module table, read once per run (after that table was filled). */
    const refs = async (table: string) => {
      let byOrg = refCache.get(table);
      if (!byOrg) {
        const key = sqlToKey.get(table);
        if (!key) throw new Error(`volume: refs("${table}") names no module table`);
        const tt = tables[key];
        byOrg = new Map();
        for (const o of orgs) {
          const rows = await tx.select({ id: tt.id }).from(tt).where(eq(tt.organizationId, o.id))
            .orderBy(asc(tt.id));
          byOrg.set(o.id, rows.map((r) => r.id));
        }
        refCache.set(table, byOrg);
      }
      return byOrg;
    };

    for (const res of VOLUME_RESOURCES) {
      // References this table's factory may ask for, loaded before generating (the factory is synchronous).
      const refTables = Object.values(res.fields).filter((f) => f.spec.kind === "ref").map((f) =>
        f.spec.references!
      );
      const loaded = new Map<string, Map<number, number[]>>();
      for (const rt of refTables) loaded.set(rt, await refs(rt));
      const r = ctx.random(res.submodule);
      const rows: Record<string, unknown>[] = [];
      for (let i = 1; i <= n; i++) {
        const k = (i - 1) % orgs.length;
        const organizationId = orgs[k].id;
        const ownerId = r.pick(owners[k]);
        const row = res.volume!(i, {
          organizationId,
          ownerId,
          r,
          refs: (table) => {
            const byOrg = loaded.get(table);
            if (!byOrg) {
              throw new Error(
                `volume: ${res.table} asked for refs("${table}"), which none of its ref() fields names`,
              );
            }
            return byOrg.get(organizationId) ?? [];
          },
        });
        rows.push({ organizationId, [res.ownerKey]: ownerId, ...row });
      }
      await ctx.bulkInsert(tables[res.key] as AnyTable, rows as never[]);
    }
    return ctx.stats;
  },
});
