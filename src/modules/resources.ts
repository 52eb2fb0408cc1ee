/**
 * The record resources of the registered modules, as the routes, the records service and AuthZEN use
 * them: where each lives, which module and submodule guard it, and its JSON shapes — the record, the create
 * body and the update body — derived from its fields (zod, so the OpenAPI document follows) unless the
 * module gives its own. Must never break: JSON is snake_case with ISO timestamps; an update never fills
 * defaults in. Story: docs/modules.md.
 */
import { z } from "@hono/zod-openapi";
import type { Field, FieldSpec } from "./define.ts";
import { REGISTRY_RESOURCES, type RegistryResource } from "./registry.ts";
import { camel, snake } from "../db/module_tables.ts";
import type { RecordTableKey } from "./records_repository.ts";
import { idNumber, MAX_INT32, MIN_INT32 } from "../http/input_rules.ts";

export interface ResourceDef {
  /** Table key in the schema (`crmLeads`). */
  table: RecordTableKey;
  /** SQL table name. */
  sqlTable: string;
  /** Catalog module that licenses it (entitlements) and guards it (RBAC). */
  module: string;
  /** Submodule for submodule permissions (`crm_leads_read`). */
  submodule: string;
  /** AuthZEN resource type (`crm_lead`). */
  type: string;
  path: string;
  tag: string;
  /** Human name for messages ("lead"). */
  noun: string;
  output: z.ZodObject;
  create?: z.ZodObject;
  update?: z.ZodObject;
  /** Properties of timestamp fields (JSON strings ↔ Dates). */
  timestamps: ReadonlySet<string>;
  /** The registry entry. */
  source: RegistryResource;
}

/** The tenant columns of a record, with its record-scope column (`owner_id` unless declared). */
const base = (ownerColumn: string) => ({
  id: z.number().int(),
  organization_id: z.number().int(),
  [ownerColumn]: z.number().int().openapi({ description: "Owner: the user whose record scope it is in" }),
  created_at: z.string(),
  updated_at: z.string(),
});
const owner = () =>
  idNumber().optional().openapi({
    description: "Owner (defaults to the caller; must be inside the caller's record scope)",
  });

/**
 * What a money field holds, said in OpenAPI (every module's `money()`): whole cents, within its bounds — a
 * negative amount is refused on input (`money()` is ≥ 0 unless the module says otherwise).
 */
function moneyDescription(s: FieldSpec): string {
  const bounds = s.min !== undefined ? `, ≥ ${s.min}` : "";
  return `Amount in cents (integer${bounds})`;
}

/** A field's value in a record (what the database may hold, so enums are plain strings). */
function outputOf(s: FieldSpec): z.ZodType {
  let t: z.ZodType;
  if (s.zod) return s.notNull ? s.zod : s.zod.nullable();
  switch (s.kind) {
    case "money":
      t = z.number().int().openapi({ description: "Amount in cents (integer)" });
      break;
    case "int":
    case "ref":
    case "user":
      t = z.number().int();
      break;
    case "bool":
      t = z.boolean();
      break;
    case "json":
      return z.unknown();
    default:
      t = z.string();
  }
  return s.notNull ? t : t.nullable();
}

/** The first and last instants a timestamp field takes: years 0001–9999 in UTC, what both databases keep. */
export const TIMESTAMP_MIN = "0001-01-01T00:00:00.000Z";
export const TIMESTAMP_MAX = "9999-12-31T23:59:59.999Z";
const TS_MIN_MS = Date.parse(TIMESTAMP_MIN);
const TS_MAX_MS = Date.parse(TIMESTAMP_MAX);
const TS_RANGE = `an RFC 3339 date-time from ${TIMESTAMP_MIN} to ${TIMESTAMP_MAX} (in UTC)`;

/**
 * A timestamp field's input: an RFC 3339 date-time whose instant, in UTC, falls in years 0001–9999, so that
 * it is stored alike on both databases (Postgres has no year 0; libSQL keeps epoch milliseconds) and read
 * back as the same four-digit-year ISO string (`0999-06-01T12:00:00+01:00` → `0999-06-01T11:00:00.000Z`);
 * anything else is a 422 naming the field. Text that is no date-time at all is left to the format check.
 */
function timestampInput(): z.ZodType {
  return z.iso.datetime({ offset: true }).refine((v) => {
    const t = Date.parse(v);
    return Number.isNaN(t) || (t >= TS_MIN_MS && t <= TS_MAX_MS);
  }, { message: `must be ${TS_RANGE}` });
}

