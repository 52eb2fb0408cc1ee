/**
 * Raw rows of a Drizzle prepared SELECT: each row as the driver's values in select order, before Drizzle
 * maps them to an object (its `mapResultRow` asks `is(field, Column)` and walks a path per value, and the
 * object is copied again on its way to JSON). The hot record reads (a module's list page and get) map
 * these values themselves, with each column's own `mapFromDriverValue` (src/modules/records_json.ts), so
 * that what they answer is what Drizzle's row would have become, value for value
 * (tests/modules/records_json_test.ts compares both paths on both databases).
 *
 * What is reached, and where (drizzle-orm 0.44.7; the canary, tests/db/driver_canary_test.ts, checks it):
 * - libSQL: the prepared query's own `values(placeholders)` (the client's rows, array-like), with Drizzle's
 *   normalization of a value (an ArrayBuffer becomes a Buffer);
 * - postgres.js: the prepared query's `client`, `queryString` and `params`, run as Drizzle runs them
 *   (`client.unsafe(queryString, fillPlaceholders(params, values)).values()`) but as a named prepared
 *   statement (`prepare: true`): postgres.js sends an unnamed statement with parameters as Parse + Describe,
 *   waits for the parameter types, then Bind + Execute — two round trips, and a parse and plan on the server,
 *   per query; a named one is described once per connection and then bound and executed in one round trip
 *   (Seedbed already needs a session, not a transaction pooler: docs/reliability.md).
 * Anything else (PGlite, a Drizzle upgrade that moved them) answers null and the caller takes Drizzle's path.
 * Drizzle's query logger and result cache are not consulted here: Seedbed configures neither.
 *
 * Story: docs/modules.md ("Speed").
 */
import { Buffer } from "node:buffer";
import { fillPlaceholders } from "drizzle-orm";
import type { Database } from "./client.ts";

/** Runs a prepared SELECT with values for its placeholders; resolves to its rows as arrays of driver values. */
export type RawValues = (values: Record<string, unknown>) => Promise<ArrayLike<unknown>[]>;

// deno-lint-ignore no-explicit-any
type Loose = any;

/** Drizzle's libSQL normalization of a value (drizzle-orm/libsql/session.js `normalizeFieldValue`). */
function normalized(rows: ArrayLike<unknown>[]): ArrayLike<unknown>[] {
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let i = 0; i < row.length; i++) {
      if (row[i] instanceof ArrayBuffer) {
        // A blob (none in the record tables today): that row becomes an array with Buffers, as Drizzle's.
        rows[r] = Array.prototype.map.call(row, (v) => v instanceof ArrayBuffer ? Buffer.from(v) : v);
        break;
      }
    }
  }
  return rows;
}

/** The raw-row runner of `prepared` (a Drizzle prepared select of `db`), or null when its shape is not there. */
export function rawValuesOf(db: Database, prepared: unknown): RawValues | null {
  const q = prepared as Loose;
  if (!q) return null;
  if (db.dialect === "sqlite") {
    if (typeof q.values !== "function" || typeof q.query?.sql !== "string") return null;
    return async (values) => normalized(await q.values(values) as ArrayLike<unknown>[]);
  }
  const client = q.client;
  if (
    !client || typeof client.unsafe !== "function" || typeof client.begin !== "function" ||
    typeof q.queryString !== "string" || !Array.isArray(q.params)
  ) return null;
  const text: string = q.queryString;
  const params: unknown[] = q.params;
  return async (values) =>
    await client.unsafe(text, fillPlaceholders(params, values), { prepare: true }).values();
}
