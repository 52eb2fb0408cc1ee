/**
 * `deno task bench:soak`: two replicas (`deno task start`'s permissions) on
 * one Postgres schema and an S3 server, a mixed load for SOAK_SECONDS
 * (default 180) from SOAK_CONNECTIONS (default 16) keep-alive clients split
 * between them, then an idle SOAK_SETTLE_SECONDS (default 30). Reports
 * throughput, p50/p90/p99/max per replica, status counts, unexpected
 * non-2xx (target 0; the 403 of a module the tenant is not entitled to is
 * expected) and each replica's RSS at start, middle, end of the load and
 * after the settle (target: back within 10% of the start).
 *
 * Mix (per request): 25% lead list (rotating skip), 15% lead get, 10% user
 * list, 25% AuthZEN evaluation, 10% lead create, 5% delete of a created
 * lead, 5% manufacturing orders (expected 403), 5% /ready.
 *
 * Needs BENCH_DATABASE_URL or TEST_DATABASE_URL (Postgres). Figures:
 * docs/reliability.md.
 */
import { sql } from "drizzle-orm";
import { openDatabase } from "../src/db/client.ts";
import { startEmbeddedS3 } from "../src/storage/embedded_s3.ts";
import { EMBEDDED_CREDENTIALS } from "../src/storage/embedded_s3.ts";
import { freshSchema, Replica } from "../tests/faults/helpers.ts";

const base = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL");
if (!base) {
  console.error("bench:soak needs BENCH_DATABASE_URL or TEST_DATABASE_URL (a Postgres server)");
  Deno.exit(2);
}
const SECONDS = Number(Deno.env.get("SOAK_SECONDS") ?? 180);
const CONNECTIONS = Number(Deno.env.get("SOAK_CONNECTIONS") ?? 16);
const SETTLE = Number(Deno.env.get("SOAK_SETTLE_SECONDS") ?? 30);

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

const METRICS_TOKEN = "soak-metrics-token-0123456789";

