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
 * Story: docs/backups.md.
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
  BackupSkipped,
  RestoreInput,
  RestoreOutcome,
  RestorePlan,
} from "../seeding/backup_port.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { BackupCatalog, type BackupRecord, type ListOptions } from "./catalog.ts";
import { type ManifestHead, writeDocument } from "./document.ts";
import { ENCRYPTION_ALGORITHM, type EncryptionKeys, encryptionKeys, Encryptor } from "./encryption.ts";
import {
  backupKey,
  type BackupKind,
  CONTENT_TYPE,
  FORMAT_VERSION,
  KEY_PREFIX,
  type Manifest,
  schemaIndex,
} from "./format.ts";
import { describeError, usable } from "./problems.ts";
import { pruneBackups } from "./retention.ts";
import {
  type BucketBackup,
  currentRowCounts,
  findTarget,
  planRestore,
  restoreBackup,
  type RestoreCollaborators,
  type Target,
  targetFromSigned,
  type Trust,
  untrustedRefusal,
  verifyTarget,
} from "./restore.ts";
import type { SnapshotOptions } from "./row_sources.ts";
import {
  describeProblem,
  Keyring,
  MAX_SIGNED_MANIFEST_BYTES,
  SIGNATURE_FORMAT,
  SIGNATURE_VERSION,
  type SignatureProblem,
  type SignedManifest,
  signedManifestKey,
} from "./signing.ts";
import { Channel, channelToStream, DEFAULT_MAX_LINE_BYTES, GzipSink } from "./streams.ts";
import { backupTables } from "./tables.ts";
import { holdBackupLiveness } from "./sweep.ts";
import { noRowProgress, type RowProgressFactory } from "./row_progress.ts";

/** gzip level of backups: 1 is fastest; 3 is within a few percent of 6's size at half its cost. */
export const DEFAULT_GZIP_LEVEL = 3;

export interface BackupServiceOptions {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  retention: Pick<Config["backups"], "retentionCount" | "retentionDays">;
  /** Signs manifests and checks signatures (default: the development key, see signing.ts). */
  keyring?: Keyring;
  /** Encrypts new backups when it has a current key; decrypts with any of its keys. */
  encryption?: EncryptionKeys;
  /** Longest row line accepted by verify and restore (default 8 MiB). */
  maxRowBytes?: number;
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
  /**
   * What the object was checked against: the catalog, its signed manifest
   * (not catalogued), or nothing but its own content (imported as untrusted).
   */
  checked_against: Trust;
  /** The key id of the signed manifest (null: not signed, or not checked). */
  signed_by: string | null;
  encrypted: boolean;
}

export type { BucketBackup };

export class BackupService implements BackupPort {
  readonly catalog: BackupCatalog;
  readonly db: Database;
  readonly store: ObjectStore;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly rebuildIndexesFromRows?: number;
  readonly keyring: Keyring;
  readonly encryption: EncryptionKeys;
  readonly maxRowBytes: number;
  /**
   * Rows-based progress of backup, verify and restore passes, reported per batch (default: none;
   * the CLI sets a progress line, src/cli/context.ts).
   */
  rowProgress: RowProgressFactory = noRowProgress;

