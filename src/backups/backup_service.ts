/**
 * Backups of the application data to S3: create (streamed, checksummed,
 * catalogued), list, show, verify, restore (restore.ts) and retention.
 * Implements the seeding engine's `BackupPort`.
 *
 * Creating a backup: a `pending` catalog row first (its id names manual
 * backups), then one read-only snapshot streams every application table
 * as JSON → gzip → SHA-256 → a multipart upload, with memory bounded by the
 * channel and the upload's part buffers whatever the data size. The checksum,
 * known only at the end, goes into the catalog and onto the object's
 * metadata; the catalog row becomes `completed`, and retention runs.
 */
import type { Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import { schemaVersion } from "../db/migrator.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type {
  BackupBeforeSeedingInput,
  BackupPort,
  BackupRef,
  RestoreInput,
  RestoreOutcome,
} from "../seeding/backup_port.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { BackupCatalog, type BackupRecord, type ListOptions } from "./catalog.ts";
import { type ManifestHead, writeDocument } from "./document.ts";
import {
  backupKey,
  type BackupKind,
  CONTENT_TYPE,
  FORMAT_VERSION,
  type Manifest,
  schemaIndex,
} from "./format.ts";
import { describeError, usable } from "./problems.ts";
import { pruneBackups } from "./retention.ts";
import { restoreBackup } from "./restore.ts";
import type { SnapshotOptions } from "./row_sources.ts";
import { Channel, channelToStream, GzipSink } from "./streams.ts";
import { backupTables } from "./tables.ts";
import { uncataloguedExpectation, verifyBackup } from "./verify.ts";
import { holdBackupLiveness } from "./sweep.ts";

/** gzip level of backups: 1 is fastest; 3 is within a few percent of 6's size at half its cost. */
export const DEFAULT_GZIP_LEVEL = 3;

export interface BackupServiceOptions {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  retention: Config["backups"];
  gzipLevel?: number;
  /** Reader options (tests force the generic reader). */
  snapshot?: SnapshotOptions;
  /** Postgres restores of at least this many rows rebuild secondary indexes after loading (default 50 000). */
  rebuildIndexesFromRows?: number;
  now?: () => Date;
}

export interface CreateInput {
  kind: Exclude<BackupKind, "imported">;
  executionId?: number | null;
  createdBy: string;
  /** Run retention afterwards (default true; a restore's safety backup defers it). */
  prune?: boolean;
}

export interface VerifyReport {
  valid: true;
  backup_id: number | null;
  s3_key: string;
  sha256: string;
  size_bytes: number;
  row_counts: Record<string, number>;
  total_rows: number;
  schema_version: string | null;
  format_version: number;
  /** What the checksum was compared with: the catalog, or (object not catalogued) its own metadata. */
  checked_against: "catalog" | "object-metadata";
}

export class BackupService implements BackupPort {
  readonly catalog: BackupCatalog;
  readonly db: Database;
  readonly store: ObjectStore;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly rebuildIndexesFromRows?: number;

  constructor(private readonly opts: BackupServiceOptions) {
    this.rebuildIndexesFromRows = opts.rebuildIndexesFromRows;
    this.db = opts.db;
    this.store = opts.store;
    this.logger = opts.logger;
    this.catalog = new BackupCatalog(opts.db);
    this.now = opts.now ?? (() => new Date());
  }

  /** BackupPort: the backup taken before a seeding run or a reset. */
  async backupBeforeSeeding(input: BackupBeforeSeedingInput): Promise<BackupRef> {
    const r = await this.create({
      kind: input.kind,
      executionId: input.executionId,
      createdBy: input.triggeredBy,
    });
    return { backupId: r.id, s3Key: r.s3Key };
  }

  /** BackupPort: verify, then restore (see restore.ts). */
  restore(input: RestoreInput): Promise<RestoreOutcome> {
    return restoreBackup({
      db: this.db,
      catalog: this.catalog,
      store: this.store,
      logger: this.logger,
      rebuildIndexesFromRows: this.rebuildIndexesFromRows,
      takeSafetyBackup: ({ createdBy, executionId }) =>
        this.create({ kind: "safety", createdBy, executionId, prune: false }),
      prune: () => this.prune(),
    }, input);
  }

