/**
 * The backup format, version 1: a gzip-compressed JSON object with one array
 * of row objects per table — the seed's shape — followed by a manifest:
 *
 *   {
 *   "organizations":[
 *   {"id":1,"name":"Acme","is_active":true,"created_at":"2025-01-15T12:00:00.000Z",…},
 *   {"id":2,…}
 *   ],
 *   "users":[
 *   ],
 *   "_manifest":{"format":"seedbed-backup","format_version":1,"row_counts":{…},…}
 *   }
 *
 * Any JSON reader can load it; Seedbed's reader streams it line by line (one
 * row per line), so neither side ever holds the whole dump. Row keys are SQL
 * column names. Values are typed so either database reads them back the same:
 * integers as JSON numbers, booleans as true/false, timestamps as ISO 8601
 * strings with an offset, JSON columns as nested JSON, text as strings, NULL
 * as null. Story: docs/backups.md ("Format").
 */
import type { BackupColumn, BackupTable, ColumnKind } from "./tables.ts";
import { inputRuleViolations, SURROGATE_ESCAPE, SURROGATE_MESSAGE } from "../http/input_rules.ts";

export const FORMAT_NAME = "seedbed-backup";
export const FORMAT_VERSION = 1;
export const KEY_PREFIX = "database-backups/";
export const MANIFEST_KEY = "_manifest";
export const CONTENT_TYPE = "application/gzip";

/** What a backup is for (catalog `kind`). */
export type BackupKind = "execution" | "manual" | "scheduled" | "safety" | "reset" | "imported";

export interface Manifest {
  format: typeof FORMAT_NAME;
  format_version: number;
  /** Tag of the newest applied migration when the backup was taken. */
  schema_version: string | null;
  /** Its index (the number the tag starts with), compared across dialects. */
  schema_index: number | null;
  /** Dialect of the database the backup was taken from. */
  dialect: "sqlite" | "postgres";
  /** The source database, as a credential-free label. */
  source: string;
  created_at: string;
  kind: BackupKind;
  backup_id: number;
  execution_id: number | null;
  /** Tables in the order they appear (foreign-key order), with their columns. */
  tables: { name: string; columns: string[] }[];
  row_counts: Record<string, number>;
  total_rows: number;
  /**
   * Decompressed bytes of the document before the manifest line (absent in
   * backups taken before it was added). Readers stop as soon as an object
   * decompresses to more than this, so a small crafted object cannot expand
   * without bound.
   */
  data_bytes?: number;
}

/** `20250115_120000` (UTC). */
export function keyTimestamp(d: Date): string {
  const iso = d.toISOString();
  return `${iso.slice(0, 10).replaceAll("-", "")}_${iso.slice(11, 19).replaceAll(":", "")}`;
}

/**
 * The S3 key of a backup: `database-backups/{timestamp}_execution_{id}.json.gz`
 * as the seed shows, and for backups outside a seeding run
 * `{timestamp}_manual_{backupId}`, `{timestamp}_safety_execution_{id}` (or `_safety_{backupId}` outside a
 * recorded execution; before a
 * restore) and `{timestamp}_reset_execution_{id}` (before a reset).
 */
export function backupKey(
  kind: BackupKind,
  at: Date,
  ids: { backupId: number; executionId: number | null },
): string {
  const ts = keyTimestamp(at);
  let name: string;
  if (kind === "execution" && ids.executionId !== null) name = `${ts}_execution_${ids.executionId}`;
  else if (kind === "reset" && ids.executionId !== null) name = `${ts}_reset_execution_${ids.executionId}`;
  else if (kind === "safety" && ids.executionId !== null) name = `${ts}_safety_execution_${ids.executionId}`;
  else name = `${ts}_${kind === "execution" ? "manual" : kind}_${ids.backupId}`;
  return `${KEY_PREFIX}${name}.json.gz`;
}

/** The migration index a tag starts with (`0003_add_x` → 3), or null. */
export function schemaIndex(tag: string | null): number | null {
  const m = tag ? /^(\d+)/.exec(tag) : null;
  return m ? Number(m[1]) : null;
}

/** Precomputed `{"col":` / `,"col":` prefixes for building a row's JSON text. */
export function rowPrefixes(columns: BackupColumn[]): string[] {
  return columns.map((c, i) => (i === 0 ? "{" : ",") + JSON.stringify(c.name) + ":");
}

