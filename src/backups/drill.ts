/**
 * The restore drill (`deno task backup drill [KEY]`, docs/backups.md
 * "Restore drill"): restores a backup into a scratch database — a temporary
 * libSQL file, or a scratch schema on the same Postgres server — verifies
 * it, counts what arrived, reports the times and drops the scratch
 * database. The proof that a backup can be restored, without touching the
 * live data.
 *
 * What it must never break: the live database is only read (its catalog, to
 * find the backup); the scratch database is dropped whatever happens.
 * Story: docs/backups.md ("Restore drill").
 */
import { type Database, openDatabase } from "../db/client.ts";
import { migrate } from "../db/migrator.ts";
import { AppError } from "../errors.ts";
import type { RestoreInput } from "../seeding/backup_port.ts";
import {
  currentRowCounts,
  findTarget,
  load,
  type RestoreCollaborators,
  type Trust,
  verifyTarget,
} from "./restore.ts";
import { backupTables } from "./tables.ts";

export interface DrillReport {
  success: true;
  restore_from: string;
  trust: Trust;
  /** Where it was restored: "libSQL file …" or "Postgres schema …" (dropped afterwards). */
  scratch: string;
  tables: Record<string, number>;
  total_rows: number;
  verify_ms: number;
  load_ms: number;
  duration_ms: number;
}

interface Scratch {
  db: Database;
  label: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of the live database's kind. */
export async function openScratch(liveUrl: string, live: Database): Promise<Scratch> {
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  if (/^postgres(ql)?:\/\//.test(liveUrl)) {
    const schema = `seedbed_drill_${id}`;
    const u = new URL(liveUrl);
    u.searchParams.set("schema", schema);
    const db = await openDatabase(u.toString(), { maxConnections: 2 });
    return {
      db,
      label: `Postgres schema ${schema}`,
      drop: async () => {
        await db.close().catch(() => {});
        await live.run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
    };
  }
  if (liveUrl.startsWith("pglite://")) {
    const db = await openDatabase("pglite://memory");
    return { db, label: "an in-memory PGlite database", drop: () => db.close() };
  }
  const dir = await Deno.makeTempDir({ prefix: "seedbed-drill-" });
  const db = await openDatabase(`file:${dir}/drill.db`);
  return {
    db,
    label: `libSQL file ${dir}/drill.db`,
    drop: async () => {
      await db.close().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Restores `input`'s backup into a scratch database, checks it, drops it; see the file comment. */
export async function drillRestore(
  ctx: RestoreCollaborators,
  liveUrl: string,
  input: RestoreInput,
): Promise<DrillReport> {
  const started = performance.now();
  const target = await findTarget(ctx, input);
  const tables = backupTables();
  const scratch = await openScratch(liveUrl, ctx.db);
  ctx.logger.info("restore_drill_started", { s3_key: target.key, scratch: scratch.label });
  try {
    await migrate(scratch.db);
    const t0 = performance.now();
    const verified = await verifyTarget(ctx, target);
    const verifyMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    await load(ctx, scratch.db, target, tables, verified.manifest, verified.sha256);
    const loadMs = Math.round(performance.now() - t1);
    const counts = await currentRowCounts(scratch.db, tables);
    for (const [name, n] of Object.entries(verified.manifest.row_counts)) {
      if ((counts[name] ?? 0) !== n) {
        throw new AppError(
          "RESTORE_FAILED",
          `drill of "${target.key}": table "${name}" holds ${
            counts[name] ?? 0
          } rows after the restore, the manifest says ${n}`,
        );
      }
    }
    const report: DrillReport = {
      success: true,
      restore_from: target.key,
      trust: target.trust,
      scratch: scratch.label,
      tables: counts,
      total_rows: Object.values(counts).reduce((a, b) => a + b, 0),
      verify_ms: verifyMs,
      load_ms: loadMs,
      duration_ms: Math.round(performance.now() - started),
    };
    ctx.logger.info("restore_drill_completed", { ...report, tables: undefined });
    return report;
  } catch (err) {
    ctx.logger.error("restore_drill_failed", {
      s3_key: target.key,
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    await scratch.drop().catch((err) =>
      ctx.logger.error("restore_drill_cleanup_failed", { scratch: scratch.label, error: String(err) })
    );
  }
}
