/**
 * Restore, in the order the most careful tools use:
 *
 * 1. Find the backup (latest completed, an S3 key, or an execution id) —
 *    NOT_FOUND naming what was asked for.
 * 2. Refuse a backup whose schema version is not the database's (newer:
 *    upgrade first; older: restore into a database at that version).
 * 3. Verify the whole object against the catalog before touching anything,
 * 4. while a safety backup of the current data is taken (both only read; a
 *    refused restore discards its safety backup).
 * 5. In ONE transaction: empty the application tables, stream the rows back
 *    in batches, re-check the checksum and row counts, restore foreign keys
 *    and advance the id sequences. Any failure rolls everything back, so the
 *    original data is intact. Bookkeeping tables (execution history, backup
 *    catalog, audit log, …) are never touched.
 * 6. Retention, deferred until now so the backup being restored cannot be
 *    pruned by its own safety backup.
 */
import { schemaVersion } from "../db/migrator.ts";
import { AppError } from "../errors.ts";
import type { RestoreInput, RestoreOutcome } from "../seeding/backup_port.ts";
import type { BackupCatalog, BackupRecord } from "./catalog.ts";
import { type Manifest, schemaIndex } from "./format.ts";
import { type ByteEvent, readDocumentBytes } from "./pg_copy/document_bytes.ts";
import { Loader } from "./loader.ts";
import { describeError, usable } from "./problems.ts";
import { type BackupTable, backupTables } from "./tables.ts";
import { type Expected, scanObject, uncataloguedExpectation, verifyBackup } from "./verify.ts";
import { type Database, liftStatementTimeout } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { bumpTokenEpoch } from "../auth/revocation.ts";

/** What a restore works with: handed in by `BackupService.restore`, not the service itself. */
export interface RestoreCollaborators {
  db: Database;
  catalog: BackupCatalog;
  store: ObjectStore;
  logger: Logger;
  /** Postgres restores of at least this many rows rebuild secondary indexes after loading. */
  rebuildIndexesFromRows?: number;
  /** The safety backup of the current data (retention deferred until the restore is done). */
  takeSafetyBackup(input: { createdBy: string; executionId: number | null }): Promise<BackupRecord>;
  /** Retention, run once the restore has committed. */
  prune(): Promise<string[]>;
}

interface Target {
  key: string;
  record: BackupRecord | null;
  expected: Expected;
}

async function findTarget(ctx: RestoreCollaborators, input: RestoreInput): Promise<Target> {
  let record: BackupRecord | null;
  if (input.s3Key !== undefined && input.executionId !== undefined) {
    throw new AppError("VALIDATION_ERROR", "give s3_key or execution_id, not both");
  }
  if (input.s3Key !== undefined) {
    record = await ctx.catalog.byKey(input.s3Key);
    if (!record) {
      return {
        key: input.s3Key,
        record: null,
        expected: await uncataloguedExpectation(ctx.store, input.s3Key),
      };
    }
  } else if (input.executionId !== undefined) {
    record = await ctx.catalog.latestForExecution(input.executionId);
    if (!record) {
      throw new AppError("NOT_FOUND", `no completed backup for execution ${input.executionId}`, {
        extra: { execution_id: input.executionId },
      });
    }
  } else {
    record = await ctx.catalog.latestCompleted();
    if (!record) throw new AppError("NOT_FOUND", "there is no completed backup to restore from");
  }
  usable(record);
  return {
    key: record.s3Key,
    record,
    expected: { sha256: record.sha256!, sizeBytes: record.sizeBytes, manifest: record.manifest },
  };
}

