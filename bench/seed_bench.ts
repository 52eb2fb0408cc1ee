/**
 * `deno task bench:seed [--rows 100000] [--reps 2] [--only libsql|postgres]`
 *
 * Seeds `--scale N` volume data (every module table with a volume factory in
 * the registry × N = ~`--rows` rows) through the seeding engine, and compares its rate with a baseline measured in the
 * same run: the very same rows inserted straight through the driver
 * (@libsql/client, postgres.js) in 1000-row multi-row INSERTs inside one
 * transaction. Each measurement runs on a fresh database prepared the same
 * way (migrations + core and demo seeders); the best of `--reps` is kept.
 *
 * Postgres: BENCH_DATABASE_URL or TEST_DATABASE_URL (a fresh schema per run).
 */
import { createClient } from "@libsql/client";
import postgres from "postgres";
import { asc, getTableColumns, getTableName, gt, max } from "drizzle-orm";
import type { Column } from "drizzle-orm";
import { type Database, openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { SeedingService } from "../src/seeding/seeding_service.ts";
import type { AnyTable } from "../src/seeding/types.ts";
import { SEEDERS } from "../seeders/mod.ts";
import { VOLUME_RESOURCES } from "../seeders/volume.ts";
import { noDelaySocket } from "../src/db/pg_socket.ts";

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const ROWS = Number(arg("rows", "100000"));
const REPS = Number(arg("reps", "2"));
const ONLY = arg("only", "");
const SCALE = Math.ceil(ROWS / VOLUME_RESOURCES.length);
const BATCH = 1000;
const PG = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

const config = loadConfig({ APP_ENV: "test", LOG_LEVEL: "silent", SECRET_KEY: "b".repeat(40) });

interface Fresh {
  url: string;
  db: Database;
  dispose(): Promise<void>;
}

async function fresh(dialect: "libsql" | "postgres"): Promise<Fresh> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (dialect === "libsql") {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-bench-" });
    url = `file:${dir}/bench.db`;
    cleanup = () => Deno.remove(dir, { recursive: true });
  } else {
    const schema = `bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const u = new URL(PG);
    u.searchParams.set("schema", schema);
    url = u.toString();
    cleanup = async () => {
      const admin = postgres(PG, { max: 1, onnotice: () => {} });
      await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    };
  }
  const db = await openDatabase(url);
  await migrate(db);
  // Same preparation for both measurements: core + demo data, so owners and organizations exist.
  const svc = new SeedingService({ db, config, logger: silentLogger, announce: () => {}, seeders: SEEDERS });
  await svc.execute({ triggeredBy: "bench", createBackup: false });
  return { url, db, dispose: async () => (await db.close(), await cleanup()) };
}

/** Every table `--scale` fills, from the module registry, in the order the VolumeSeeder fills them. */
const VOLUME_TABLES = (db: Database): (AnyTable & { id: Column })[] => {
  const t = db.t as unknown as Record<string, AnyTable & { id: Column }>;
  return VOLUME_RESOURCES.map((r) => {
    const table = t[r.key];
    if (!table?.id) throw new Error(`bench: ${r.table} has a volume factory but no id column`);
    return table;
  });
};

/** The highest id of each volume table: the rows above it are the ones the `--scale` run writes. */
async function watermarks(db: Database): Promise<number[]> {
  const out: number[] = [];
  for (const table of VOLUME_TABLES(db)) {
    const [row] = await db.db.select({ id: max(table.id) }).from(table);
    out.push(Number(row?.id ?? 0));
  }
  return out;
}

/** Seedbed: one `--scale` run. Returns seconds (whole execution, and the VolumeSeeder alone) and rows. */
async function runSeedbed(f: Fresh) {
  const before = await watermarks(f.db);
  const svc = new SeedingService({
    db: f.db,
    config,
    logger: silentLogger,
    announce: () => {},
    seeders: SEEDERS,
  });
  const t0 = performance.now();
  const r = await svc.execute({ triggeredBy: "bench", createBackup: false, scale: SCALE, randomSeed: 1 });
  const total = (performance.now() - t0) / 1000;
  const rec = await svc.getExecution(r.execution_id);
  const volume = ((rec.results as { timings_ms: Record<string, number> }).timings_ms.VolumeSeeder) / 1000;
  return { total, volume, rows: r.results.seeders.VolumeSeeder.created, before };
}

/** The rows Seedbed wrote, as driver-level records (column name → driver value), per table. */
async function exportRows(db: Database, before: number[]) {
  const out: { table: string; columns: string[]; rows: unknown[][] }[] = [];
  for (const [i, table] of VOLUME_TABLES(db).entries()) {
    const cols = Object.values(getTableColumns(table) as Record<string, Column>);
    const rows = await db.db.select().from(table).where(gt(table.id, before[i])).orderBy(asc(table.id));
    const props = Object.entries(getTableColumns(table) as Record<string, Column>);
    out.push({
      table: getTableName(table),
      columns: cols.map((c) => c.name),
      rows: rows.map((r) => props.map(([p, c]) => c.mapToDriverValue((r as Record<string, unknown>)[p]))),
    });
  }
  return out;
}

/** Baseline: the same rows through the raw driver, 1000-row INSERTs in one transaction. */
async function runBaseline(
  dialect: "libsql" | "postgres",
  f: Fresh,
  data: Awaited<ReturnType<typeof exportRows>>,
) {
  let rows = 0;
  if (dialect === "libsql") {
    await f.db.close();
    const client = createClient({ url: f.url, intMode: "number" });
    await client.execute("PRAGMA foreign_keys = ON");
    const t0 = performance.now();
    const tx = await client.transaction("write");
    for (const d of data) {
      for (let i = 0; i < d.rows.length; i += BATCH) {
        const chunk = d.rows.slice(i, i + BATCH);
        const one = `(${d.columns.map(() => "?").join(", ")})`;
        await tx.execute({
          sql: `INSERT INTO "${d.table}" (${d.columns.map((c) => `"${c}"`).join(", ")}) VALUES ${
            chunk.map(() => one).join(", ")
          }`,
          args: chunk.flat() as never[],
        });
        rows += chunk.length;
      }
    }
    await tx.commit();
    const s = (performance.now() - t0) / 1000;
    client.close();
    f.db = await openDatabase(f.url);
    return { seconds: s, rows };
  }
  const u = new URL(f.url);
  const schema = u.searchParams.get("schema")!;
  u.searchParams.delete("schema");
  // TCP_NODELAY as Seedbed's own connections have it (src/db/pg_socket.ts), so both sides pay the same.
  const sql = postgres(u.toString(), {
    max: 1,
    onnotice: () => {},
    connection: { search_path: schema },
    ...{ socket: noDelaySocket() },
  });
  const t0 = performance.now();
  await sql.begin(async (tx) => {
    for (const d of data) {
      for (let i = 0; i < d.rows.length; i += BATCH) {
        const chunk = d.rows.slice(i, i + BATCH);
        const objects = chunk.map((r) => Object.fromEntries(d.columns.map((c, j) => [c, r[j]])));
        // deno-lint-ignore no-explicit-any
        await tx`INSERT INTO ${tx(d.table)} ${tx(objects as any, d.columns)}`;
        rows += chunk.length;
      }
    }
  });
  const s = (performance.now() - t0) / 1000;
  await sql.end();
  return { seconds: s, rows };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

for (const dialect of ["libsql", "postgres"] as const) {
  if (ONLY && ONLY !== dialect) continue;
  let best = { seedbed: Infinity, volume: Infinity, baseline: Infinity, rows: 0 };
  for (let rep = 0; rep < REPS; rep++) {
    const a = await fresh(dialect);
    const s = await runSeedbed(a);
    const data = await exportRows(a.db, s.before);
    await a.dispose();
    const b = await fresh(dialect);
    const base = await runBaseline(dialect, b, data);
    await b.dispose();
    if (base.rows !== s.rows) throw new Error(`row mismatch: seedbed ${s.rows}, baseline ${base.rows}`);
    best = {
      seedbed: Math.min(best.seedbed, s.total),
      volume: Math.min(best.volume, s.volume),
      baseline: Math.min(best.baseline, base.seconds),
      rows: s.rows,
    };
  }
  const rate = best.rows / best.seedbed;
  const base = best.rows / best.baseline;
  console.log(
    `${dialect.padEnd(8)} rows ${fmt(best.rows)} | seedbed ${best.seedbed.toFixed(2)} s = ${
      fmt(rate)
    } rows/s ` +
      `(VolumeSeeder alone ${fmt(best.rows / best.volume)} rows/s) | driver baseline ${
        best.baseline.toFixed(2)
      } s = ${fmt(base)} rows/s | ratio ${(rate / base).toFixed(2)}× (target ≥ 0.50×)`,
  );
}
