/**
 * /health latency while a large backup is verified and restored (issue 12,
 * "done when": /health answers within 100 ms throughout a verify or restore
 * of a 1M-row backup). Measured here, never asserted in a test.
 *
 *   deno run -A bench/health_during_restore.ts [--rows 1000000] [--encrypt]
 *
 * Fills a Postgres database (BENCH_DATABASE_URL, as bench/backup_bench.ts)
 * with `--rows` rows, backs it up to an embedded S3, then starts the real
 * app in a child process (bench/health_worker.ts) that serves HTTP and runs
 * verify + restore of that backup in its own event loop, while a third
 * process (bench/health_poller.ts, doing nothing else) asks GET /health every
 * 20 ms and records each answer's latency.
 * Prints the latency distribution per phase (verify, restore).
 */
import { openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
import { BackupService } from "../src/backups/backup_service.ts";
import { encryptionKeys } from "../src/backups/encryption.ts";
import { loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/log.ts";
import { startEmbeddedS3 } from "../src/storage/embedded_s3.ts";
import { ObjectStore } from "../src/storage/object_store.ts";
import { createS3Client } from "../src/storage/s3_client.ts";
import { fillSql } from "./backup_fill.ts";

const ADMIN = Deno.env.get("BENCH_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const ROWS = Number(arg("--rows", "1000000"));
const ENCRYPT = Deno.args.includes("--encrypt") ? "bench-encryption-key-0123456789-0123456789" : undefined;
const dbUrl = (name: string) => Object.assign(new URL(ADMIN), { pathname: `/${name}` }).toString();

async function admin(sql: string) {
  const a = await openDatabase(ADMIN, { maxConnections: 1 });
  try {
    await a.run(sql);
  } finally {
    await a.close();
  }
}

const SRC = "seedbed_bench_health";
await admin(`DROP DATABASE IF EXISTS "${SRC}" WITH (FORCE)`);
await admin(`CREATE DATABASE "${SRC}"`);
const s3dir = await Deno.makeTempDir({ prefix: "seedbed-bench-health-s3-" });
const s3server = await startEmbeddedS3({ directory: s3dir, port: 0 });
const s3env = {
  S3_ENDPOINT: s3server.endpoint,
  S3_FORCE_PATH_STYLE: "true",
  S3_BUCKET_NAME: "bench-health",
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  ...(ENCRYPT ? { BACKUP_ENCRYPTION_KEY: ENCRYPT } : {}),
};
const config = loadConfig({ APP_ENV: "test", ...s3env });
const store = new ObjectStore(createS3Client(config.s3), config.s3);
await store.ensureBucket();
try {
  const db = await openDatabase(dbUrl(SRC), { maxConnections: 2, timeouts: { statementTimeoutMs: 0 } });
  await migrate(db);
  console.error(`filling ${ROWS} rows …`);
  await db.run(fillSql(ROWS));
  const svc = new BackupService({
    db,
    store,
    logger: silentLogger,
    retention: {},
    encryption: encryptionKeys(ENCRYPT),
  });
  const b = await svc.create({ kind: "manual", createdBy: "bench" });
  await db.close();
  console.error(`backup ${b.s3Key}: ${b.manifest?.total_rows} rows, ${(b.sizeBytes! / 1e6).toFixed(1)} MB`);

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--max-semi-space-size=4",
      "bench/health_worker.ts",
      dbUrl(SRC),
      String(b.id),
    ],
    env: { ...Deno.env.toObject(), ...s3env },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async (): Promise<string> => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("worker ended early");
      buffered += value;
    }
  };
  const port = Number(JSON.parse(await nextLine()).port);
  // The poller runs in a process of its own: this one also serves S3 to the worker.
  const poller = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/health_poller.ts", `http://127.0.0.1:${port}/health`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const answers: { at: number; ms: number; status: number }[] = [];
  const collecting = (async () => {
    let rest = "";
    for await (const text of poller.stdout.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const l of lines) if (l) answers.push(JSON.parse(l));
    }
  })();
  const phases: { name: string; from: number }[] = [{ name: "idle", from: 0 }];
  for (;;) {
    const msg = JSON.parse(await nextLine());
    if (msg.phase) phases.push({ name: msg.phase, from: Date.now() });
    if (msg.done) {
      console.error(`worker: ${JSON.stringify(msg)}`);
      break;
    }
  }
  poller.kill("SIGTERM");
  await poller.status;
  await collecting;
  await child.status;
  const samples: Record<string, number[]> = {};
  for (const a of answers) {
    const phase = [...phases].reverse().find((p) => a.at >= p.from)!.name;
    (samples[phase] ??= []).push(a.ms);
  }
  const q = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
  console.log(`/health during verify and restore of ${ROWS} rows${ENCRYPT ? " (encrypted)" : ""}:`);
  console.log("| phase | answers | p50 | p99 | max |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [p, xs] of Object.entries(samples)) {
    console.log(
      `| ${p} | ${xs.length} | ${q(xs, 0.5).toFixed(1)} ms | ${q(xs, 0.99).toFixed(1)} ms | ${
        Math.max(...xs).toFixed(1)
      } ms |`,
    );
  }
} finally {
  await s3server.close();
  await Deno.remove(s3dir, { recursive: true }).catch(() => {});
  await admin(`DROP DATABASE IF EXISTS "${SRC}" WITH (FORCE)`);
}
