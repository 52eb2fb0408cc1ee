/**
 * Restore, in the order the most careful tools use (docs/backups.md,
 * "Restore"):
 *
 * 1. Find the backup (latest completed, an S3 key, or an execution id) and
 *    decide why it is trusted: the catalog, a valid signed manifest
 *    (signing.ts), or — only when the caller says so — as an untrusted
 *    import. "Latest" falls back to the bucket (newest signed backup) when
 *    the catalog has none: disaster recovery on a fresh database.
 * 2. Refuse a backup whose schema version is not the database's, and one
 *    that would replace a non-empty database with an (almost) empty one
 *    unless the caller confirmed it.
 * 3. Verify the whole object before touching anything (checksum, size,
 *    decompressed size, every row), then take a safety backup of the current
 *    data (only after a verify that passed; an empty database needs none).
 * 4. In ONE transaction: empty the application tables, stream the rows back,
 *    re-check checksum and row counts, restore foreign keys and advance the
 *    id sequences. Any failure rolls everything back. Bookkeeping tables are
 *    never touched.
 * 5. Retention, deferred until now.
 *
 * What it must never break: nothing changes before the object was verified
 * in full; an uncatalogued object is never trusted on its own metadata.
 * Story: docs/backups.md ("Restore").
 */
import { sql } from "drizzle-orm";
import { type Database, describeDatabase, liftStatementTimeout } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { bumpTokenEpoch } from "../auth/revocation.ts";
import { schemaVersion } from "../db/migrator.ts";
import { AppError } from "../errors.ts";
import type { RestoreInput, RestoreOutcome, RestorePlan } from "../seeding/backup_port.ts";
import type { BackupCatalog, BackupRecord } from "./catalog.ts";
import { decryptingReader, type EncryptionKeys } from "./encryption.ts";
import { KEY_PREFIX, type Manifest, schemaIndex } from "./format.ts";
import { type ByteEvent, readDocumentBytes } from "./pg_copy/document_bytes.ts";
import { noRowProgress, type RowProgressFactory } from "./row_progress.ts";
import { Loader } from "./loader.ts";
import {
  describeSecurityChanges,
  reapplyCredentialFloors,
  reapplyServiceKeyRevocations,
  type SecurityChanges,
  securityChangesSince,
} from "./credentials.ts";
import { describeError, usable } from "./problems.ts";
import { describeProblem, type SignatureProblem, type SignedManifest } from "./signing.ts";
import { type BackupTable, backupTables } from "./tables.ts";
import { type Expected, scanObject, uncompressedLimit, verifyBackup } from "./verify.ts";

export type Trust = "catalog" | "signature" | "untrusted";

/** A backup object found in the bucket (`backup list --bucket`, disaster recovery). */
export interface BucketBackup {
  key: string;
  size: number;
  lastModified: Date | null;
  /** The signed manifest, when it checks out. */
  signed: SignedManifest | null;
  /** Why it is not trusted by signature (null when signed). */
  problem: SignatureProblem | null;
  catalogued: boolean;
}

/** A bucket object as `backup list --bucket --json` and `GET /api/v1/backups/bucket` show it. */
export function presentBucketBackup(b: BucketBackup) {
  return {
    s3_key: b.key,
    size_bytes: b.size,
    last_modified: b.lastModified?.toISOString() ?? null,
    signed: b.signed !== null,
    key_id: b.signed?.key_id ?? null,
    problem: b.problem ? describeProblem(b.problem) : null,
    catalogued: b.catalogued,
    kind: b.signed?.manifest.kind ?? null,
    created_at: b.signed?.manifest.created_at ?? null,
    total_rows: b.signed?.manifest.total_rows ?? null,
    schema_version: b.signed?.manifest.schema_version ?? null,
    encrypted: b.signed ? b.signed.encryption !== null : null,
  };
}