/** A replica's V8 heap (used / total MiB) and external memory, from its own /metrics (process collectors). */
async function heapOf(r: Replica): Promise<string> {
  try {
    const text = await (await fetch(`${r.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    })).text();
    const mib = (name: string) => {
      const m = new RegExp(`^seedbed_nodejs_${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
      return m ? String(Math.round(Number(m[1]) / 2 ** 20)) : "?";
    };
    return `${mib("heap_size_used_bytes")}/${mib("heap_size_total_bytes")}+${mib("external_memory_bytes")}`;
  } catch {
    return "?";
  }
}

const { url, schema } = freshSchema(base);
const s3dir = await Deno.makeTempDir({ prefix: "seedbed-soak-s3-" });
const s3 = await startEmbeddedS3({ directory: s3dir, port: 0 });
const env = {
  DATABASE_URL: url,
  LOG_LEVEL: "warn",
  S3_ENDPOINT: s3.endpoint,
  S3_FORCE_PATH_STYLE: "true",
  S3_BUCKET_NAME: "soak",
  AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey,
  METRICS_TOKEN,
};
const replicas = [await Replica.start("r1", env), await Replica.start("r2", env)];
const admin = await openDatabase(url, { maxConnections: 1 });
try {
  const [r1] = replicas;
  const manager = await r1.login({ email: "manager@testcorp.com", password: "password123" });
  const tenantAdmin = await r1.login({ email: "admin@testcorp.com", password: "password123" });
  const me = await r1.request("GET", "/api/v1/auth/me", { token: manager });
  const managerId = String(me.body.id);
  // Some leads to read.
  for (let i = 0; i < 200; i++) {
    await r1.request("POST", "/api/v1/crm/leads", { token: manager, body: { name: `Soak seed ${i}` } });
  }
  const ids = ((await r1.request("GET", "/api/v1/crm/leads?limit=100", { token: manager })).body.items as {
    id: number;
  }[]).map((l) => l.id);

  type Sample = { ms: number; status: number };
  const samples: Sample[][] = replicas.map(() => []);
  const statuses = new Map<string, number>();
  const unexpected = new Map<string, number>();
  const created: number[] = [];
  let stop = false;
  let seq = 0;

  const one = async (r: Replica, idx: number) => {
    const p = Math.random();
    let method = "GET";
    let path: string;
    let token = manager;
    let body: unknown;
    let expect = (s: number) => s >= 200 && s < 300;
    if (p < 0.25) path = `/api/v1/crm/leads?limit=20&skip=${(seq++ * 20) % 200}`;
    else if (p < 0.40) path = `/api/v1/crm/leads/${ids[Math.floor(Math.random() * ids.length)]}`;
    else if (p < 0.50) (path = "/api/v1/users", token = tenantAdmin);
    else if (p < 0.75) {
      method = "POST";
      path = "/access/v1/evaluation";
      body = {
        subject: { type: "user", id: managerId },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      };
    } else if (p < 0.85) (method = "POST", path = "/api/v1/crm/leads", body = { name: `Soak ${seq++}` });
    else if (p < 0.90 && created.length) (method = "DELETE", path = `/api/v1/crm/leads/${created.pop()}`);
    else if (p < 0.95) (path = "/api/v1/manufacturing/orders", expect = (s) => s === 403);
    else path = "/ready";
    const started = performance.now();
    let status = 0;
    try {
      const res = await r.request(method, path, { token, body, timeoutMs: 30_000 });
      status = res.status;
      if (method === "POST" && path === "/api/v1/crm/leads" && status === 201) {
        created.push(res.body.id as number);
      }
    } catch {
      status = 0; // socket error or timeout
    }
    samples[idx].push({ ms: performance.now() - started, status });
    const label = `${method} ${path.replace(/\d+/g, ":n").replace(/\?.*/, "")} ${status}`;
    statuses.set(String(status), (statuses.get(String(status)) ?? 0) + 1);
    if (!expect(status)) unexpected.set(label, (unexpected.get(label) ?? 0) + 1);
  };

  const rss = replicas.map((r) => ({ start: rssMiB(r.pid), middle: 0, end: 0, settled: 0 }));
  const heap = await Promise.all(
    replicas.map(async (r) => ({ start: await heapOf(r), end: "", settled: "" })),
  );
  console.error(`soak: ${SECONDS} s, ${CONNECTIONS} connections over 2 replicas on ${schema}`);
  const t0 = performance.now();
  const middle = setTimeout(() => replicas.forEach((r, i) => (rss[i].middle = rssMiB(r.pid))), SECONDS * 500);
  const stopper = setTimeout(() => (stop = true), SECONDS * 1000);
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
    const idx = c % 2;
    while (!stop) await one(replicas[idx], idx);
  }));
  clearTimeout(middle);
  clearTimeout(stopper);
  const elapsed = (performance.now() - t0) / 1000;
  replicas.forEach((r, i) => (rss[i].end = rssMiB(r.pid)));
  for (const [i, r] of replicas.entries()) heap[i].end = await heapOf(r);
  await new Promise((r) => setTimeout(r, SETTLE * 1000));
  replicas.forEach((r, i) => (rss[i].settled = rssMiB(r.pid)));
  for (const [i, r] of replicas.entries()) heap[i].settled = await heapOf(r);

  const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  const total = samples.reduce((n, s) => n + s.length, 0);
  const [{ n: connections }] = await admin.rows<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()`,
  );
  console.log(`\n${total} requests in ${elapsed.toFixed(0)} s: ${(total / elapsed).toFixed(1)} req/s`);
  console.log(
    "| Replica | req/s | p50 ms | p90 ms | p99 ms | max ms | RSS MiB start / middle / end / +settle |",
  );
  console.log(
    "| ------- | ----- | ------ | ------ | ------ | ------ | -------------------------------------- |",
  );
  samples.forEach((s, i) => {
    const ms = s.map((x) => x.ms).sort((a, b) => a - b);
    const r = rss[i];
    console.log(
      `| r${i + 1} | ${(s.length / elapsed).toFixed(1)} | ${pct(ms, 0.5).toFixed(0)} | ${
        pct(ms, 0.9).toFixed(0)
      } | ${pct(ms, 0.99).toFixed(0)} | ${
        ms[ms.length - 1].toFixed(0)
      } | ${r.start} / ${r.middle} / ${r.end} / ${r.settled} |`,
    );
  });
  heap.forEach((h, i) =>
    console.log(
      `r${i + 1} V8 heap used/total+external MiB: start ${h.start}, end ${h.end}, +settle ${h.settled}`,
    )
  );
  console.log(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  const bad = [...unexpected.values()].reduce((a, b) => a + b, 0);
  console.log(`unexpected: ${bad}${bad ? " " + JSON.stringify(Object.fromEntries(unexpected)) : ""}`);
  console.log(`connections to the database at the end (both replicas and this bench): ${connections}`);
  const errors = replicas.flatMap((r) => r.records.filter((l) => l.level === "error").map((l) => l.event));
  console.log(
    `error log lines: ${errors.length}${errors.length ? " " + [...new Set(errors)].join(", ") : ""}`,
  );
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
  await admin.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await admin.close();
  await s3.close();
  await Deno.remove(s3dir, { recursive: true }).catch(() => {});
}
