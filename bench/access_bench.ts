/**
 * `deno task bench:access [--seconds 5] [--rounds 3] [--connections 50] [--only libsql|postgres]
 *   [--freshness read,lease] [--targets <name part>,…]`
 *
 * One load generator; the three targets of issue 4, measured in the same run:
 *   1. a bare Hono hello-world route on Deno (the baseline),
 *   2. `GET /api/v1/crm/leads?limit=1` (token → tenant → entitlement → RBAC → scoped query),
 *   3. `POST /access/v1/evaluation` with a valid token (AuthZEN, the three layers, no business query),
 * and two reference rows (a bare Hono JSON POST, the app's unauthenticated /health). Each database runs
 * under both ACCESS_FRESHNESS modes (`read`: a version read per batch of requests; `lease`: see
 * src/access/lease.ts); under `lease` only the baseline and the two targets run.
 * The server (the real app over a migrated, seeded database) runs in its own
 * process; the load generator (a minimal raw-TCP HTTP/1.1 client, lighter
 * than fetch) in another, with N concurrent keep-alive connections. Every target is measured in each of
 * several rounds (order alternating); reported are medians over the rounds of requests/s, of the ratio to
 * that round's hello-world, and of p50 / p99 latency, with the range of the ratio and of p99.
 * Then `deno bench bench/access_decide_bench.ts` (in-process decision) runs.
 *
 * Postgres: BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh schema per run).
 */
import { Hono } from "hono";
import { openDatabase } from "../src/db/client.ts";
import { load, type Result, type Target } from "./http_load.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const SELF = new URL(import.meta.url).pathname;
const PG = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

// ── server mode ─────────────────────────────────────────────────────────
async function serve(databaseUrl: string, freshness: string) {
  const { loadConfig } = await import("../src/config.ts");
  const { migrate } = await import("../src/db/migrator.ts");
  const { buildDeps } = await import("../src/deps.ts");
  const { createApp } = await import("../src/app.ts");
  const { silentLogger } = await import("../src/log.ts");
  const config = loadConfig({
    APP_ENV: "test",
    LOG_LEVEL: "silent",
    SECRET_KEY: "b".repeat(40),
    DATABASE_URL: databaseUrl,
    ACCESS_FRESHNESS: freshness,
  });
  const db = await openDatabase(databaseUrl);
  await migrate(db);
  const deps = await buildDeps({ config, db, logger: silentLogger });
  await deps.seeding.execute({ createBackup: false, triggeredBy: "bench" });
  const app = createApp(deps);
  await deps.access.startLease(); // ACCESS_FRESHNESS=lease only
  const hello = new Hono().get("/hello", (c) => c.text("Hello, world!"))
    // Informative second baseline: the cost of a POST with a JSON body in bare Hono.
    .post("/echo", async (c) => c.json({ decision: typeof (await c.req.json()) === "object" }))
    // Bench bookkeeping (not part of the measured targets): version reads and snapshot loads so far.
    .get("/stats", (c) => c.json({ reads: deps.access.cache.gate.reads, loads: deps.access.cache.loads }));
  const appServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const helloServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, hello.fetch);
  const base = `http://127.0.0.1:${appServer.addr.port}`;
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "admin@testcorp.com", password: "password123" }),
  });
  const token = (await res.json()).access_token;
  const me = await (await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } }))
    .json();
  console.log(
    JSON.stringify({ base, hello: `http://127.0.0.1:${helloServer.addr.port}`, token, userId: me.id }),
  );
  await new Promise(() => {});
}

// ── load mode: bench/http_load.ts ─────────────────────────────────────
// ── orchestration ───────────────────────────────────────────────────────
function child(args: string[]): Deno.ChildProcess {
  // The server runs with the V8 flags of `deno task start` (deno.json), as deployed.
  const v8 = args[0] === "serve" ? ["--v8-flags=--max-semi-space-size=4"] : [];
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...v8, SELF, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  reader.releaseLock();
  return buf.split("\n")[0];
}

interface BenchRun {
  dialect: "libsql" | "postgres";
  freshness: "read" | "lease";
  seconds: number;
  connections: number;
  rounds: number;
  /** Only the targets whose name contains one of these (the hello-world baseline always runs). */
  targets: string[];
}

