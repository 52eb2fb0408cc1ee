/**
 * The vocabulary of a module definition (`modules/<key>.ts`): `defineModule` and the field builders.
 *
 * A module is declared once: its key, licensing, actions and permission names, and its record tables with
 * their fields. Everything else (the schema of both dialects, routes, permissions, tiers, AuthZEN, volume
 * data, backups, OpenAPI) is derived from it by `registry.ts`. Must never import the schema, the seeding
 * contract or any service, not even as a type: the schema imports the module files, so a module file (or
 * anything it imports) that reaches the schema is an import cycle (tests/architecture/import_cycles_test.ts).
 * A module's seeders therefore name their module (`module: "restaurants"`) and are listed in
 * `seeders/mod.ts`. Story: docs/modules.md ("What a module declares").
 */
import type { ColumnBuilderBase, HasDefault, NotNull } from "drizzle-orm";
import type { z } from "@hono/zod-openapi";
import type { SchemaKit } from "../db/schema_kit.ts";
import type { Random } from "../seeding/random.ts";

/** The field kinds a module table may use (one column each). */
export type FieldKind = "text" | "int" | "money" | "bool" | "ts" | "enum" | "json" | "ref" | "user";

/** What a field declares, as data (read by the table builder, the JSON shapes and the generator). */
export interface FieldSpec {
  kind: FieldKind;
  notNull: boolean;
  hasDefault: boolean;
  default?: unknown;
  /** enum: the allowed values (stored as text). */
  values?: readonly string[];
  /** text: max length; int / money: bounds. */
  min?: number;
  max?: number;
  /** text: a format checked on input. */
  format?: "email";
  /** ref: the SQL name of the referenced module table (same organization). */
  references?: string;
  onDelete?: "cascade" | "set null" | "restrict";
  /** Adds `<table>_<column>_idx`. */
  index?: boolean;
  /** The JSON shape of the value (input and output), e.g. a JSON field's array of items. */
  zod?: z.ZodType;
  description?: string;
}

/**
 * A field: its spec, and (as a phantom type) the Drizzle column builder it becomes, so that the tables of
 * `db.t` are typed column by column.
 */
export class Field<B extends ColumnBuilderBase = ColumnBuilderBase> {
  declare readonly _builder: B;
  constructor(readonly spec: FieldSpec) {}
  #with(patch: Partial<FieldSpec>) {
    return new Field<B>({ ...this.spec, ...patch });
  }
  /** A required column (`NOT NULL`); on input required unless it has a default. */
  notNull(): Field<NotNull<B>> {
    return this.#with({ notNull: true }) as unknown as Field<NotNull<B>>;
  }
  /** A SQL default (and the input default). */
  default(value: unknown): Field<HasDefault<B>> {
    return this.#with({ hasDefault: true, default: value }) as unknown as Field<HasDefault<B>>;
  }
  min(n: number): Field<B> {
    return this.#with({ min: n });
  }
  max(n: number): Field<B> {
    return this.#with({ max: n });
  }
  email(): Field<B> {
    return this.#with({ format: "email" });
  }
  index(): Field<B> {
    return this.#with({ index: true });
  }
  /** Validates the value with `schema` (input) and documents it (OpenAPI), instead of the kind's default. */
  shape(schema: z.ZodType): Field<B> {
    return this.#with({ zod: schema });
  }
  describe(text: string): Field<B> {
    return this.#with({ description: text });
  }
}

type K = SchemaKit;
const spec = (kind: FieldKind, more: Partial<FieldSpec> = {}): FieldSpec => ({
  kind,
  notNull: false,
  hasDefault: false,
  ...more,
});

/** Text (`text` on both). */
export const text = () => new Field<ReturnType<K["text"]>>(spec("text"));
/** A 32-bit integer. */
export const integer = () => new Field<ReturnType<K["int"]>>(spec("int"));
/** Money in cents (`bigint` / `integer`), never negative on input. */
export const money = () => new Field<ReturnType<K["bigint"]>>(spec("money", { min: 0, max: 1e15 }));
export const boolean = () => new Field<ReturnType<K["bool"]>>(spec("bool"));
/** A timestamp (`timestamptz` / epoch ms); ISO 8601 in JSON. */
export const timestamp = () => new Field<ReturnType<K["ts"]>>(spec("ts"));
/** One of `values`, stored as text. */
export const enumOf = (values: readonly [string, ...string[]]) =>
  new Field<ReturnType<K["text"]>>(spec("enum", { values }));
/** Any JSON value (`jsonb` / text). */
export const json = () => new Field<ReturnType<K["json"]>>(spec("json"));
/** A reference to a record of another module table of the same organization (by SQL table name). */
export const ref = (table: string, onDelete: FieldSpec["onDelete"] = "set null") =>
  new Field<ReturnType<K["int"]>>(spec("ref", { references: table, onDelete }));
/** A reference to a user of the organization. */
export const user = (onDelete: FieldSpec["onDelete"] = "set null") =>
  new Field<ReturnType<K["int"]>>(spec("user", { onDelete }));

/** A field map: camelCase property → field (the SQL column is its snake_case). */
export type Fields = Record<string, Field>;

/** What a volume factory receives for row `i` (1-based) of `--scale N`. */
export interface VolumeRow {
  organizationId: number;
  ownerId: number;
  /** The resource's deterministic generator (one stream per table). */
  r: Random;
  /** Ids of the organization's rows of another module table (e.g. vehicles for trips). */
  refs(table: string): number[];
}