/** Refuses a backup taken at another schema version. */
async function checkSchema(ctx: RestoreCollaborators, key: string, m: Manifest): Promise<void> {
  const current = await schemaVersion(ctx.db);
  const have = schemaIndex(current);
  const got = m.schema_index ?? schemaIndex(m.schema_version);
  const sameLineage = m.dialect !== ctx.db.dialect || m.schema_version === current;
  if (have === got && sameLineage) return;
  let why: string;
  if (got === null || have === null) {
    why = `the backup's schema version (${m.schema_version ?? "none"}) or the database's (${
      current ?? "none"
    }) is unknown`;
  } else if (got > have) {
    why = `it was taken at schema version ${m.schema_version}, newer than this database's ${current}; ` +
      "run `deno task migrate` (with the newer Seedbed) first";
  } else if (got < have) {
    why = `it was taken at schema version ${m.schema_version}, older than this database's ${current}; ` +
      "Seedbed does not migrate backups forward — restore it into a database at that version, then migrate";
  } else {
    why =
      `its schema version ${m.schema_version} is not this database's ${current} (different migration history)`;
  }
  throw new AppError("BACKUP_INVALID", `backup "${key}" cannot be restored: ${why}`, {
    extra: { s3_key: key, backup_schema_version: m.schema_version, database_schema_version: current },
  });
}

/** Loads the object into the database in one transaction; returns rows per table. */
async function load(
  ctx: RestoreCollaborators,
  t: Target,
  tables: BackupTable[],
  manifest: Manifest,
): Promise<Record<string, number>> {
  const byName = new Map(tables.map((x) => [x.name, x]));
  return await ctx.db.transaction(async (tx) => {
    await liftStatementTimeout(ctx.db, tx);
    // Tokens issued before the restore are refused once it commits (src/auth/revocation.ts).
    await bumpTokenEpoch(ctx.db, tx);
    const loader = new Loader(ctx.db, tx, tables, manifest.total_rows, ctx.rebuildIndexesFromRows);
    try {
      return await loadInto(ctx, t, loader, byName, manifest);
    } catch (err) {
      await loader.abort(err);
      throw err;
    }
  });
}

async function loadInto(
  ctx: RestoreCollaborators,
  t: Target,
  loader: Loader,
  byName: Map<string, BackupTable>,
  manifest: Manifest,
): Promise<Record<string, number>> {
  await loader.begin();
  const table = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new Error(`table "${name}" is not in this database's schema`);
    return found;
  };
  const scan = loader.copying
    ? await scanObject<ByteEvent>(ctx.store, t.key, async (ev) => {
      if (ev.type === "table") await loader.startTable(table(ev.table));
      else if (ev.type === "rows") await loader.insertBytes(ev.data, ev.spans);
    }, { drain: false, reader: readDocumentBytes })
    : await scanObject(ctx.store, t.key, async (ev) => {
      if (ev.type === "table") await loader.startTable(table(ev.table));
      else if (ev.type === "rows") await loader.insert(ev.lines);
    }, { drain: false });
  if (scan.contentError) throw scan.contentError;
  if (scan.sha256 !== t.expected.sha256) {
    throw new AppError(
      "BACKUP_INVALID",
      `backup "${t.key}" changed between verification and restore (checksum mismatch)`,
    );
  }
  await loader.finish();
  for (const [name, n] of Object.entries(manifest.row_counts)) {
    if ((loader.counts[name] ?? 0) !== n) {
      throw new Error(`table "${name}": loaded ${loader.counts[name] ?? 0} rows, the manifest says ${n}`);
    }
  }
  return loader.counts;
}

/** Removes a safety backup that turned out not to be needed (object deleted, catalog row failed). */
async function discard(ctx: RestoreCollaborators, safety: BackupRecord, why: string): Promise<void> {
  await ctx.store.delete(safety.s3Key).catch(() => {});
  await ctx.catalog.fail(safety.id, `discarded: ${why}`).catch(() => {});
}