/** What a restore works with: handed in by `BackupService`, not the service itself. */
export interface RestoreCollaborators {
  db: Database;
  catalog: BackupCatalog;
  store: ObjectStore;
  logger: Logger;
  /** Postgres restores of at least this many rows rebuild secondary indexes after loading. */
  rebuildIndexesFromRows?: number;
  /** Longest row line accepted. */
  maxRowBytes: number;
  /** Keys that decrypt encrypted objects. */
  encryption: EncryptionKeys;
  /** The safety backup of the current data (retention deferred until the restore is done). */
  takeSafetyBackup(input: { createdBy: string; executionId: number | null }): Promise<BackupRecord>;
  /** Retention, run once the restore has committed. */
  prune(): Promise<string[]>;
  /** A key the catalog does not know: its signed target, an untrusted one when asked, or a refusal. */
  uncataloguedTarget(key: string, untrusted: boolean): Promise<Target>;
  /** The backup objects in the bucket, newest first, signatures checked. */
  bucketBackups(): Promise<BucketBackup[]>;
  /** Deletes a backup object and its signed manifest. */
  deleteObjects(key: string): Promise<void>;
  /** Rows-based progress of verify and load passes (default: none). */
  rowProgress?: RowProgressFactory;
}

export interface Target {
  key: string;
  record: BackupRecord | null;
  expected: Expected;
  trust: Trust;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Rows per application table in `db` now. */
export async function currentRowCounts(db: Database, tables: BackupTable[]): Promise<Record<string, number>> {
  const parts = tables.map((t) => `SELECT '${t.name}' AS name, count(*) AS n FROM ${quote(t.name)}`);
  const rows = await db.rows<{ name: string; n: number | string }>(sql.raw(parts.join(" UNION ALL ")));
  const out: Record<string, number> = {};
  for (const t of tables) out[t.name] = 0;
  for (const r of rows) out[r.name] = Number(r.n);
  return out;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** How to restore by key, for messages. */
const byKeyHint = (untrusted: boolean) =>
  `restore one by key: deno task seed --restore --key KEY${untrusted ? " --untrusted" : ""} ` +
  `(API: {"s3_key": KEY${untrusted ? ', "trust": "untrusted"' : ""}})`;

/** The catalogued target, or the signed/untrusted one for a key the catalog does not know. */
export async function findTarget(ctx: RestoreCollaborators, input: RestoreInput): Promise<Target> {
  let record: BackupRecord | null;
  if (input.s3Key !== undefined && input.executionId !== undefined) {
    throw new AppError("VALIDATION_ERROR", "give s3_key or execution_id, not both");
  }
  if (input.s3Key !== undefined) {
    record = await ctx.catalog.byKey(input.s3Key);
    if (!record) return await ctx.uncataloguedTarget(input.s3Key, input.trust === "untrusted");
  } else if (input.executionId !== undefined) {
    record = await ctx.catalog.latestForExecution(input.executionId);
    if (!record) {
      throw new AppError("NOT_FOUND", `no completed backup for execution ${input.executionId}`, {
        extra: { execution_id: input.executionId },
      });
    }
  } else {
    record = await ctx.catalog.latestCompleted();
    if (!record) return await latestInBucket(ctx);
  }
  usable(record);
  return {
    key: record.s3Key,
    record,
    expected: { sha256: record.sha256!, sizeBytes: record.sizeBytes, manifest: record.manifest },
    trust: "catalog",
  };
}

/**
 * Disaster recovery: the catalog lived in the database that was lost, so
 * "latest" is the newest backup in the bucket whose signed manifest checks
 * out (safety backups excluded, as in the catalog) — this database's own when
 * the bucket holds one. Another database's is taken only into an empty
 * database (a recovery onto a new server); over data, it is named, not
 * restored: one bucket shared by several databases must not make "latest"
 * another one's.
 */
async function latestInBucket(ctx: RestoreCollaborators): Promise<Target> {
  const found = await ctx.bucketBackups();
  const usable = found.filter((b) => b.signed && b.signed.manifest.kind !== "safety");
  const ours = (b: BucketBackup) => {
    const m = b.signed!.manifest;
    return typeof m.source !== "string" || (m.source === ctx.db.label && m.dialect === ctx.db.dialect);
  };
  const best = usable.find(ours) ?? usable[0];
  if (best?.signed && !ours(best) && sum(await currentRowCounts(ctx.db, backupTables())) > 0) {
    const m = best.signed.manifest;
    throw new AppError(
      "CONFIRMATION_REQUIRED",
      `the catalog holds no backup of this database, and the newest one in the bucket, "${best.key}", was taken ` +
        `from another database (${
          describeDatabase({ database: String(m.source), dialect: m.dialect })
        }); this ` +
        `one holds data. If that is the backup you mean, name it: deno task seed --restore --key ${best.key} ` +
        `(API: {"s3_key": "${best.key}"})`,
      { extra: { s3_key: best.key } },
    );
  }
  if (best?.signed) {
    ctx.logger.warn("restore_latest_from_bucket", {
      s3_key: best.key,
      reason: "the catalog holds no completed backup",
    });
    return targetFromSigned(best.key, best.signed);
  }
  const where = `bucket "${ctx.store.bucket}" under ${KEY_PREFIX}`;
  throw new AppError(
    "NOT_FOUND",
    found.length === 0
      ? `there is no completed backup to restore from: the catalog holds none and ${where} holds no backup objects`
      : `there is no completed backup in the catalog, and none of the ${found.length} backup object(s) in ${where} ` +
        `is signed with a key this server holds. See what the bucket holds: deno task backup list --bucket ` +
        `(API: GET /api/v1/backups/bucket); ${byKeyHint(true)}`,
  );
}

export function targetFromSigned(key: string, s: SignedManifest): Target {
  return {
    key,
    record: null,
    expected: { sha256: s.sha256, sizeBytes: s.size_bytes, manifest: s.manifest },
    trust: "signature",
  };
}

/** The refusal of an object that is neither catalogued nor validly signed. */
export function untrustedRefusal(key: string, why: string): AppError {
  return new AppError(
    "BACKUP_INVALID",
    `backup "${key}" is not in the catalog and cannot be trusted: ${why}. Anyone who can write to the bucket ` +
      "could have put it there. If you know where it came from, import it as untrusted: " +
      `deno task seed --restore --key ${key} --untrusted (API: "trust": "untrusted"); ` +
      "that is audited, and the object is still verified row by row",
    { extra: { s3_key: key } },
  );
}
export { describeProblem };

/** Refuses a backup taken at another schema version. */
async function checkSchema(db: Database, key: string, m: Manifest): Promise<void> {
  const current = await schemaVersion(db);
  const have = schemaIndex(current);
  const got = m.schema_index ?? schemaIndex(m.schema_version);
  // Tags name migration files of one dialect: across dialects only the index compares.
  const sameLineage = m.dialect !== db.dialect || m.schema_version === current;
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

/**
 * The (almost) empty backup over a non-empty database — the trap of a
 * "latest" backup taken before seeding: the backup holds no rows, 1% or
 * less of the rows there are now, or no user account while the database has
 * some (nobody could log in afterwards). Returns the sentence, or null.
 */
export function shrinkProblem(
  key: string,
  now: Record<string, number>,
  after: Record<string, number>,
): string | null {
  const n = sum(now);
  const a = sum(after);
  if (n === 0) return null;
  let why: string | null = null;
  if (a === 0) why = "restoring it would empty the database";
  else if (a * 100 <= n) why = "restoring it would remove 99% or more of the rows";
  else if ((now.users ?? 0) > 0 && (after.users ?? 0) === 0) {
    why = "it holds no user account, so nobody could log in after restoring it";
  }
  if (!why) return null;
  return `backup "${key}" holds ${a} application row(s) and the database holds ${n}: ${why}`;
}

async function checkShrink(
  ctx: RestoreCollaborators,
  key: string,
  m: Manifest,
  input: RestoreInput,
): Promise<void> {
  if (input.allowShrink) return;
  const now = await currentRowCounts(ctx.db, backupTables());
  const why = shrinkProblem(key, now, m.row_counts ?? {});
  if (!why) return;
  const better = await ctx.catalog.latestNonEmpty();
  throw new AppError(
    "CONFIRMATION_REQUIRED",
    `${why}. If that is what you want, confirm with --allow-shrink (API: "allow_shrink": true)` +
      (better && better.s3Key !== key
        ? `; the newest backup with data is "${better.s3Key}" (${better.manifest?.total_rows} rows): ` +
          `deno task seed --restore --key ${better.s3Key}`
        : ""),
    { extra: { s3_key: key, rows_now: sum(now), rows_after: m.total_rows } },
  );
}

/** Loads the object into `db` in one transaction; returns rows per table. */
export async function load(
  ctx: RestoreCollaborators,
  db: Database,
  t: Target,
  tables: BackupTable[],
  manifest: Manifest,
  sha256: string,
): Promise<Record<string, number>> {
  const byName = new Map(tables.map((x) => [x.name, x]));
  return await db.transaction(async (tx) => {
    await liftStatementTimeout(db, tx);
    // Tokens issued before the restore are refused once it commits (src/auth/revocation.ts).
    await bumpTokenEpoch(db, tx);
    const loader = new Loader(db, tx, tables, manifest.total_rows, ctx.rebuildIndexesFromRows);
    let counts: Record<string, number>;
    try {
      counts = await loadInto(ctx, t, loader, byName, manifest, sha256);
    } catch (err) {
      await loader.abort(err);
      throw err;
    }
    // Revocations are security state, not data: a key revoked after the backup stays revoked.
    const kept = await reapplyServiceKeyRevocations(db, tx);
    if (kept.length) {
      ctx.logger.info("restore_revocations_kept", { s3_key: t.key, service_keys: kept });
    }
    // So are passwords: a password retired after the backup does not log in again.
    const floors = await reapplyCredentialFloors(db, tx);
    if (floors.length) ctx.logger.info("restore_passwords_kept", { s3_key: t.key, user_ids: floors });
    return counts;
  });
}

async function loadInto(
  ctx: RestoreCollaborators,
  t: Target,
  loader: Loader,
  byName: Map<string, BackupTable>,
  manifest: Manifest,
  sha256: string,
): Promise<Record<string, number>> {
  await loader.begin();
  const table = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new Error(`table "${name}" is not in this database's schema`);
    return found;
  };
  const limits = {
    drain: false,
    maxBytes: t.expected.sizeBytes,
    maxUncompressed: uncompressedLimit({ ...t.expected, manifest }, ctx.maxRowBytes),
    maxLineBytes: ctx.maxRowBytes,
    decrypt: decryptingReader(ctx.encryption),
  };
  const progress = (ctx.rowProgress ?? noRowProgress)({
    kind: "restore",
    key: t.key,
    totalRows: manifest.total_rows,
  });
  let current = "";
  const scan = await (loader.copying
    ? scanObject<ByteEvent>(ctx.store, t.key, async (ev) => {
      if (ev.type === "table") await loader.startTable(table(current = ev.table));
      else if (ev.type === "rows") {
        await loader.insertBytes(ev.data, ev.spans);
        progress.rows(ev.spans.length / 2, current);
      }
    }, { ...limits, reader: readDocumentBytes })
    : scanObject(ctx.store, t.key, async (ev) => {
      if (ev.type === "table") await loader.startTable(table(current = ev.table));
      else if (ev.type === "rows") {
        await loader.insert(ev.lines);
        progress.rows(ev.lines.length, current);
      }
    }, limits)).finally(() => progress.done());
  if (scan.contentError) throw scan.contentError;
  if (scan.sha256 !== sha256) {
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

/** The account and access changes since the backup was taken, which restoring it rolls back. */
async function changesSince(ctx: RestoreCollaborators, m: Manifest): Promise<SecurityChanges> {
  const since = m.created_at ? new Date(m.created_at) : null;
  if (!since || Number.isNaN(since.getTime())) return { total: 0, events: [] };
  return await securityChangesSince(ctx.db, since);
}

/** Removes a safety backup that turned out not to be needed (object deleted, catalog row failed). */
async function discard(ctx: RestoreCollaborators, safety: BackupRecord | null, why: string): Promise<void> {
  if (!safety) return;
  await ctx.deleteObjects(safety.s3Key).catch(() => {});
  await ctx.catalog.fail(safety.id, `discarded: ${why}`).catch(() => {});
}

/** Verifies `target` in full (read only); returns what it holds. */
export async function verifyTarget(ctx: RestoreCollaborators, target: Target) {
  const progress = (ctx.rowProgress ?? noRowProgress)({
    kind: "verify",
    key: target.key,
    totalRows: target.expected.manifest?.total_rows ?? null,
  });
  try {
    return await verifyBackup(ctx.store, target.key, backupTables(), target.expected, {
      maxLineBytes: ctx.maxRowBytes,
      decrypt: decryptingReader(ctx.encryption),
      onRows: (n, table) => progress.rows(n, table),
    });
  } finally {
    progress.done();
  }
}

/** A restore plan: what `restoreBackup(input)` would do, verified, touching nothing. */
export async function planRestore(ctx: RestoreCollaborators, input: RestoreInput): Promise<RestorePlan> {
  const target = await findTarget(ctx, input);
  const tables = backupTables();
  if (target.expected.manifest) await checkSchema(ctx.db, target.key, target.expected.manifest);
  const verified = await verifyTarget(ctx, target);
  await checkSchema(ctx.db, target.key, verified.manifest);
  const now = await currentRowCounts(ctx.db, tables);
  const after = verified.manifest.row_counts;
  const rows: Record<string, { now: number; after: number }> = {};
  for (const t of tables) rows[t.name] = { now: now[t.name] ?? 0, after: after[t.name] ?? 0 };
  const warnings: string[] = [];
  const shrink = shrinkProblem(target.key, now, after);
  if (shrink && !input.allowShrink) {
    warnings.push(`${shrink}; a restore needs --allow-shrink / "allow_shrink": true`);
  }
  const rolledBack = describeSecurityChanges(await changesSince(ctx, verified.manifest));
  if (rolledBack) warnings.push(rolledBack);
  const source = typeof verified.manifest.source === "string"
    ? { database: verified.manifest.source, dialect: verified.manifest.dialect }
    : null;
  const here = { database: ctx.db.label, dialect: ctx.db.dialect };
  if (source && (source.database !== here.database || source.dialect !== here.dialect)) {
    warnings.push(
      `the backup was taken from another database: ${describeDatabase(source)}; this is ${
        describeDatabase(here)
      }`,
    );
  }
  if (target.trust === "untrusted") {
    warnings.push(
      "the object is neither catalogued nor signed by a key this server holds (imported as untrusted)",
    );
  }
  ctx.logger.info("restore_planned", {
    s3_key: target.key,
    trust: target.trust,
    triggered_by: input.triggeredBy,
  });
  return {
    success: true,
    dry_run: true,
    restore_from: target.key,
    backup_id: target.record?.id ?? null,
    trust: target.trust,
    schema_version: verified.manifest.schema_version,
    created_at: verified.manifest.created_at ?? null,
    source,
    target: here,
    tables: rows,
    total: { now: sum(now), after: verified.manifest.total_rows },
    verified: true,
    warnings,
  };
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
    ctx.logger.info("restore_started", {
      ...log,
      s3_key: key,
      backup_id: target.record?.id ?? null,
      trust: target.trust,
    });
    if (target.trust === "untrusted") {
      ctx.logger.warn("backup_untrusted_import", { ...log, s3_key: key });
    }
    const tables = backupTables();
    if (target.expected.manifest) {
      await checkSchema(ctx.db, key, target.expected.manifest);
      await checkShrink(ctx, key, target.expected.manifest, input);
    }
    // The object is verified first, then the safety backup of the current data is taken (only
    // after a verify that passed: a refused restore costs no safety backup). Nothing is changed until
    // both have succeeded. One after the other, not at once: two long pipelines running together kept
    // the event loop from letting /health in for about a second (docs/backups.md); an empty database
    // needs no safety backup.
    const tVerify = performance.now();
    const [v] = await Promise.allSettled([verifyTarget(ctx, target)]);
    verifyMs = Math.round(performance.now() - tVerify);
    const tSafety = performance.now();
    const [sb] = await Promise.allSettled([
      v.status === "rejected" ? Promise.resolve(null) : (async () => {
        if (sum(await currentRowCounts(ctx.db, tables)) === 0) return null;
        return await ctx.takeSafetyBackup({
          createdBy: input.triggeredBy,
          executionId: input.restoreExecutionId ?? null,
        });
      })(),
    ]);
    const safetyMs = Math.round(performance.now() - tSafety);
    if (v.status === "rejected") {
      if (sb.status === "fulfilled") await discard(ctx, sb.value, "the restore it protected was refused");
      throw v.reason;
    }
    const verified = v.value;
    if (!target.expected.manifest) {
      try {
        await checkSchema(ctx.db, key, verified.manifest);
        await checkShrink(ctx, key, verified.manifest, input);
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
    const safety = sb.value;
    let counts: Record<string, number>;
    const tLoad = performance.now();
    try {
      counts = await load(ctx, ctx.db, target, tables, verified.manifest, verified.sha256);
    } catch (err) {
      if (err instanceof AppError && (err.code === "BACKUP_INVALID" || err.code.startsWith("STORAGE"))) {
        throw new AppError(
          err.code,
          `${err.message}; the restore was rolled back and the data is unchanged`,
          { cause: err, extra: err.extra },
        );
      }
      throw new AppError(
        "RESTORE_FAILED",
        `restoring "${key}" failed and was rolled back; the data is unchanged: ${describeError(err)}`,
        { cause: err, extra: { s3_key: key, safety_backup_s3_key: safety?.s3Key ?? null } },
      );
    }
    const loadMs = Math.round(performance.now() - tLoad);
    if (!target.record) {
      target.record = await ctx.catalog.insertImported({
        s3Key: key,
        createdBy: input.triggeredBy,
        sizeBytes: verified.size,
        sha256: verified.sha256,
        manifest: verified.manifest,
      });
    }
    const expectedCounts = verified.manifest.row_counts;
    for (const name of Object.keys(expectedCounts)) counts[name] ??= 0;
    await ctx.prune().catch(() => []);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const changes = await changesSince(ctx, verified.manifest).catch(() => ({ total: 0, events: [] }));
    ctx.logger.info("restore_completed", {
      ...log,
      s3_key: key,
      backup_id: target.record.id,
      trust: target.trust,
      safety_backup_s3_key: safety?.s3Key ?? null,
      size_bytes: verified.size,
      total_rows: total,
      row_counts: counts,
      verify_ms: verifyMs,
      safety_backup_ms: safetyMs,
      load_ms: loadMs,
      duration_ms: Math.round(performance.now() - started),
      security_changes_since_backup: changes,
    });
    return {
      success: true,
      restored_from: key,
      safety_backup_s3_key: safety?.s3Key ?? null,
      tables: counts,
      trust: target.trust,
      security_changes_since_backup: changes,
    };
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
