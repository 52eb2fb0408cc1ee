/**
 * `deno task bench:records [--rows 1000,1000000] [--seconds 5] [--rounds 3] [--connections 50]
 *   [--only libsql|postgres] [--baseline-statements unnamed|named]`
 *
 * Issue 13's speed check: Seedbed's guarded list and get on a registry module (`restaurants`, Test Corp's
 * admin: token → tenant → entitlement → RBAC → scoped query → JSON) against the fair baseline — the same
 * page query served by plain Hono over the same driver (the same `Database` handle and prepared query), no
 * authentication — on the same libSQL file and the same Postgres schema, measured in alternating rounds, at
 * each size of the tenant (rows of Test Corp). Reported: medians over the rounds of requests/s, p50 / p99,
 * the guarded/baseline ratio, and the server's CPU per request (from /proc: the figure a loaded machine
 * disturbs least) with the ratio it implies. Targets: ratio ≥ 0.7, p99 < 10 ms at 50 connections, and the guarded page
 * at the largest size within 1.5× of the page at the smallest. Figures: docs/performance.md.
 *
 * `--baseline-statements named` runs the baseline's Postgres queries as named prepared statements, as
 * Seedbed's record reads are (src/db/raw_rows.ts), instead of Drizzle's unnamed ones (two round trips and
 * a parse per query): the like-for-like figure for what the guarded route itself costs.
 *
 * Postgres: BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh schema per size).
 */
import { Hono } from "hono";
import type postgres from "postgres";
import { and, asc, eq, sql } from "drizzle-orm";
import { type Database, openDatabase } from "../src/db/client.ts";
import { load, type Result, type Target } from "./http_load.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const SELF = new URL(import.meta.url).pathname;
const PG = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";
const LIMIT = 20;

/** Fills Test Corp's restaurants up to `rows` in one statement per dialect. */
async function fill(db: Database, org: number, owner: number, rows: number) {
  const [{ n }] = await db.rows<{ n: number }>(
    sql`SELECT count(*) AS n FROM restaurants WHERE organization_id = ${org}`,
  );
  const missing = rows - Number(n);
  if (missing <= 0) return;
  const cols =
    "organization_id, owner_id, created_at, updated_at, name, description, address, cuisine, is_active";
  // In batches: each statement well inside DATABASE_STATEMENT_TIMEOUT_MS on a loaded machine.
  const BATCH = 100_000;
  const now = Date.now();
  for (let from = 1; from <= missing; from += BATCH) {
    const to = Math.min(missing, from + BATCH - 1);
    await db.run(
      db.dialect === "postgres"
        ? `INSERT INTO restaurants (${cols}) SELECT ${org}, ${owner}, now(), now(), 'BENCH-' || g, ` +
          `'Bench restaurant', g || ' Main St', 'Pizza', true FROM generate_series(${from}, ${to}) g`
        : `WITH RECURSIVE c(x) AS (SELECT ${from} UNION ALL SELECT x + 1 FROM c WHERE x < ${to}) ` +
          `INSERT INTO restaurants (${cols}) SELECT ${org}, ${owner}, ${now}, ${now}, 'BENCH-' || x, ` +
          `'Bench restaurant', x || ' Main St', 'Pizza', 1 FROM c`,
    );
  }
  // Postgres: VACUUM as well, which sets the visibility map a filled table has once autovacuum has been by
  // (after a bulk insert it soon is; this server runs with autovacuum off). Without it the map is empty, no
  // scan can be index-only, and it would change under the rounds if autovacuum came by during the run.
  await db.run(db.dialect === "postgres" ? "VACUUM (ANALYZE) restaurants" : "ANALYZE");
}

