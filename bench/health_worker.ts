/**
 * The server side of bench/health_during_restore.ts: the real app (createApp)
 * serving HTTP on a free port, which verifies backup ID, takes a backup, then
 * restores the latest in its own event loop. Prints JSON lines: {"port"}, {"phase": "verify"},
 * {"phase": "backup"}, {"phase": "restore"}, {"done": true, …timings}.
 *
 *   deno run -A bench/health_worker.ts <database-url> <backup-id>
 */
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { buildDeps } from "../src/deps.ts";
import { silentLogger } from "../src/log.ts";

const [url, id] = Deno.args;
const config = loadConfig({
  ...Deno.env.toObject(),
  APP_ENV: "test",
  DATABASE_URL: url,
  LOG_LEVEL: "silent",
});
const db = await openDatabase(url, { maxConnections: 4 });
const deps = await buildDeps({ config, db, logger: silentLogger });
const app = createApp(deps);
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
const say = (v: unknown) => console.log(JSON.stringify(v));
say({ port: server.addr.port });
await new Promise((r) => setTimeout(r, 500)); // a few idle answers first
say({ phase: "verify" });
const t0 = performance.now();
await deps.backups.verify({ id: Number(id) });
const verifyMs = Math.round(performance.now() - t0);
say({ phase: "backup" });
const tb = performance.now();
await deps.backups.create({ kind: "manual", createdBy: "bench" });
const backupMs = Math.round(performance.now() - tb);
say({ phase: "restore" });
const t1 = performance.now();
const r = await deps.backups.restore({ executionId: undefined, s3Key: undefined, triggeredBy: "bench" });
const restoreMs = Math.round(performance.now() - t1);
say({ phase: "after" });
await new Promise((r) => setTimeout(r, 300));
say({
  done: true,
  verify_ms: verifyMs,
  backup_ms: backupMs,
  restore_ms: restoreMs,
  rows: Object.values(r.tables).reduce((a, b) => a + b, 0),
});
await server.shutdown();
await db.close();
Deno.exit(0);
