/**
 * VolumeSeeder (`--scale N`): N realistic rows in every module table that declares a volume factory
 * (`modules/*.ts`), spread over the demo organizations and owned by their users, inserted in batches. The
 * same `--random-seed` gives the same rows.
 *
 * Row i is keyed by its number (`VOL-LEAD-000001`, …), not by its content:
 * a re-run with the same scale inserts nothing, and N rows per table means
 * N, whatever seed produced them. Tables are filled in registry order, so a
 * referenced table (vehicles) is filled before the tables referring to it (trips).
 *
 * A table with a unique key finds the rows of an earlier run by it (the insert skips conflicts). A table
 * without one declares `volumeKey`, the text field whose value carries `VOL-<serial(i)>`: the rows of an
 * earlier run are read back by (organization, that value) and only the others are inserted.
 */
import { and, asc, eq, inArray, like } from "drizzle-orm";
import { defineSeeder } from "../src/seeding/types.ts";
import type { AnyTable, SeederDefinition } from "../src/seeding/types.ts";
import { REGISTRY_RESOURCES, type RegistryResource } from "../src/modules/registry.ts";
import { serial } from "../src/modules/define.ts";
import { DEMO_ORGS, DEMO_USERS } from "./demo_data.ts";

/** The module tables `--scale` fills. */
export const VOLUME_RESOURCES = REGISTRY_RESOURCES.filter((r) => r.volume);

/** The VolumeSeeder of the registry's module tables. */
export const volumeSeeder = createVolumeSeeder(VOLUME_RESOURCES);

/**
 * A VolumeSeeder over `resources` (each with a `volume` factory, in foreign-key order). Their tables are
 * `db.t`'s, or `tables[key]` when given (tests define modules of their own).
 */
export function createVolumeSeeder(
  resources: readonly RegistryResource[],
  extraTables: Readonly<Record<string, AnyTable>> = {},
): SeederDefinition {
  return defineSeeder({
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
      const users = await tx.select({ id: t.users.id, email: t.users.email, org: t.users.organizationId })
        .from(
          t.users,
        )
        .where(inArray(t.users.email, DEMO_USERS.map((u) => u.email))).orderBy(asc(t.users.email));
      const owners = orgs.map((o) => users.filter((u) => u.org === o.id).map((u) => u.id));
      if (owners.some((list) => list.length === 0)) {
        throw new Error("every demo organization needs a demo user");
      }
      const tables = { ...t, ...extraTables } as unknown as Record<string, typeof t.files>;
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

      for (const res of resources) {
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
        // By volumeKey when declared (a unique key holding a drawn reference would differ at another scale).
        const fresh = res.volumeKey === undefined && res.unique?.length
          ? rows
          : await unwritten(res, tables[res.key], rows);
        await ctx.bulkInsert(tables[res.key] as AnyTable, fresh as never[]);
      }
      return ctx.stats;

      /**
       * The rows that no earlier run wrote, for a table with a `volumeKey` or without a unique key: found
       * by (organization, `volumeKey`), whose value in row i carries `VOL-<serial(i)>`.
       */
      async function unwritten(
        res: RegistryResource,
        table: typeof t.files,
        rows: Record<string, unknown>[],
      ) {
        const key = res.volumeKey;
        if (key === undefined) {
          throw new Error(
            `volume: ${res.table} has neither a unique key nor a volumeKey to find its rows by`,
          );
        }
        rows.forEach((row, n) => {
          const v = row[key];
          if (typeof v !== "string" || !v.includes(`VOL-${serial(n + 1)}`)) {
            throw new Error(
              `volume: ${res.table} row ${n + 1}: ${key} must carry VOL-${
                serial(n + 1)
              } (its volumeKey: how a re-run finds the row), got ${JSON.stringify(v)}`,
            );
          }
        });
        const col = (table as unknown as Record<string, typeof t.files.name>)[key];
        const written = new Set<string>();
        for (const o of orgs) {
          const found = await tx.select({ v: col }).from(table)
            .where(and(eq(table.organizationId, o.id), like(col, "%VOL-%")));
          for (const f of found) written.add(`${o.id}\u0000${f.v}`);
        }
        return written.size
          ? rows.filter((row) => !written.has(`${row.organizationId}\u0000${row[key]}`))
          : rows;
      }
    },
  });
}