// ── server mode ─────────────────────────────────────────────────────────
async function serve(databaseUrl: string, rows: number, baselineStatements: string) {
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
  });
  const db = await openDatabase(databaseUrl);
  await migrate(db);
  const deps = await buildDeps({ config, db, logger: silentLogger });
  await deps.seeding.execute({ createBackup: false, triggeredBy: "bench" });
  const t = db.t;
  const [org] = await db.db.select().from(t.organizations).where(eq(t.organizations.slug, "test-corp"));
  const [admin] = await db.db.select().from(t.users).where(eq(t.users.email, "admin@testcorp.com"));
  const t0 = performance.now();
  await fill(db, org.id, admin.id, rows);
  console.error(
    `filled ${rows} restaurants for Test Corp in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const [middle] = await db.db.select({ id: t.restaurants.id }).from(t.restaurants)
    .where(eq(t.restaurants.organizationId, org.id)).orderBy(asc(t.restaurants.id)).limit(1)
    .offset(Math.floor(rows / 2));

  const app = createApp(deps);
  // As a server starts (src/main.ts): under ACCESS_FRESHNESS=lease (the default on Postgres) the process
  // takes part as a replica, and no request reads the security version. Without this the guarded side read
  // it once per batch of requests, which a production server does not.
  await deps.access.startLease();
  console.error(`access freshness: ${config.access.freshness}`);
  // The baseline: the same page query, the same driver, plain Hono, no authentication.
  const r = t.restaurants;
  const p = (n: string) => sql.placeholder(n) as unknown as number;
  const list = db.db.select().from(r).where(eq(r.organizationId, p("org"))).orderBy(asc(r.id)).limit(
    p("limit"),
  )
    .prepare("bench_baseline_list");
  const get = db.db.select().from(r).where(and(eq(r.id, p("id")), eq(r.organizationId, p("org")))).limit(1)
    .prepare("bench_baseline_get");
  if (baselineStatements === "named" && db.dialect === "postgres") {
    // `--baseline-statements named`: the baseline's two queries run as named prepared statements, as
    // Seedbed's record reads do (src/db/raw_rows.ts): Drizzle's postgres.js query runs `client.unsafe(text,
    // params)`, which postgres.js sends unnamed, with a Describe and a wait for its answer before the Bind —
    // two round trips and a parse per query. Everything else about the baseline stays as it is.
    for (const q of [list, get] as unknown as { client: postgres.Sql }[]) {
      const client = q.client;
      q.client = new Proxy(client, {
        get: (target, key) =>
          key === "unsafe"
            ? (text: string, params?: unknown[], options?: Record<string, unknown>) =>
              target.unsafe(text, params as never, { prepare: true, ...options })
            : Reflect.get(target, key),
      });
    }
  }
  const baseline = new Hono()
    .get(
      "/list",
      async (c) =>
        c.json({ items: await list.execute({ org: org.id, limit: Number(c.req.query("limit")) }) }),
    )
    .get("/get/:id", async (c) => {
      const [row] = await get.execute({ org: org.id, id: Number(c.req.param("id")) });
      return row ? c.json(row) : c.json({ detail: "not found" }, 404);
    });
  const appServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const baseServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, baseline.fetch);
  const base = `http://127.0.0.1:${appServer.addr.port}`;
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "admin@testcorp.com", password: "password123" }),
  });
  const token = (await res.json()).access_token;
  console.log(
    JSON.stringify({ base, baseline: `http://127.0.0.1:${baseServer.addr.port}`, token, id: middle.id }),
  );
  await new Promise(() => {});
}

