// Scratch (not committed): does the JS heap of one replica grow round after round of the soak mix?
import { freePort, freshSchema, Replica } from "../tests/faults/helpers.ts";
import { openDatabase } from "../src/db/client.ts";
import { EMBEDDED_CREDENTIALS, startEmbeddedS3 } from "../src/storage/embedded_s3.ts";
const { url, schema } = freshSchema();
const dir = await Deno.makeTempDir();
const s3 = await startEmbeddedS3({ directory: dir, port: 0 });
const mport = freePort();
const r = await Replica.start("p", { DENO_V8_FLAGS: "--trace-gc", DATABASE_URL: url, LOG_LEVEL: "warn", METRICS_PORT: String(mport), S3_ENDPOINT: s3.endpoint, S3_FORCE_PATH_STYLE: "true", S3_BUCKET_NAME: "leak", AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey });
const rss = () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${r.pid}/status`))![1]) / 1024);
async function heap() {
  let min = Infinity, ext = 0;
  for (let i = 0; i < 4; i++) {
    const t = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
    const used = Number(/^seedbed_nodejs_heap_size_used_bytes (\S+)/m.exec(t)?.[1]);
    ext = Number(/^seedbed_nodejs_external_memory_bytes (\S+)/m.exec(t)?.[1]);
    min = Math.min(min, used);
    await new Promise((ok) => setTimeout(ok, 700));
  }
  return `heapUsed(min) ${(min / 2 ** 20).toFixed(1)} MiB, external ${(ext / 2 ** 20).toFixed(1)} MiB, rss ${rss()} MiB`;
}
const manager = await r.login({ email: "manager@testcorp.com", password: "password123" });
const tenantAdmin = await r.login({ email: "admin@testcorp.com", password: "password123" });
const me = await r.request("GET", "/api/v1/auth/me", { token: manager });
for (let i = 0; i < 100; i++) await r.request("POST", "/api/v1/crm/leads", { token: manager, body: { name: `seed ${i}` } });
const ids = ((await r.request("GET", "/api/v1/crm/leads?limit=100", { token: manager })).body.items as { id: number }[]).map((l) => l.id);
const created: number[] = [];
let seq = 0;
async function one() {
  const p = Math.random();
  if (p < 0.25) await r.request("GET", `/api/v1/crm/leads?limit=20&skip=${(seq++ * 20) % 100}`, { token: manager });
  else if (p < 0.4) await r.request("GET", `/api/v1/crm/leads/${ids[seq++ % ids.length]}`, { token: manager });
  else if (p < 0.5) await r.request("GET", "/api/v1/users", { token: tenantAdmin });
  else if (p < 0.75) await r.request("POST", "/access/v1/evaluation", { token: manager, body: { subject: { type: "user", id: String(me.body.id) }, action: { name: "crm.read" }, resource: { type: "module", id: "crm" } } });
  else if (p < 0.85) { const x = await r.request("POST", "/api/v1/crm/leads", { token: manager, body: { name: `s ${seq++}` } }); created.push(x.body.id as number); }
  else if (p < 0.9 && created.length) await r.request("DELETE", `/api/v1/crm/leads/${created.pop()}`, { token: manager });
  else if (p < 0.95) await r.request("GET", "/api/v1/manufacturing/orders", { token: manager });
  else await r.request("GET", "/ready");
}
console.log("start:", await heap());
for (let round = 1; round <= 10; round++) {
  let n = 0;
  await Promise.all(Array.from({ length: 4 }, async () => { while (n++ < 1500) await one(); }));
  await new Promise((ok) => setTimeout(ok, 2000));
  console.log(`after round ${round} (${round * 1500} req):`, await heap());
}
await r.stop();
console.log(r.lines.filter((l) => l.includes("Mark-Compact")).map((l) => l.replace(/^.*?(Mark-Compact[^,]*,[^,]*).*$/, "$1")).join("\n"));
await s3.close();
const db = await openDatabase(Deno.env.get("TEST_DATABASE_URL")!, { maxConnections: 1 });
await db.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
await db.close();