/** A field's value in a create body, before optionality and defaults. */
function kindInput(s: FieldSpec): z.ZodType {
  switch (s.kind) {
    case "text": {
      const max = s.max ?? 1000;
      if (s.format === "email") return z.email().max(max);
      else return s.notNull && !s.hasDefault ? z.string().trim().min(1).max(max) : z.string().max(max);
    }
    case "enum":
      return z.enum(s.values as [string, ...string[]]);
    case "int":
    case "money": {
      // int columns are 32-bit; money is a bigint of cents (zod's int() already keeps it a safe integer).
      let n = s.kind === "int" ? z.number().int().min(MIN_INT32).max(MAX_INT32) : z.number().int();
      if (s.min === 1) n = n.positive();
      else if (s.min !== undefined) n = n.min(s.min);
      if (s.max !== undefined) n = n.max(s.max);
      return n;
    }
    case "ref":
    case "user":
      return idNumber();
    case "bool":
      return z.boolean();
    case "ts":
      return timestampInput();
    case "json":
      // Any JSON value but null (z.json() has no OpenAPI form).
      return z.union([
        z.record(z.string(), z.unknown()),
        z.array(z.unknown()),
        z.string(),
        z.number(),
        z.boolean(),
      ]);
  }
}

/** A field's value in a create body. */
function inputOf(s: FieldSpec): z.ZodType {
  let t = s.zod ?? kindInput(s);
  const range = s.zod
    ? undefined
    : s.kind === "ts"
    ? `${TS_RANGE[0].toUpperCase()}${TS_RANGE.slice(1)}.`
    : s.kind === "money"
    ? `${moneyDescription(s)}.`
    : undefined;
  const description = [s.description, range].filter(Boolean).join(" ");
  if (description) t = t.openapi({ description });
  if (s.hasDefault) return t.default(s.default as never);
  return s.notNull ? t : t.nullable().optional();
}

/** The create body of a field map (strict: unknown keys are refused); `ownerColumn` names the owner. */
export function createShape(
  fields: Record<string, Field>,
  name: string,
  ownerColumn = "owner_id",
): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [prop, f] of Object.entries(fields)) shape[snake(prop)] = inputOf(f.spec);
  shape[ownerColumn] = owner();
  return z.object(shape).strict().openapi(name);
}

/** The update body: every create field optional, defaults never filled in, at least one field. */
export function updateShape(create: z.ZodObject, name: string): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(create.shape)) {
    const inner = v instanceof z.ZodDefault ? (v as z.ZodDefault).unwrap() : v;
    shape[k] = (inner as z.ZodType).optional();
  }
  return z.object(shape).strict().refine((o) => Object.keys(o).length > 0, {
    message: "at least one field is required",
  }).openapi(name) as unknown as z.ZodObject;
}

function describe(r: RegistryResource): ResourceDef {
  const out: Record<string, z.ZodType> = { ...base(r.ownerColumn) };
  for (const [prop, f] of Object.entries(r.fields)) out[snake(prop)] = outputOf(f.spec);
  const create = r.readOnly
    ? undefined
    : r.create ?? createShape(r.fields, `${r.schemaName}Create`, r.ownerColumn);
  return {
    table: r.key as RecordTableKey,
    sqlTable: r.table,
    module: r.module,
    submodule: r.submodule,
    type: r.type,
    path: r.path,
    tag: r.module,
    noun: r.noun,
    output: z.object(out).openapi(r.schemaName),
    create,
    update: create ? r.update ?? updateShape(create, `${r.schemaName}Update`) : undefined,
    timestamps: new Set(Object.entries(r.fields).filter(([, f]) => f.spec.kind === "ts").map(([p]) => p)),
    source: r,
  };
}

/** Every record resource, in registry order. */
export const RESOURCES: ResourceDef[] = REGISTRY_RESOURCES.map(describe);

const BY_TYPE = new Map(RESOURCES.map((r) => [r.type, r]));

/** The definition of an AuthZEN resource type, if it is a record type. */
export function resourceByType(type: string): ResourceDef | undefined {
  return BY_TYPE.get(type.toLowerCase());
}

/** snake_case of a row's property names, computed once each (on the list path it ran per column per row). */
const SNAKE_KEYS = new Map<string, string>();
const MAX_SNAKE_KEYS = 4096;

function snakeKey(k: string): string {
  let s = SNAKE_KEYS.get(k);
  if (s === undefined) {
    s = snake(k);
    if (SNAKE_KEYS.size < MAX_SNAKE_KEYS) SNAKE_KEYS.set(k, s);
  }
  return s;
}

/** A row as JSON: snake_case keys, ISO timestamps. */
export function toJson(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(row);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = row[k];
    out[snakeKey(k)] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

/** A validated body as row values: camelCase keys, timestamps as Dates (`def` names the timestamp fields). */
export function fromJson(body: Record<string, unknown>, def?: ResourceDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined) continue;
    const prop = camel(k);
    const isTs = def ? def.timestamps.has(prop) : /_(date|at)$/.test(k);
    out[prop] = typeof v === "string" && isTs ? new Date(v) : v;
  }
  return out;
}