async function bench({ dialect, freshness, seconds, connections, rounds, targets: only }: BenchRun) {
  let url: string;
  let cleanup = async () => {};
  if (dialect === "libsql") {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-access-bench-", dir: "/dev/shm" }).catch(() =>
      Deno.makeTempDir({ prefix: "seedbed-access-bench-" })
    );
    url = `file:${dir}/bench.db`;
    cleanup = () => Deno.remove(dir, { recursive: true });
  } else {
    const schema = `abench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const u = new URL(PG);
    u.searchParams.set("schema", schema);
    url = u.toString();
    cleanup = async () => {
      const admin = await openDatabase(PG, { maxConnections: 1 });
      await admin.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    };
  }
  const server = await child(["serve", url, freshness]);
  try {
    const info = JSON.parse(await firstLine(server.stdout));
    const auth = { authorization: `Bearer ${info.token}` };
    const targets: [string, Target][] = [
      ["hello-world (bare Hono)", { url: `${info.hello}/hello`, method: "GET", headers: {} }],
      ["bare Hono POST JSON echo (reference)", {
        url: `${info.hello}/echo`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ subject: { type: "user", id: "1" }, action: { name: "crm.read" } }),
      }],
      ["GET /health (the app, no auth)", { url: `${info.base}/health`, method: "GET", headers: {} }],
      ["GET /api/v1/crm/leads?limit=1", {
        url: `${info.base}/api/v1/crm/leads?limit=1`,
        method: "GET",
        headers: auth,
      }],
      ["POST /access/v1/evaluation", {
        url: `${info.base}/access/v1/evaluation`,
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          subject: { type: "user", id: String(info.userId) },
          action: { name: "crm.read" },
          resource: { type: "module", id: "crm" },
        }),
      }],
    ];
    if (only.length) {
      targets.splice(
        0,
        targets.length,
        ...targets.filter(([n], i) => i === 0 || only.some((o) => n.includes(o))),
      );
    }
    const stats = async () =>
      await (await fetch(`${info.hello}/stats`)).json() as { reads: number; loads: number };
    // Each round measures every target once, alternating the order, so that drift of the machine
    // (other work, CPU frequency) over the run falls on every target alike; ratios are per round.
    const results = new Map<string, Result[]>(targets.map(([name]) => [name, []]));
    const ratios = new Map<string, number[]>(targets.map(([name]) => [name, []]));
    const reads = new Map<string, { reads: number; loads: number; requests: number }>();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...targets].reverse() : targets;
      const thisRound = new Map<string, Result>();
      for (const [name, target] of order) {
        const before = await stats();
        const gen = await child(["load", JSON.stringify(target), String(connections), String(seconds)]);
        const out = await new Response(gen.stdout).text();
        await gen.status;
        const r = JSON.parse(out.trim().split("\n").at(-1)!) as Result;
        const after = await stats();
        thisRound.set(name, r);
        results.get(name)!.push(r);
        const acc = reads.get(name) ?? { reads: 0, loads: 0, requests: 0 };
        reads.set(name, {
          reads: acc.reads + after.reads - before.reads,
          loads: acc.loads + after.loads - before.loads,
          requests: acc.requests + r.requests,
        });
      }
      const baseline = thisRound.get(targets[0][0])!.rps;
      for (const [name, r] of thisRound) ratios.get(name)!.push(r.rps / baseline);
    }
    const median = (xs: number[]) => {
      const v = [...xs].sort((a, b) => a - b);
      return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    };
    const span = (xs: number[], digits: number) =>
      xs.length > 1 ? ` (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : "";
    console.log(
      `\n### ${dialect}, ACCESS_FRESHNESS=${freshness} — ${connections} connections, ${rounds} rounds × ${seconds} s per target (medians; range over rounds)\n`,
    );
    console.log("| target | req/s | vs hello-world | p50 ms | p99 ms | errors |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const [name] of targets) {
      const rs = results.get(name)!;
      const q = ratios.get(name)!;
      console.log(
        `| ${name} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(q).toFixed(2)}${span(q, 2)} | ${
          median(rs.map((r) => r.p50)).toFixed(2)
        } | ${median(rs.map((r) => r.p99)).toFixed(2)}${span(rs.map((r) => r.p99), 2)} | ${
          rs.reduce((n, r) => n + r.errors, 0)
        } |`,
      );
    }
    console.log("");
    for (const [name, r] of reads) {
      if ((name.startsWith("GET /api") || name.startsWith("POST /access")) && !r.reads) {
        console.log(
          `- ${name}: no security-version reads (the lease stood in) and ${r.loads} snapshot loads`,
        );
      } else if (name.startsWith("GET /api") || name.startsWith("POST /access")) {
        console.log(
          `- ${name}: ${r.reads} security-version reads and ${r.loads} snapshot loads for ~${r.requests} measured requests (plus warm-up), one read per ~${
            Math.round(r.requests / Math.max(1, r.reads))
          }`,
        );
      }
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await cleanup();
  }
}

if (import.meta.main) {
  const [mode] = Deno.args;
  if (mode === "serve") await serve(Deno.args[1], Deno.args[2]);
  else if (mode === "load") {
    const target = JSON.parse(Deno.args[1]) as Target;
    console.log(JSON.stringify(await load(target, Number(Deno.args[2]), Number(Deno.args[3]), 2)));
  } else {
    const seconds = Number(arg("seconds", "5"));
    const rounds = Number(arg("rounds", "3"));
    const connections = Number(arg("connections", "50"));
    const only = arg("only", "");
    const freshnesses = arg("freshness", "read,lease").split(",");
    const targets = arg("targets", "").split(",").filter(Boolean);
    console.log(`Seedbed access bench — Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs`);
    for (const freshness of ["read", "lease"] as const) {
      if (!freshnesses.includes(freshness)) continue;
      for (const dialect of ["libsql", "postgres"] as const) {
        if (only && only !== dialect) continue;
        // Under a lease the reference rows (echo, /health) measure nothing new: only the two targets run.
        const t = freshness === "lease" && !targets.length ? ["GET /api", "POST /access"] : targets;
        await bench({ dialect, freshness, seconds, connections, rounds, targets: t });
      }
    }
    const decide = await new Deno.Command(Deno.execPath(), {
      args: ["bench", "-A", new URL("./access_decide_bench.ts", import.meta.url).pathname],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    Deno.exit(decide.success ? 0 : 1);
  }
}
