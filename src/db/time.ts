/**
 * Time in SQL, per dialect: the database's own clock, timestamp parameters typed for their column, and a
 * timestamp read raw (an aggregate Drizzle does not map) as epoch milliseconds.
 * Story: docs/architecture.md.
 */
import type { Column, SQL } from "drizzle-orm";
import { sql } from "drizzle-orm";
import type { Database } from "./client.ts";

/** The database clock, epoch milliseconds (an SQL expression; Postgres: the statement's own `clock_timestamp()`). */
export function dbNowMs(db: Database): SQL {
  return db.dialect === "postgres"
    ? sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql`CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`;
}

/**
 * `at` as a parameter of timestamp column `column`, typed on Postgres (`CAST(… AS timestamptz)`): there a
 * CASE whose branches are untyped parameters would be text. On libSQL the column's own mapping (epoch ms).
 */
export function timestampParam(db: Database, column: Column, at: Date | number): SQL {
  const param = sql.param(new Date(at), column);
  return db.dialect === "postgres" ? sql`CAST(${param} AS timestamptz)` : sql`${param}`;
}

/**
 * A timestamp as a raw query returns it, in epoch ms (NaN when it is not one): libSQL stores an integer of
 * epoch ms (a number or bigint), Postgres returns a timestamptz (text or a Date).
 */
export function timestampMs(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  return new Date(value as string).getTime();
}
