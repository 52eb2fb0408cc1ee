import { PGlite } from "@electric-sql/pglite";
import { pgliteDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
const c = new PGlite();
await c.waitReady;
const db = await pgliteDatabase(c);
await migrate(db);
const Q = `SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' ||
  coalesce(column_default, ''), ',' ORDER BY table_name, ordinal_position) f FROM information_schema.columns
  WHERE table_schema = current_schema()`;
const a = (await c.query<{ f: string }>(Q)).rows[0].f;
await c.exec("RESET ALL; SELECT pg_advisory_unlock_all()");
const b = (await c.query<{ f: string }>(Q)).rows[0].f;
console.log(a === b, a.length, b.length);
const as = a.split(","), bs = b.split(",");
for (let i = 0; i < as.length; i++) {
  if (as[i] !== bs[i]) {
    console.log(as[i], "|", bs[i]);
    break;
  }
}
const c2 = new PGlite();
await c2.waitReady;
console.log(
  (await c2.query("SELECT name, setting FROM pg_settings WHERE source NOT IN ('default','override')")).rows,
);