/** A demo organization, as a demo factory sees it (seed 000's Test Corp and Globex: seeders/demo_data.ts). */
export interface DemoOrganization {
  slug: string;
  /** Short code for the rows' natural keys (`TC` → `TC-EMP-0001`). */
  prefix: string;
  /** Customer companies its demo records mention. */
  companies: readonly string[];
  city: string;
}

/** The demo user of the organization who owns a demo row: record scope (own / team / all) shows with them. */
export type DemoOwner = "admin" | "manager" | "executive";

/** A demo row: its owner, and property → value (a `demoRef` for a reference to another demo row). */
export type DemoRow = { readonly owner: DemoOwner } & Readonly<Record<string, unknown>>;

const DEMO_REF = Symbol("demoRef");
/** A reference in a demo row: the id of `table`'s row (same organization) whose properties match `key`. */
export interface DemoRef {
  readonly [DEMO_REF]: true;
  readonly table: string;
  readonly key: Readonly<Record<string, unknown>>;
}
export const demoRef = (table: string, key: Record<string, unknown>): DemoRef => ({
  [DEMO_REF]: true,
  table,
  key,
});
export const isDemoRef = (v: unknown): v is DemoRef =>
  typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[DEMO_REF] === true;

/** A record table of a module: served at `path` with list / get (and create / update / delete). */
export interface ResourceInput {
  /** SQL table name (`shop_orders`); the key in `db.t` is its camelCase (`shopOrders`). */
  readonly table: string;
  /** AuthZEN resource type (`crm_lead`). */
  readonly type: string;
  /** Default `/api/v1/<module>/<submodule>`. */
  readonly path?: string;
  /** Human name in messages and summaries ("lead"). */
  readonly noun: string;
  /** OpenAPI component name of a record (`Lead`); `<name>Create`, `<name>Update`, `<name>List` follow. */
  readonly schemaName: string;
  readonly fields: Fields;
  /**
   * The record-scope column: the user who owns a record, as a camelCase property (`assigneeId` → column
   * `assignee_id`). Own / team / all scope, AuthZEN's record layer and the create body's owner field read
   * it. A tenant column like `organization_id`: not null, a user of the organization, never in `fields`.
   * Default `ownerId` (`owner_id`).
   */
  readonly owner?: string;
  /** Unique within the organization: property names, and an index name when not `<table>_org_<cols>_uq`. */
  readonly unique?: readonly { readonly columns: readonly string[]; readonly name?: string }[];
  /**
   * Every member of the organization who may read the module reads every record (a catalog such as
   * products); writes stay within the writer's record scope (own / team / all). Default false: reads are scoped
   * by owner too.
   */
  readonly shared?: boolean;
  /** Only list and get are served (default false). */
  readonly readOnly?: boolean;
  /** Input shapes, when the ones derived from the fields do not fit. */
  readonly create?: z.ZodObject;
  readonly update?: z.ZodObject;
  /**
   * Demo rows for each demo organization (development and test: DemoModuleDataSeeder), found or created by
   * the first `unique` key, so a re-run adds nothing.
   */
  readonly demo?: (org: DemoOrganization) => readonly DemoRow[];
  /**
   * `--scale N`: row `i` of N. Its unique key carries `VOL-` and `serial(i)`, so a re-run adds nothing; a
   * table without a unique key names in `volumeKey` the text field that carries it instead.
   */
  readonly volume?: (i: number, v: VolumeRow) => Record<string, unknown>;
  /**
   * The text field whose value in row `i` carries `VOL-<serial(i)>` (`Name VOL-000042`): `--scale` finds
   * the rows an earlier run wrote by it (the organization and that value) and adds only the others, so a
   * re-run adds nothing. Required without a `unique` key; with one, declare it when the unique key holds a
   * drawn reference (menus: restaurant and name), whose value for row `i` changes with the scale.
   */
  readonly volumeKey?: string;
}

/**
 * How a module is licensed: always on for every organization, RBAC-only (never license-gated), or licensed
 * to the tiers listed (with trials: tier → days).
 */
export type Licensing =
  | "always_on"
  | "rbac_only"
  | { readonly tiers: readonly TierKey[]; readonly trials?: Partial<Record<TierKey, number>> };

export type TierKey = "free" | "starter" | "professional" | "enterprise";

export interface ModuleInput {
  /** Lower-case word: the permission prefix (`crm.read`) and the entitlement key. */
  readonly key: string;
  readonly description?: string;
  readonly licensing: Licensing;
  /** Actions beyond read / create / update / delete (`seeders` has `execute`). */
  readonly actions?: readonly string[];
  /**
   * Which of read / create / update / delete the module has (default all four). `seeders` has only `read`:
   * no permission or route means creating, updating or deleting a seeder.
   */
  readonly crud?: readonly ("read" | "create" | "update" | "delete")[];
  /**
   * Actions named in seed 002's colon style (`restaurants:read`) rather than `module.action`; both mean the
   * same to the guard. Descriptions of actions (default "Read <module> data").
   */
  readonly colonActions?: readonly string[];
  readonly actionDescriptions?: Readonly<Record<string, string>>;
  /** Record tables, by submodule (`leads` → `crm_leads_read`), in foreign-key order. */
  readonly resources?: Readonly<Record<string, ResourceInput>>;
}

/** Identity helper that keeps the literal types (the table keys of `db.t` come from them). */
export function defineModule<const M extends ModuleInput>(m: M): M {
  return m;
}

/** `i` as six digits (`000042`): the volume rows' keys (`VOL-LEAD-000042`). */
export function serial(i: number): string {
  return String(i).padStart(6, "0");
}
