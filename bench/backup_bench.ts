/**
 * Backup / restore benchmark: Seedbed against pg_dump -Fc / pg_restore on
 * the same Postgres data, in the same run, with the peak memory of each.
 *
 *   deno task bench:backup [--sizes 100000,1000000] [--reps 3]
 *
 * Needs a Postgres server (BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres — the user must be able to
 * create databases) and pg_dump / pg_restore on PATH. S3 is an embedded
 * s3rver in this process; Seedbed runs in a child process
 * (bench/backup_worker.ts) whose VmHWM is its peak RSS. pg_dump and
 * pg_restore are measured the same way (VmHWM sampled from /proc/<pid>).
 * Results go to stdout (markdown) and bench/results/backup.json. With
 * BACKUP_ENCRYPTION_KEY set, Seedbed's backups are encrypted (the cost of
 * encryption: run it with and without) and the results go to
 * bench/results/backup_encrypted.json.
 */
import { openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
import { startEmbeddedS3 } from "../src/storage/embedded_s3.ts";
import { ObjectStore } from "../src/storage/object_store.ts";
import { createS3Client } from "../src/storage/s3_client.ts";
import { loadConfig } from "../src/config.ts";
import { fillSql } from "./backup_fill.ts";
import { backupTables } from "../src/backups/tables.ts";

const ADMIN = Deno.env.get("BENCH_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
/** The V8 flags `deno task backup` / `deno task seed` run with (deno.json): a 4 MB young generation. */
const WORKER_FLAGS = ["--v8-flags=--max-semi-space-size=4"];
const SIZES = arg("--sizes", "100000,1000000").split(",").map(Number);
const REPS = Number(arg("--reps", "3"));

function dbUrl(name: string): string {
  const u = new URL(ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}
const pgArgs = (name: string) => {
  const u = new URL(dbUrl(name));
  return [
    "-h",
    u.hostname,
    "-p",
    u.port || "5432",
    "-U",
    decodeURIComponent(u.username || "postgres"),
    "-d",
    name,
  ];
};

async function recreate(name: string): Promise<void> {
  const admin = await openDatabase(ADMIN, { maxConnections: 1 });
  try {
    await admin.run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.run(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
}

async function drop(name: string): Promise<void> {
  const admin = await openDatabase(ADMIN, { maxConnections: 1 });
  try {
    await admin.run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.close();
  }
}

interface Measured {
  ms: number;
  peakKb: number;
  stdout: string;
}

/** Runs a command, sampling /proc/<pid>/status VmHWM until it exits. */
async function measure(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Measured> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    env: { ...Deno.env.toObject(), ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch { /* exited */ }
  }, 5);
  const out = await child.output();
  clearInterval(sampler);
  const ms = performance.now() - t0;
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}\n${stdout}`);
  }
  return { ms, peakKb: peak, stdout };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const s3dir = await Deno.makeTempDir({ prefix: "seedbed-bench-s3-" });
const dumpDir = await Deno.makeTempDir({ prefix: "seedbed-bench-dump-" });
const s3server = await startEmbeddedS3({ directory: s3dir, port: 0 });
const s3env = {
  S3_ENDPOINT: s3server.endpoint,
  S3_FORCE_PATH_STYLE: "true",
  S3_BUCKET_NAME: "bench-backups",
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
};
const s3cfg = loadConfig({ APP_ENV: "test", ...s3env }).s3;
await new ObjectStore(createS3Client(s3cfg), s3cfg).ensureBucket();

const results: Record<string, unknown>[] = [];
const lines: string[] = [];
try {
  for (const size of SIZES) {
    const src = `seedbed_bench_src_${size}`;
    console.error(`\n== ${size} rows: filling ${src} ==`);
    await recreate(src);
    const db = await openDatabase(dbUrl(src), { maxConnections: 1, timeouts: { statementTimeoutMs: 0 } });
    await migrate(db);
    const tFill = performance.now();
    await db.run(fillSql(size));
    await db.run("VACUUM ANALYZE");
    const [{ n }] = await db.rows<{ n: number }>(
      (await import("drizzle-orm")).sql.raw(
        `SELECT ${backupTables().map((t) => `(SELECT count(*) FROM "${t.name}")`).join(" + ")} AS n`,
      ),
    );
    await db.close();
    console.error(`filled ${n} rows in ${secs(performance.now() - tFill)}`);

    const r = {
      size,
      rows: Number(n),
      pgDump: [] as Measured[],
      seedBackup: [] as (Measured & { opMs: number; bytes: number; key: string })[],
      pgRestore: [] as Measured[],
      seedRestore: [] as (Measured & { opMs: number })[],
      dumpBytes: 0,
    };
    const dumpFile = `${dumpDir}/${src}.dump`;
    for (let i = 0; i < REPS; i++) {
      // Alternate which goes first, so neither always gets a warm cache.
      const runDump = async () => {
        r.pgDump.push(await measure("pg_dump", ["-Fc", "-f", dumpFile, ...pgArgs(src)]));
        r.dumpBytes = (await Deno.stat(dumpFile)).size;
      };
      const runBackup = async () => {
        const m = await measure(Deno.execPath(), [
          "run",
          "-A",
          ...WORKER_FLAGS,
          "bench/backup_worker.ts",
          "backup",
          dbUrl(src),
        ], s3env);
        const o = JSON.parse(m.stdout.trim().split("\n").pop()!);
        r.seedBackup.push({
          ...m,
          opMs: o.ms,
          bytes: o.bytes,
          key: o.key,
          peakKb: Math.max(m.peakKb, o.vmhwm_kb),
        });
      };
      if (i % 2 === 0) {
        await runDump();
        await runBackup();
      } else {
        await runBackup();
        await runDump();
      }
      console.error(
        `rep ${i + 1}: pg_dump ${secs(r.pgDump[i].ms)}, seedbed backup ${
          secs(r.seedBackup[i].opMs)
        } (process ${secs(r.seedBackup[i].ms)})`,
      );
    }
    const key = r.seedBackup[r.seedBackup.length - 1].key;
    for (let i = 0; i < REPS; i++) {
      const pgTarget = `seedbed_bench_pgr_${size}`;
      await recreate(pgTarget);
      r.pgRestore.push(await measure("pg_restore", [...pgArgs(pgTarget), dumpFile]));
      await drop(pgTarget);

      const sbTarget = `seedbed_bench_sbr_${size}`;
      await recreate(sbTarget);
      const tdb = await openDatabase(dbUrl(sbTarget), { maxConnections: 1 });
      await migrate(tdb); // schema first (pg_restore creates it as part of its run; ~0.1 s)
      await tdb.close();
      const m = await measure(
        Deno.execPath(),
        ["run", "-A", ...WORKER_FLAGS, "bench/backup_worker.ts", "restore", dbUrl(sbTarget), key],
        s3env,
      );
      const o = JSON.parse(m.stdout.trim().split("\n").pop()!);
      r.seedRestore.push({ ...m, opMs: o.ms, peakKb: Math.max(m.peakKb, o.vmhwm_kb) });
      await drop(sbTarget);
      console.error(`rep ${i + 1}: pg_restore ${secs(r.pgRestore[i].ms)}, seedbed restore ${secs(o.ms)}`);
    }
    await drop(src);

    const row = {
      rows: r.rows,
      pg_dump_ms: median(r.pgDump.map((x) => x.ms)),
      seedbed_backup_ms: median(r.seedBackup.map((x) => x.opMs)),
      seedbed_backup_process_ms: median(r.seedBackup.map((x) => x.ms)),
      pg_restore_ms: median(r.pgRestore.map((x) => x.ms)),
      seedbed_restore_ms: median(r.seedRestore.map((x) => x.opMs)),
      seedbed_restore_process_ms: median(r.seedRestore.map((x) => x.ms)),
      pg_dump_peak_kb: Math.max(...r.pgDump.map((x) => x.peakKb)),
      seedbed_backup_peak_kb: Math.max(...r.seedBackup.map((x) => x.peakKb)),
      pg_restore_peak_kb: Math.max(...r.pgRestore.map((x) => x.peakKb)),
      seedbed_restore_peak_kb: Math.max(...r.seedRestore.map((x) => x.peakKb)),
      pg_dump_bytes: r.dumpBytes,
      seedbed_backup_bytes: r.seedBackup[0].bytes,
    };
    results.push(row);
    lines.push(
      `| ${row.rows.toLocaleString("en")} | ${secs(row.pg_dump_ms)} | ${secs(row.seedbed_backup_ms)} | **${
        (row.seedbed_backup_ms / row.pg_dump_ms).toFixed(2)
      }×** | ${secs(row.pg_restore_ms)} | ${secs(row.seedbed_restore_ms)} | **${
        (row.seedbed_restore_ms / row.pg_restore_ms).toFixed(2)
      }×** | ${mb(row.pg_dump_peak_kb)} / ${mb(row.pg_restore_peak_kb)} | ${
        mb(row.seedbed_backup_peak_kb)
      } / ${mb(row.seedbed_restore_peak_kb)} | ${(row.pg_dump_bytes / 1e6).toFixed(1)} MB / ${
        (row.seedbed_backup_bytes / 1e6).toFixed(1)
      } MB |`,
    );
  }
} finally {
  await s3server.close();
  await Deno.remove(s3dir, { recursive: true }).catch(() => {});
  await Deno.remove(dumpDir, { recursive: true }).catch(() => {});
}

const header = [
  `Backup bench${
    Deno.env.get("BACKUP_ENCRYPTION_KEY") ? " (Seedbed encrypted)" : ""
  } (${REPS} reps, medians; ${Deno.build.os}, ${navigator.hardwareConcurrency} CPUs, ${
    new Date().toISOString().slice(0, 10)
  })`,
  "",
  "| rows | pg_dump -Fc | Seedbed backup | ratio | pg_restore | Seedbed restore | ratio | peak RSS pg_dump / pg_restore | peak RSS Seedbed backup / restore | size pg_dump / Seedbed |",
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];
console.log([...header, ...lines].join("\n"));
await Deno.mkdir("bench/results", { recursive: true });
await Deno.writeTextFile(
  `bench/results/backup${Deno.env.get("BACKUP_ENCRYPTION_KEY") ? "_encrypted" : ""}.json`,
  JSON.stringify(results, null, 2),
);