  /** Takes a backup of every application table; returns its completed catalog row. */
  async create(input: CreateInput): Promise<BackupRecord> {
    const started = performance.now();
    const at = this.now();
    const version = await schemaVersion(this.db);
    const executionId = input.executionId ?? null;
    const pending = await this.catalog.createPending({
      kind: input.kind,
      executionId,
      createdBy: input.createdBy,
      dialect: this.db.dialect,
      schemaVersion: version,
      createdAt: at,
    });
    // While this is held, the sweep (sweep.ts) knows the pending row is being written.
    const releaseLiveness = await holdBackupLiveness(this.db, pending.id);
    let key = backupKey(input.kind, at, { backupId: pending.id, executionId });
    try {
      await this.catalog.setKey(pending.id, key);
    } catch {
      // The same execution backed up twice within a second: keep both.
      key = key.replace(/\.json\.gz$/, `_${pending.id}.json.gz`);
      await this.catalog.setKey(pending.id, key);
    }
    const log = { backup_id: pending.id, s3_key: key, kind: input.kind, execution_id: executionId };
    this.logger.info("backup_started", { ...log, created_by: input.createdBy });
    let uploaded = false;
    try {
      await this.store.checkBucket();
      const head: ManifestHead = {
        schema_version: version,
        schema_index: schemaIndex(version),
        dialect: this.db.dialect,
        source: this.db.label,
        created_at: at.toISOString(),
        kind: input.kind,
        backup_id: pending.id,
        execution_id: executionId,
      };
      const { manifest, sha256, size } = await this.#stream(key, head);
      uploaded = true;
      await this.store.replaceMetadata(key, this.#metadata(head, { sha256, size, manifest }), CONTENT_TYPE);
      const done = await this.catalog.complete(pending.id, { sizeBytes: size, sha256, manifest });
      this.logger.info("backup_completed", {
        ...log,
        size_bytes: size,
        sha256,
        total_rows: manifest.total_rows,
        row_counts: manifest.row_counts,
        duration_ms: Math.round(performance.now() - started),
      });
      if (input.prune !== false) await this.prune();
      return done;
    } catch (err) {
      const e = err instanceof AppError
        ? err
        : new AppError("BACKUP_FAILED", `backup "${key}" failed: ${describeError(err)}`, { cause: err });
      await this.catalog.fail(pending.id, e.message).catch(() => {});
      if (uploaded) await this.store.delete(key).catch(() => {});
      this.logger.error("backup_failed", {
        ...log,
        code: e.code,
        error: e.message,
        duration_ms: Math.round(performance.now() - started),
      });
      throw e;
    } finally {
      await releaseLiveness();
    }
  }

  /** Runs the snapshot → JSON → gzip + SHA-256 → (channel) → multipart upload pipeline. */
  async #stream(
    key: string,
    head: ManifestHead,
  ): Promise<{ manifest: Manifest; sha256: string; size: number }> {
    const channel = new Channel<Uint8Array>(8);
    const sink = new GzipSink(this.opts.gzipLevel ?? DEFAULT_GZIP_LEVEL, channel);
    const writing = (async () => {
      const manifest = await writeDocument(this.db, backupTables(), head, sink, this.opts.snapshot);
      await sink.end();
      return manifest;
    })().catch((err) => {
      channel.fail(err);
      throw err;
    });
    const uploading = this.store.upload(key, channelToStream(channel), {
      contentType: CONTENT_TYPE,
      metadata: {
        "seedbed-format-version": String(FORMAT_VERSION),
        "seedbed-backup-id": String(head.backup_id),
      },
    }).catch((err) => {
      // The upload gave up: stop the reader too.
      channel.fail(err);
      throw err;
    });
    const [w, u] = await Promise.allSettled([writing, uploading]);
    if (w.status === "rejected") throw w.reason;
    if (u.status === "rejected") throw u.reason;
    return { manifest: w.value, sha256: sink.digest(), size: sink.size };
  }

  #metadata(
    head: ManifestHead,
    r: { sha256: string; size: number; manifest: Manifest },
  ): Record<string, string> {
    return {
      "seedbed-format-version": String(FORMAT_VERSION),
      "seedbed-backup-id": String(head.backup_id),
      "seedbed-kind": head.kind,
      "seedbed-execution-id": head.execution_id === null ? "" : String(head.execution_id),
      "seedbed-dialect": head.dialect,
      "seedbed-schema-version": head.schema_version ?? "",
      "seedbed-total-rows": String(r.manifest.total_rows),
      "seedbed-size": String(r.size),
      sha256: r.sha256,
    };
  }

  /** A page of the catalog, newest first. */
  list(options: ListOptions): Promise<{ items: BackupRecord[]; total: number }> {
    return this.catalog.list(options);
  }

  /** One catalog row; NOT_FOUND naming the id. */
  async get(id: number): Promise<BackupRecord> {
    const r = await this.catalog.byId(id);
    if (!r) throw new AppError("NOT_FOUND", `backup ${id} not found`);
    return r;
  }

  /**
   * Re-reads a backup and checks it against the catalog. `ref` is a catalog
   * id or an S3 key; a key the catalog does not know is checked against the
   * object's own metadata (and the report says so).
   */
  async verify(ref: { id: number } | { key: string }): Promise<VerifyReport> {
    let record: BackupRecord | null;
    let expected;
    if ("id" in ref) {
      record = await this.get(ref.id);
    } else {
      record = await this.catalog.byKey(ref.key);
    }
    if (record) {
      usable(record);
      expected = { sha256: record.sha256!, sizeBytes: record.sizeBytes, manifest: record.manifest };
    } else {
      expected = await uncataloguedExpectation(this.store, (ref as { key: string }).key);
    }
    const key = record?.s3Key ?? (ref as { key: string }).key;
    try {
      const v = await verifyBackup(this.store, key, backupTables(), expected);
      this.logger.info("backup_verified", { backup_id: record?.id ?? null, s3_key: key, sha256: v.sha256 });
      return {
        valid: true,
        backup_id: record?.id ?? null,
        s3_key: key,
        sha256: v.sha256,
        size_bytes: v.size,
        row_counts: v.manifest.row_counts,
        total_rows: v.manifest.total_rows,
        schema_version: v.manifest.schema_version,
        format_version: v.manifest.format_version,
        checked_against: record ? "catalog" : "object-metadata",
      };
    } catch (err) {
      this.logger.warn("backup_verify_failed", {
        backup_id: record?.id ?? null,
        s3_key: key,
        error: String(err),
      });
      throw err;
    }
  }

  /** Retention now (see retention.ts); returns the pruned keys. */
  prune(): Promise<string[]> {
    return pruneBackups(
      { catalog: this.catalog, store: this.store, logger: this.logger },
      this.opts.retention,
      this.now(),
    );
  }
}