// ── orchestration ───────────────────────────────────────────────────────
function child(args: string[]): Deno.ChildProcess {
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

/** User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench(
  dialect: "libsql" | "postgres",
  rows: number,
  seconds: number,
  connections: number,
  rounds: number,
) {
  let url: string;
  let cleanup = async () => {};
  if (dialect === "libsql") {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-records-bench-", dir: "/dev/shm" }).catch(() =>
      Deno.makeTempDir({ prefix: "seedbed-records-bench-" })
    );
    url = `file:${dir}/bench.db`;
    cleanup = () => Deno.remove(dir, { recursive: true });
  } else {
    const schema = `rbench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const u = new URL(PG);
    u.searchParams.set("schema", schema);
    url = u.toString();
    cleanup = async () => {
      const admin = await openDatabase(PG, { maxConnections: 1 });
      await admin.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    };
  }
  const server = child(["serve", url, String(rows), arg("baseline-statements", "unnamed")]);
  try {
    const info = JSON.parse(await firstLine(server.stdout));
    const auth = { authorization: `Bearer ${info.token}` };
    const targets: [string, Target][] = [
      ["baseline list", { url: `${info.baseline}/list?limit=${LIMIT}`, method: "GET", headers: {} }],
      ["guarded list", {
        url: `${info.base}/api/v1/restaurants?limit=${LIMIT}`,
        method: "GET",
        headers: auth,
      }],
      ["baseline get", { url: `${info.baseline}/get/${info.id}`, method: "GET", headers: {} }],
      ["guarded get", { url: `${info.base}/api/v1/restaurants/${info.id}`, method: "GET", headers: auth }],
    ];
    const results = new Map<string, (Result & { cpuUs: number })[]>(targets.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const [name, target] of order) {
        const cpu0 = cpuSeconds(server.pid);
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", SELF, "load", JSON.stringify(target), String(connections), String(seconds)],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        const r = JSON.parse(new TextDecoder().decode(out.stdout)) as Result;
        if (r.errors) console.error(`${name}: ${r.errors} error responses`);
        // The server's CPU per request (warm-up included on both sides of the division): on a shared,
        // loaded machine it moves far less than requests/s, which depend on the CPU the server was given.
        const cpu = cpuSeconds(server.pid) - cpu0;
        results.get(name)!.push({ ...r, cpuUs: (cpu * 1e6) / (r.requests + r.warmupRequests) });
      }
    }
    const row = (name: string) => {
      const rs = results.get(name)!;
      return {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpuUs: median(rs.map((r) => r.cpuUs)),
      };
    };
    const out: Record<string, unknown> = { dialect, rows };
    for (const what of ["list", "get"]) {
      const g = row(`guarded ${what}`);
      const b = row(`baseline ${what}`);
      out[what] = { guarded: g, baseline: b, ratio: g.rps / b.rps, cpuRatio: b.cpuUs / g.cpuUs };
      console.log(
        `| ${dialect} | ${rows.toLocaleString("en")} | ${what} | ${g.rps.toFixed(0)} | ${
          b.rps.toFixed(0)
        } | ` +
          `${(g.rps / b.rps).toFixed(2)} | ${g.cpuUs.toFixed(0)} / ${b.cpuUs.toFixed(0)} | ${
            (b.cpuUs / g.cpuUs).toFixed(2)
          } | ${g.p50.toFixed(1)} / ${g.p99.toFixed(1)} | ${b.p50.toFixed(1)} / ${b.p99.toFixed(1)} |`,
      );
    }
    return out;
  } finally {
    try {
      server.kill();
    } catch { /* the server already exited (its error is above) */ }
    await server.status;
    await cleanup();
  }
}

if (import.meta.main) {
  const [mode] = Deno.args;
  if (mode === "serve") await serve(Deno.args[1], Number(Deno.args[2]), Deno.args[3]);
  else if (mode === "load") {
    const target = JSON.parse(Deno.args[1]) as Target;
    console.log(JSON.stringify(await load(target, Number(Deno.args[2]), Number(Deno.args[3]), 2)));
  } else {
    const sizes = arg("rows", "1000,1000000").split(",").map(Number);
    const seconds = Number(arg("seconds", "5"));
    const rounds = Number(arg("rounds", "3"));
    const connections = Number(arg("connections", "50"));
    const only = arg("only", "");
    console.log(
      `Seedbed records bench — Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, ` +
        `${connections} connections, limit=${LIMIT}, medians of ${rounds} rounds × ${seconds} s, ` +
        `Postgres baseline statements ${arg("baseline-statements", "unnamed")}`,
    );
    console.log(
      "| database | rows in the tenant | route | guarded req/s | baseline req/s | ratio | server CPU µs/req guarded / baseline | CPU ratio | guarded p50 / p99 ms | baseline p50 / p99 ms |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    for (const dialect of ["libsql", "postgres"] as const) {
      if (only && only !== dialect) continue;
      for (const rows of sizes) await bench(dialect, rows, seconds, connections, rounds);
    }
  }
}
