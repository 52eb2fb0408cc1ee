/**
 * One Seedbed backup or restore in its own process, so the bench can
 * measure its peak memory alone. Prints one JSON line:
 * {"op","ms","key","rows","vmhwm_kb"}.
 *
 *   deno run -A bench/backup_worker.ts backup  <database-url>
 *   deno run -A bench/backup_worker.ts restore <database-url> <s3-key>
 *
 * S3 comes from the environment (S3_ENDPOINT, S3_BUCKET_NAME, AWS_*).
 */
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { BackupService } from "../src/backups/backup_service.ts";
import { encryptionKeys } from "../src/backups/encryption.ts";
import { createLogger } from "../src/log.ts";
import { ObjectStore } from "../src/storage/object_store.ts";
import { createS3Client } from "../src/storage/s3_client.ts";

function vmhwmKb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) : -1;
}

const [op, url, key] = Deno.args;
const config = loadConfig({ ...Deno.env.toObject(), APP_ENV: "test", DATABASE_URL: url, LOG_LEVEL: "warn" });
const db = await openDatabase(url, { maxConnections: 2 });
const store = new ObjectStore(createS3Client(config.s3), config.s3);
const gzipLevel = Deno.env.get("BENCH_GZIP_LEVEL");
const service = new BackupService({
  db,
  store,
  logger: createLogger(Deno.env.get("BENCH_LOG") === "1" ? "info" : "warn", {}, (l) => console.error(l)),
  retention: {},
  // BACKUP_ENCRYPTION_KEY in the environment encrypts (the bench's encrypted run).
  encryption: encryptionKeys(config.backups.encryptionKey),
  gzipLevel: gzipLevel ? Number(gzipLevel) : undefined,
});
const t0 = performance.now();
let out: Record<string, unknown>;
if (op === "backup") {
  const r = await service.create({ kind: "manual", createdBy: "bench" });
  out = { op, key: r.s3Key, rows: r.manifest?.total_rows, bytes: r.sizeBytes };
} else if (op === "restore") {
  const r = await service.restore({ s3Key: key, triggeredBy: "bench" });
  out = { op, key, rows: Object.values(r.tables).reduce((a, b) => a + b, 0) };
} else {
  throw new Error(`unknown op ${op}`);
}
out.ms = Math.round(performance.now() - t0);
out.vmhwm_kb = vmhwmKb();
await db.close();
console.log(JSON.stringify(out));
Deno.exit(0);
