/**
 * The demo business resources, one definition each: where they live, which
 * module and submodule guard them, their JSON shape and (for the writable
 * ones) their create / update bodies.
 */
import { z } from "@hono/zod-openapi";
import type { RecordTableKey } from "./records_repository.ts";

export interface ResourceDef {
  /** Table key in the schema. */
  table: RecordTableKey;
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
}

const base = {
  id: z.number().int(),
  organization_id: z.number().int(),
  owner_id: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
};
const ts = z.string().nullable();
const owner = z.number().int().positive().optional().openapi({
  description: "Owner (defaults to the caller; must be inside the caller's record scope)",
});

const LeadCreate = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320).nullable().optional(),
  company: z.string().max(200).nullable().optional(),
  status: z.enum(["new", "contacted", "qualified", "won", "lost"]).default("new"),
  source: z.string().max(100).nullable().optional(),
  value_cents: z.number().int().min(0).max(1e15).default(0),
  owner_id: owner,
}).strict().openapi("LeadCreate");

const OrderCreate = z.object({
  order_number: z.string().trim().min(1).max(64),
  product: z.string().trim().min(1).max(200),
  quantity: z.number().int().positive().max(1_000_000_000),
  status: z.enum(["planned", "in_progress", "completed", "cancelled"]).default("planned"),
  due_date: z.iso.datetime({ offset: true }).nullable().optional(),
  owner_id: owner,
}).strict().openapi("ManufacturingOrderCreate");

function partial(schema: z.ZodObject, name: string) {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(schema.shape)) {
    // Updates never fill defaults in.
    const inner = v instanceof z.ZodDefault ? (v as z.ZodDefault).unwrap() : v;
    shape[k] = (inner as z.ZodType).optional();
  }
  return z.object(shape).strict().refine((o) => Object.keys(o).length > 0, {
    message: "at least one field is required",
  }).openapi(name) as unknown as z.ZodObject;
}

export const RESOURCES: ResourceDef[] = [
  {
    table: "crmLeads",
    module: "crm",
    submodule: "leads",
    type: "crm_lead",
    path: "/api/v1/crm/leads",
    tag: "crm",
    noun: "lead",
    output: z.object({
      ...base,
      name: z.string(),
      email: z.string().nullable(),
      company: z.string().nullable(),
      status: z.string(),
      source: z.string().nullable(),
      value_cents: z.number().int(),
    }).openapi("Lead"),
    create: LeadCreate,
    update: partial(LeadCreate, "LeadUpdate"),
  },
  {
    table: "manufacturingOrders",
    module: "manufacturing",
    submodule: "orders",
    type: "manufacturing_order",
    path: "/api/v1/manufacturing/orders",
    tag: "manufacturing",
    noun: "order",
    output: z.object({
      ...base,
      order_number: z.string(),
      product: z.string(),
      quantity: z.number().int(),
      status: z.string(),
      due_date: ts,
    }).openapi("ManufacturingOrder"),
    create: OrderCreate,
    update: partial(OrderCreate, "ManufacturingOrderUpdate"),
  },
  {
    table: "hrEmployees",
    module: "hr",
    submodule: "employees",
    type: "hr_employee",
    path: "/api/v1/hr/employees",
    tag: "hr",
    noun: "employee",
    output: z.object({
      ...base,
      employee_number: z.string(),
      full_name: z.string(),
      department: z.string(),
      position: z.string(),
      hired_at: ts,
      salary_cents: z.number().int().nullable(),
    }).openapi("Employee"),
  },
  {
    table: "marketingCampaigns",
    module: "marketing",
    submodule: "campaigns",
    type: "marketing_campaign",
    path: "/api/v1/marketing/campaigns",
    tag: "marketing",
    noun: "campaign",
    output: z.object({
      ...base,
      name: z.string(),
      channel: z.string(),
      status: z.string(),
      budget_cents: z.number().int(),
      starts_at: ts,
      ends_at: ts,
    }).openapi("Campaign"),
  },
  {
    table: "serviceTickets",
    module: "service",
    submodule: "tickets",
    type: "service_ticket",
    path: "/api/v1/service/tickets",
    tag: "service",
    noun: "ticket",
    output: z.object({
      ...base,
      ticket_number: z.string(),
      subject: z.string(),
      priority: z.string(),
      status: z.string(),
      customer_email: z.string().nullable(),
    }).openapi("Ticket"),
  },
  {
    table: "assets",
    module: "asset",
    submodule: "assets",
    type: "asset",
    path: "/api/v1/assets",
    tag: "asset",
    noun: "asset",
    output: z.object({
      ...base,
      asset_tag: z.string(),
      name: z.string(),
      category: z.string(),
      status: z.string(),
      purchase_value_cents: z.number().int().nullable(),
    }).openapi("Asset"),
  },
  {
    table: "transportVehicles",
    module: "transport",
    submodule: "vehicles",
    type: "transport_vehicle",
    path: "/api/v1/transport/vehicles",
    tag: "transport",
    noun: "vehicle",
    output: z.object({
      ...base,
      plate_number: z.string(),
      model: z.string(),
      capacity_kg: z.number().int(),
      status: z.string(),
    }).openapi("Vehicle"),
  },
  {
    table: "transportTrips",
    module: "transport",
    submodule: "trips",
    type: "transport_trip",
    path: "/api/v1/transport/trips",
    tag: "transport",
    noun: "trip",
    output: z.object({
      ...base,
      trip_number: z.string(),
      vehicle_id: z.number().int().nullable(),
      origin: z.string(),
      destination: z.string(),
      distance_km: z.number().int(),
      status: z.string(),
      departed_at: ts,
    }).openapi("Trip"),
  },
];

/** The definition of an AuthZEN resource type, if it is a record type. */
export function resourceByType(type: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.type === type.toLowerCase());
}

const snake = (k: string) => k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A row as JSON: snake_case keys, ISO timestamps. */
export function toJson(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[snake(k)] = v instanceof Date ? v.toISOString() : v;
  return out;
}

/** A validated body as row values: camelCase keys, timestamps as Dates. */
export function fromJson(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined) continue;
    out[camel(k)] = typeof v === "string" && /_(date|at)$/.test(k) ? new Date(v) : v;
  }
  return out;
}
