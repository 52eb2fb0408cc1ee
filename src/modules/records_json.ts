/**
 * A record row as JSON, built straight from the driver's values (src/db/raw_rows.ts): snake_case keys in
 * select order, each value mapped by its column's own `mapFromDriverValue` (what Drizzle's row would hold),
 * then a Date as its ISO string — exactly what `toJson` makes of Drizzle's row, without that row and its
 * copy. A Postgres `timestamptz` in UTC text (`2026-12-03 09:26:40.123456+00`) becomes its ISO string by
 * rearranging the text, which is what the column's own reading of it (`timestamptzFromText`) gives as ISO
 * (milliseconds truncated); any other text goes through that Date. tests/modules/records_json_test.ts
 * proves both on both databases. Story: docs/modules.md ("Speed").
 */
import type { Column } from "drizzle-orm";
import { snake } from "../db/module_tables.ts";

export type JsonRow = Record<string, unknown>;

/** Postgres's text of a UTC timestamptz of a four-digit year (AD: 0001–9999): date, time, optional fraction. */
const PG_UTC = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/**
 * `timestamptzFromText(text).toISOString()` of Postgres's text of a UTC timestamptz, without the Date;
 * undefined for any text it does not recognize (another offset, a year after 9999, BC, infinity).
 */
export function pgUtcIso(text: string): string | undefined {
  const m = PG_UTC.exec(text);
  if (!m) return undefined;
  const f = m[3];
  const ms = f === undefined ? "000" : f.length >= 3 ? f.slice(0, 3) : f.padEnd(3, "0");
  return `${m[1]}T${m[2]}.${ms}Z`;
}

/** A column's value as JSON: null, the mapped value, or a Date's ISO string. */
function converter(col: Column): (v: unknown) => unknown {
  const generic = (v: unknown) => {
    const x = col.mapFromDriverValue(v);
    return x instanceof Date ? x.toISOString() : x;
  };
  const c = col as Column & { withTimezone?: boolean };
  if (c.columnType === "PgTimestamp" && c.withTimezone === true) {
    return (v) => (typeof v === "string" && pgUtcIso(v)) || generic(v);
  }
  return generic;
}

/**
 * The mapper of rows selected as `columns` (property → column, in select order; the values beyond them,
 * such as a page's `__total`, are left out): raw row → JSON object.
 */
export function jsonRowMapper(
  columns: Readonly<Record<string, Column>>,
): (raw: ArrayLike<unknown>) => JsonRow {
  const keys = Object.keys(columns).map((k) => snake(k));
  const convert = Object.values(columns).map(converter);
  const n = keys.length;
  return (raw) => {
    const out: JsonRow = {};
    for (let i = 0; i < n; i++) {
      const v = raw[i];
      out[keys[i]] = v === null ? null : convert[i](v);
    }
    return out;
  };
}
