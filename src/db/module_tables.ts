/**
 * The record tables of the registered modules (`modules/*.ts`), built with a dialect's schema kit.
 *
 * Every module table carries the tenant columns first (id, organization_id, the record-scope column —
 * `owner_id` unless the module declares another (`owner`) —, created_at, updated_at), then its declared fields; it is indexed on (organization, id) — a page
 * in id order is an index range at any tenant size — and on owner, and unique on its declared keys within
 * the organization. Any change here changes every module table: it needs a migration (`deno task db:check`
 * fails until there is one). Story: docs/modules.md.
 */
import type { BuildColumns, ColumnBuilderBase } from "drizzle-orm";
import type { PgColumn, PgTableWithColumns } from "drizzle-orm/pg-core";
import type { SchemaKit } from "./schema_kit.ts";
import type { Field, FieldSpec, ModuleInput } from "../modules/define.ts";
import { MODULES } from "../../modules/mod.ts";

/** `crm_leads` → `crmLeads`, at the type level. */
export type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
/** `crm_leads` → `crmLeads`. */
export const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `valueCents` → `value_cents`. */
export const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

const now = () => new Date();

/** The record-scope column's property when a resource declares none. */
export const DEFAULT_OWNER = "ownerId";

const ownerBuilder = (k: SchemaKit, column: string, usersId: () => PgColumn) =>
  k.int(column).notNull().references(usersId, { onDelete: "restrict" });

function fixedBuilders(k: SchemaKit, organizationsId: () => PgColumn) {
  return {
    id: k.id(),
    organizationId: k.int("organization_id").notNull().references(organizationsId, { onDelete: "cascade" }),
    createdAt: k.ts("created_at").notNull().$defaultFn(now),
    updatedAt: k.ts("updated_at").notNull().$defaultFn(now).$onUpdateFn(now),
  };
}
/** The tenant columns with the record-scope column `O`. */
type TenantBuilders<O extends string> =
  & ReturnType<typeof fixedBuilders>
  & { [P in O]: ReturnType<typeof ownerBuilder> };

/** The tenant columns, in table order: id, organization_id, the record-scope column, created_at, updated_at. */
function tenantBuilders(
  k: SchemaKit,
  organizationsId: () => PgColumn,
  usersId: () => PgColumn,
  owner: string,
) {
  const { id, organizationId, createdAt, updatedAt } = fixedBuilders(k, organizationsId);
  return { id, organizationId, [owner]: ownerBuilder(k, snake(owner), usersId), createdAt, updatedAt };
}

/**
 * A module table's type: the tenant columns (with the record-scope column `O`) and the declared fields,
 * typed column by column.
 */
export type TenantTable<
  N extends string,
  C extends Record<string, ColumnBuilderBase>,
  O extends string = typeof DEFAULT_OWNER,
> = PgTableWithColumns<{
  name: N;
  schema: undefined;
  columns: BuildColumns<N, TenantBuilders<O> & C, "pg">;
  dialect: "pg";
}>;

type Modules = (typeof MODULES)[number];
type ResourcesOf<M> = M extends { resources: infer R } ? R[keyof R] : never;
type AllResources = ResourcesOf<Modules>;
type ColumnsOf<F> = { [P in keyof F]: F[P] extends Field<infer B> ? B : never };

/** Every module table, keyed like the rest of `db.t` (camelCase of the SQL name). */
export type ModuleTables = {
  [R in AllResources as R extends { table: infer N extends string } ? Camel<N> : never]: R extends
    { table: infer N extends string; fields: infer F }
    ? ColumnsOf<F> extends infer C extends Record<string, ColumnBuilderBase>
      ? TenantTable<N, C, R extends { owner: infer O extends string } ? O : typeof DEFAULT_OWNER>
    : never
    : never;
};

/**
 * The column a field becomes (Drizzle builder; `resolve` finds a referenced table's id column when drizzle
 * asks for it, `where` naming the referring column).
 */
function column(
  k: SchemaKit,
  name: string,
  s: FieldSpec,
  resolve: (table: string, where: string) => () => PgColumn,
  where: string,
) {
  // deno-lint-ignore no-explicit-any
  let c: any;
  switch (s.kind) {
    case "text":
    case "enum":
      c = k.text(name);
      break;
    case "int":
      c = k.int(name);
      break;
    case "money":
      c = k.bigint(name);
      break;
    case "bool":
      c = k.bool(name);
      break;
    case "ts":
      c = k.ts(name);
      break;
    case "json":
      c = k.json(name);
      break;
    case "ref":
    case "user":
      c = k.int(name).references(resolve(s.kind === "user" ? "users" : s.references!, where), {
        onDelete: s.onDelete ?? "set null",
      });
      break;
  }
  if (s.notNull) c = c.notNull();
  if (s.hasDefault) {
    const v = s.default;
    c = v !== null && typeof v === "object" ? c.$defaultFn(() => structuredClone(v)) : c.default(v);
  }
  return c;
}

/**
 * Builds every registered module's tables with kit `k`. `core` gives the tables module tables may reference
 * (organizations, users); `modules` is the registry (tests pass their own).
 */
export function defineModuleTables(
  k: SchemaKit,
  core: { organizations: { id: PgColumn }; users: { id: PgColumn } },
  modules: readonly ModuleInput[] = MODULES,
): ModuleTables {
  const out: Record<string, { id: PgColumn }> = {};
  const bySql = new Map<string, { id: PgColumn }>();
  const resolve = (table: string, where: string) => () => {
    const t = table === "users" ? core.users : bySql.get(table);
    if (!t) {
      throw new Error(
        `module tables: ${where} references unknown table "${table}" (module tables: ${
          [...bySql.keys()].join(", ")
        })`,
      );
    }
    return t.id;
  };
  for (const m of modules) {
    const resources = m.resources ?? {};
    for (
      const r of Object.values(resources) as {
        table: string;
        fields: Record<string, Field>;
        owner?: string;
        unique?: readonly { columns: readonly string[]; name?: string }[];
      }[]
    ) {
      const name = r.table;
      if (bySql.has(name)) throw new Error(`module tables: table ${name} is declared twice`);
      const owner = r.owner ?? DEFAULT_OWNER;
      const columns: Record<string, unknown> = {
        ...tenantBuilders(k, () => core.organizations.id, () => core.users.id, owner),
      };
      for (const [prop, f] of Object.entries(r.fields)) {
        if (prop in columns) throw new Error(`module tables: ${name}.${prop} is a tenant column`);
        columns[prop] = column(k, snake(prop), f.spec, resolve, `${name}.${snake(prop)}`);
      }
      // deno-lint-ignore no-explicit-any
      const table = k.table(name, columns as any, (t: any) => [
        // (organization, id): a page in id order within a tenant is an index range, at any tenant size.
        k.index(`${name}_organization_idx`).on(t.organizationId, t.id),
        k.index(`${name}_owner_idx`).on(t[owner]),
        ...Object.entries(r.fields).filter(([, f]) => f.spec.index).map(([prop]) =>
          k.index(`${name}_${snake(prop)}_idx`).on(t[prop])
        ),
        ...(r.unique ?? []).map((u) =>
          k.uniqueIndex(u.name ?? `${name}_org_${u.columns.map(snake).join("_")}_uq`).on(
            t.organizationId,
            ...u.columns.map((c) => t[c]),
          )
        ),
      ]);
      bySql.set(name, table as unknown as { id: PgColumn });
      out[camel(name)] = table as unknown as { id: PgColumn };
    }
  }
  return out as unknown as ModuleTables;
}