/** Verifies, takes a safety backup, then restores — see the file comment. */
export async function restoreBackup(ctx: RestoreCollaborators, input: RestoreInput): Promise<RestoreOutcome> {
  const started = performance.now();
  const log = {
    triggered_by: input.triggeredBy,
    triggered_by_user_id: input.triggeredByUserId ?? null,
    request_id: input.requestId,
  };
  let key = input.s3Key ?? null;
  let verifyMs = 0;
  try {
    const target = await findTarget(ctx, input);
    key = target.key;
    ctx.logger.info("restore_started", { ...log, s3_key: key, backup_id: target.record?.id ?? null });
    const tables = backupTables();
    if (target.expected.manifest) await checkSchema(ctx, key, target.expected.manifest);
    // The object is verified while the safety backup of the current data is taken (both only
    // read); nothing is changed until both have succeeded. A refused restore discards its
    // safety backup.
    const tVerify = performance.now();
    const verifying = verifyBackup(ctx.store, key, tables, target.expected).then((v) => {
      verifyMs = Math.round(performance.now() - tVerify);
      return v;
    });
    const safeguarding = ctx.takeSafetyBackup({
      createdBy: input.triggeredBy,
      executionId: input.restoreExecutionId ?? null,
    });
    const [v, sb] = await Promise.allSettled([verifying, safeguarding]);
    const safetyMs = Math.round(performance.now() - tVerify);
    if (v.status === "rejected") {
      if (sb.status === "fulfilled") await discard(ctx, sb.value, "the restore it protected was refused");
      throw v.reason;
    }
    const verified = v.value;
    if (!target.expected.manifest) {
      try {
        await checkSchema(ctx, key, verified.manifest);
      } catch (err) {
        if (sb.status === "fulfilled") await discard(ctx, sb.value, "the restore it protected was refused");
        throw err;
      }
    }
    if (sb.status === "rejected") {
      const e = sb.reason as AppError;
      throw new AppError(
        e.code ?? "RESTORE_FAILED",
        `the safety backup of the current data failed, so nothing was restored: ${e.message}`,
        { cause: e },
      );
    }
    const safety: BackupRecord = sb.value;
    if (!target.record) {
      target.record = await ctx.catalog.insertImported({
        s3Key: key,
        createdBy: input.triggeredBy,
        sizeBytes: verified.size,
        sha256: verified.sha256,
        manifest: verified.manifest,
      });
    }
    let counts: Record<string, number>;
    const tLoad = performance.now();
    try {
      counts = await load(ctx, target, tables, verified.manifest);
    } catch (err) {
      if (err instanceof AppError && (err.code === "BACKUP_INVALID" || err.code.startsWith("STORAGE"))) {
        throw new AppError(
          err.code,
          `${err.message}; the restore was rolled back and the data is unchanged`,
          {
            cause: err,
            extra: err.extra,
          },
        );
      }
      throw new AppError(
        "RESTORE_FAILED",
        `restoring "${key}" failed and was rolled back; the data is unchanged: ${describeError(err)}`,
        { cause: err, extra: { s3_key: key, safety_backup_s3_key: safety.s3Key } },
      );
    }
    const loadMs = Math.round(performance.now() - tLoad);
    const expectedCounts = verified.manifest.row_counts;
    for (const name of Object.keys(expectedCounts)) counts[name] ??= 0;
    await ctx.prune().catch(() => []);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    ctx.logger.info("restore_completed", {
      ...log,
      s3_key: key,
      backup_id: target.record.id,
      safety_backup_s3_key: safety.s3Key,
      total_rows: total,
      row_counts: counts,
      verify_ms: verifyMs,
      safety_backup_ms: safetyMs,
      load_ms: loadMs,
      duration_ms: Math.round(performance.now() - started),
    });
    return { success: true, restored_from: key, safety_backup_s3_key: safety.s3Key, tables: counts };
  } catch (err) {
    const e = err instanceof AppError
      ? err
      : new AppError("RESTORE_FAILED", `restore failed: ${describeError(err)}`, { cause: err });
    ctx.logger.error("restore_failed", {
      ...log,
      s3_key: key,
      execution_id: input.executionId ?? null,
      code: e.code,
      error: e.message,
      duration_ms: Math.round(performance.now() - started),
    });
    throw e;
  }
}
