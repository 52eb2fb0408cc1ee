import { PGlite } from "@electric-sql/pglite";
import { openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
let t = performance.now();
const lap = (s: string) => {
  const n = performance.now();
  console.log(s, Math.round(n - t), "ms");
  t = n;
};
const db = await openDatabase("pglite://memory");
lap("boot");
await migrate(db);
lap("migrate");
// deno-lint-ignore no-explicit-any
const client = (db.db as any).$client as PGlite;
const dump = await client.dumpDataDir("none");
lap(`dump ${dump.size}`);
const p2 = new PGlite({ loadDataDir: dump });
await p2.waitReady;
lap("load");
console.log((await p2.query("select count(*) from seedbed_migrations")).rows);
lap("q");
const p3 = new PGlite();
await p3.waitReady;
lap("boot2 bare");
