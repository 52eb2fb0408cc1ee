import { PGlite } from "@electric-sql/pglite";
import { pgliteDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
import { testApp } from "../tests/helpers/app.ts";
const c = new PGlite();
await c.waitReady;
const db = await pgliteDatabase(c);
await migrate(db);
const Q =
  `SELECT current_schema() s, (SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()) i, (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = current_schema()::regnamespace) t, (SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()) c`;
console.log((await c.query(Q)).rows);
const { app } = await testApp(await pgliteDatabase(c));
await app.request("/api/v1/auth/login", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: "x@y.z", password: "abcdefgh" }),
});
console.log((await c.query(Q)).rows);