/** Encodes one JS value (as Drizzle returns it) as JSON text of the column's kind. */
export function encodeValue(kind: ColumnKind, v: unknown, where: () => string): string {
  if (v === null || v === undefined) return "null";
  switch (kind) {
    case "int":
    case "bigint":
      if (typeof v === "number" && Number.isInteger(v)) return String(v);
      if (typeof v === "bigint") return v.toString();
      if (typeof v === "string" && /^-?\d+$/.test(v)) return v;
      break;
    case "bool":
      if (typeof v === "boolean") return v ? "true" : "false";
      if (v === 0 || v === 1) return v ? "true" : "false";
      break;
    case "ts":
      if (v instanceof Date && !Number.isNaN(v.getTime())) return `"${v.toISOString()}"`;
      break;
    case "text":
      if (typeof v === "string") return JSON.stringify(v);
      break;
    case "json":
      return JSON.stringify(v);
  }
  throw new Error(`cannot encode ${where()}: ${typeof v} is not a valid ${kind} value`);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d(:?\d\d)?)$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const num2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/** An ISO 8601 timestamp with an offset, and a real calendar date and time (no Date parsing: this runs per value). */
export function isIsoTimestamp(s: string): boolean {
  if (!ISO.test(s)) return false;
  const year = num2(s, 0) * 100 + num2(s, 2);
  const month = num2(s, 5);
  const day = num2(s, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS[month - 1] + (leap ? 1 : 0)) return false;
  if (num2(s, 11) > 23 || num2(s, 14) > 59) return false;
  return s.length < 19 || s.charCodeAt(16) !== 58 || num2(s, 17) <= 60;
}

/** Why `v` is not a valid value of `column`, or null when it is. */
export function invalidValue(column: BackupColumn, v: unknown): string | null {
  if (v === null) return column.notNull ? "is null but the column is NOT NULL" : null;
  switch (column.kind) {
    case "int":
      return Number.isInteger(v) && Math.abs(v as number) <= 2147483647 ? null : "is not a 32-bit integer";
    case "bigint":
      return Number.isInteger(v) ? null : "is not an integer";
    case "bool":
      return typeof v === "boolean" ? null : "is not true or false";
    case "ts":
      return typeof v === "string" && isIsoTimestamp(v)
        ? null
        : "is not an ISO 8601 timestamp with an offset";
    case "text":
      return typeof v === "string" ? null : "is not a string";
    case "json":
      return null;
  }
}

/**
 * Where a text or JSON value holds a lone UTF-16 surrogate: "" for the value itself, the path inside a
 * JSON value (keys included), or null when it is well-formed Unicode. The input rule every request obeys
 * (src/http/input_rules.ts): Postgres refuses one in JSON and both databases turn one into U+FFFD in text.
 */
export function loneSurrogateAt(kind: ColumnKind, v: unknown): string | null {
  if (typeof v === "string") return v.isWellFormed() ? null : "";
  if (kind !== "json" || v === null || typeof v !== "object") return null;
  return inputRuleViolations(v, Infinity).surrogate[0] ?? null;
}

/**
 * Parses and checks one row line against the table: every column present,
 * no unknown keys, every value of its column's kind, every string
 * well-formed Unicode. Returns the object, or throws with the table, row
 * number and column named.
 */
export function parseRow(table: BackupTable, line: string, rowNumber: number): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw new Error(`${table.name} row ${rowNumber} is not valid JSON`);
  }
  if (row === null || typeof row !== "object" || Array.isArray(row)) {
    throw new Error(`${table.name} row ${rowNumber} is not an object`);
  }
  const obj = row as Record<string, unknown>;
  for (const c of table.columns) {
    if (!(c.name in obj)) throw new Error(`${table.name} row ${rowNumber} lacks column "${c.name}"`);
    const why = invalidValue(c, obj[c.name]);
    if (why) throw new Error(`${table.name} row ${rowNumber}: "${c.name}" ${why}`);
  }
  if (SURROGATE_ESCAPE.test(line)) {
    for (const c of table.columns) {
      const at = loneSurrogateAt(c.kind, obj[c.name]);
      if (at !== null) {
        throw new Error(
          `${table.name} row ${rowNumber}: "${c.name}"${at ? ` at ${at}` : ""} ${SURROGATE_MESSAGE}`,
        );
      }
    }
  }
  let keys = 0;
  for (const _ in obj) keys++;
  if (keys !== table.columns.length) {
    const known = new Set(table.columns.map((c) => c.name));
    const extra = Object.keys(obj).filter((k) => !known.has(k));
    throw new Error(
      `${table.name} row ${rowNumber} has unknown column(s) ${extra.map((k) => `"${k}"`).join(", ")}`,
    );
  }
  return obj;
}

/** A checked row → the values Drizzle inserts (property names, Dates). */
export function toDrizzleRow(table: BackupTable, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of table.columns) {
    const v = row[c.name];
    out[c.prop] = v === null ? null : c.kind === "ts" ? new Date(v as string) : v;
  }
  return out;
}

/** JSON with sorted keys, so that jsonb's key order does not matter. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(",")
    }}`;
  }
  return JSON.stringify(v);
}