  constructor(private readonly opts: BackupServiceOptions) {
    this.rebuildIndexesFromRows = opts.rebuildIndexesFromRows;
    this.keyring = opts.keyring ??
      Keyring.fromConfig({ signingKeysPrevious: [], signingSecretGenerated: true }, "");
    this.encryption = opts.encryption ?? encryptionKeys(undefined);
    this.maxRowBytes = opts.maxRowBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.db = opts.db;
    this.store = opts.store;
    this.logger = opts.logger;
    this.catalog = new BackupCatalog(opts.db);
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * BackupPort: the backup taken before a seeding run or a reset — none when
   * the database holds no application rows (nothing to protect; such a
   * backup would only become an empty "latest").
   */
  async backupBeforeSeeding(input: BackupBeforeSeedingInput): Promise<BackupRef | BackupSkipped> {
    if (await this.isEmpty()) {
      return { skipped: "the database holds no application rows, so there is nothing to protect" };
    }
    const r = await this.create({
      kind: input.kind,
      executionId: input.executionId,
      createdBy: input.triggeredBy,
    });
    return { backupId: r.id, s3Key: r.s3Key };
  }

  /** BackupPort: verify, then restore (see restore.ts). */
  restore(input: RestoreInput): Promise<RestoreOutcome> {
    return restoreBackup(this.restoreCollaborators(), input);
  }

  /** BackupPort: what `restore(input)` would do, verified, touching nothing. */
  plan(input: RestoreInput): Promise<RestorePlan> {
    return planRestore(this.restoreCollaborators(), input);
  }

  /** What restore, plan, verify and the drill work with (restore.ts takes no service). */
  restoreCollaborators(): RestoreCollaborators {
    return {
      db: this.db,
      catalog: this.catalog,
      store: this.store,
      logger: this.logger,
      rebuildIndexesFromRows: this.rebuildIndexesFromRows,
      maxRowBytes: this.maxRowBytes,
      encryption: this.encryption,
      takeSafetyBackup: ({ createdBy, executionId }) =>
        this.create({ kind: "safety", createdBy, executionId, prune: false }),
      prune: () => this.prune(),
      uncataloguedTarget: (key, untrusted) => this.uncataloguedTarget(key, untrusted),
      bucketBackups: () => this.bucketBackups(),
      deleteObjects: (key) => this.deleteObjects(key),
      rowProgress: (pass) => this.rowProgress(pass),
    };
  }

  /** True when no application table holds a row. */
  async isEmpty(): Promise<boolean> {
    const counts = await currentRowCounts(this.db, backupTables());
    return Object.values(counts).every((n) => n === 0);
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
      const current = this.encryption.current;
      const signed = this.keyring.sign({
        format: SIGNATURE_FORMAT,
        version: SIGNATURE_VERSION,
        s3_key: key,
        sha256,
        size_bytes: size,
        encryption: current ? { algorithm: ENCRYPTION_ALGORITHM, key_id: current.id } : null,
        manifest,
        signed_at: this.now().toISOString(),
      });
      await this.store.putBytes(
        signedManifestKey(key),
        new TextEncoder().encode(JSON.stringify(signed)),
        "application/json",
      );
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
      if (uploaded) await this.deleteObjects(key).catch(() => {});
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
    const current = this.encryption.current;
    const sink = new GzipSink(
      this.opts.gzipLevel ?? DEFAULT_GZIP_LEVEL,
      channel,
      current ? new Encryptor(current) : undefined,
    );
    const progress = this.rowProgress({ kind: "backup", key, totalRows: null });
    const writing = (async () => {
      const manifest = await writeDocument(
        this.db,
        backupTables(),
        head,
        sink,
        this.opts.snapshot,
        (n, table) => progress.rows(n, table),
      );
      await sink.end();
      return manifest;
    })().finally(() => progress.done()).catch((err) => {
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
      "seedbed-encrypted": this.encryption.current ? "true" : "false",
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
   * Re-reads a backup and checks it. `ref` is a catalog id or an S3 key; a
   * key the catalog does not know is checked against its signed manifest —
   * or, with `untrusted`, against nothing but its own content (the report
   * says which).
   */
  async verify(
    ref: { id: number } | { key: string },
    options: { untrusted?: boolean } = {},
  ): Promise<VerifyReport> {
    let target: Target;
    if ("id" in ref) {
      const record = await this.get(ref.id);
      usable(record);
      target = {
        key: record.s3Key,
        record,
        expected: { sha256: record.sha256!, sizeBytes: record.sizeBytes, manifest: record.manifest },
        trust: "catalog",
      };
    } else {
      target = await findTarget(this.restoreCollaborators(), {
        s3Key: ref.key,
        triggeredBy: "verify",
        trust: options.untrusted ? "untrusted" : undefined,
      });
    }
    const key = target.key;
    const backupId = target.record?.id ?? null;
    try {
      const v = await verifyTarget(this.restoreCollaborators(), target);
      this.logger.info("backup_verified", {
        backup_id: backupId,
        s3_key: key,
        sha256: v.sha256,
        trust: target.trust,
      });
      const signed = target.trust === "untrusted" ? null : await this.readSigned(key);
      return {
        valid: true,
        backup_id: backupId,
        s3_key: key,
        sha256: v.sha256,
        size_bytes: v.size,
        row_counts: v.manifest.row_counts,
        total_rows: v.manifest.total_rows,
        schema_version: v.manifest.schema_version,
        format_version: v.manifest.format_version,
        checked_against: target.trust,
        signed_by: signed && "ok" in signed && signed.ok.sha256 === v.sha256 ? signed.ok.key_id : null,
        encrypted: v.encrypted,
      };
    } catch (err) {
      this.logger.warn("backup_verify_failed", { backup_id: backupId, s3_key: key, error: String(err) });
      throw err;
    }
  }

  /** The signed manifest of `key`, checked: `{ok}` or `{problem}`. */
  async readSigned(key: string): Promise<{ ok: SignedManifest } | { problem: SignatureProblem }> {
    let bytes: Uint8Array | null;
    try {
      bytes = await this.store.readSmall(signedManifestKey(key), MAX_SIGNED_MANIFEST_BYTES);
    } catch (err) {
      if (err instanceof RangeError) return { problem: { kind: "malformed", why: "it is too large" } };
      throw err;
    }
    return this.keyring.check(bytes, key);
  }

  /**
   * A key the catalog does not know: trusted through its signed manifest;
   * otherwise refused, unless the caller imports it as untrusted.
   */
  async uncataloguedTarget(key: string, untrusted: boolean): Promise<Target> {
    const head = await this.store.head(key);
    if (!head) {
      throw new AppError(
        "NOT_FOUND",
        `backup "${key}" not found: it is not in the catalog and bucket "${this.store.bucket}" has no such object`,
        { extra: { s3_key: key } },
      );
    }
    const signed = await this.readSigned(key);
    if ("ok" in signed) return targetFromSigned(key, signed.ok);
    if (untrusted) {
      return {
        key,
        record: null,
        expected: { sha256: null, sizeBytes: null, manifest: null },
        trust: "untrusted",
      };
    }
    throw untrustedRefusal(key, describeProblem(signed.problem));
  }

  /** The backup objects under the prefix, newest first, each with its signed manifest checked. */
  async bucketBackups(): Promise<BucketBackup[]> {
    const objects: { key: string; size: number; lastModified?: Date }[] = [];
    for await (const o of this.store.list(KEY_PREFIX)) {
      if (o.key.endsWith(".json.gz")) objects.push(o);
    }
    const when = (b: BucketBackup) =>
      Date.parse(b.signed?.manifest.created_at ?? "") || b.lastModified?.getTime() || 0;
    return (await this.#checked(objects)).sort((a, b) => when(b) - when(a) || (a.key < b.key ? 1 : -1));
  }

  /**
   * One page of the bucket's backup objects, newest first by the time in their key (then by the time S3
   * stored them): only the page's signed manifests are read (`GET /api/v1/backups/bucket`).
   */
  async bucketPage(skip: number, limit: number): Promise<{ items: BucketBackup[]; total: number }> {
    const objects: { key: string; size: number; lastModified?: Date }[] = [];
    for await (const o of this.store.list(KEY_PREFIX)) {
      if (o.key.endsWith(".json.gz")) objects.push(o);
    }
    const stamp = (k: string) => /(\d{8}_\d{6})/.exec(k)?.[1] ?? "";
    objects.sort((a, b) =>
      stamp(b.key).localeCompare(stamp(a.key)) ||
      (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0) || (a.key < b.key ? 1 : -1)
    );
    return { items: await this.#checked(objects.slice(skip, skip + limit)), total: objects.length };
  }

  async #checked(objects: { key: string; size: number; lastModified?: Date }[]): Promise<BucketBackup[]> {
    const out: BucketBackup[] = [];
    for (const o of objects) {
      const signed = await this.readSigned(o.key);
      out.push({
        key: o.key,
        size: o.size,
        lastModified: o.lastModified ?? null,
        signed: "ok" in signed ? signed.ok : null,
        problem: "problem" in signed ? signed.problem : null,
        catalogued: (await this.catalog.byKey(o.key)) !== null,
      });
    }
    return out;
  }

  /** Deletes a backup object and its signed manifest. */
  async deleteObjects(key: string): Promise<void> {
    await this.store.delete(key);
    await this.store.delete(signedManifestKey(key));
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
