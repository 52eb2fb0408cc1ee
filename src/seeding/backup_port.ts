/**
 * The contract between the seeding engine and the backup module. The seeding
 * service calls `backupBeforeSeeding` before a run or a reset (when asked),
 * and the seeder restore endpoint / `seed --restore` call `restore`. The
 * backup module (`src/backups/`) implements it; `deps.ts` wires it in.
 * Story: docs/seeding.md ("How the engine works").
 */
export interface BackupBeforeSeedingInput {
  /** The execution about to run (null for a backup outside any run). */
  executionId: number | null;
  kind: "execution" | "reset";
  /** "cli:<os user>" or "user:<id>". */
  triggeredBy: string;
}

export interface BackupRef {
  backupId: number;
  s3Key: string;
}

/** No backup was taken, and why (the database holds no application rows: nothing to protect). */
export interface BackupSkipped {
  skipped: string;
}

export interface RestoreInput {
  /** Exactly one of these, or neither for the latest completed backup. */
  s3Key?: string;
  executionId?: number;
  triggeredBy: string;
  triggeredByUserId?: number | null;
  requestId?: string;
  /** The `restore` execution doing this restore: its safety backup is catalogued under it. */
  restoreExecutionId?: number;
  /**
   * "untrusted": restore an object that is neither catalogued nor signed by
   * a known key (audited; still verified row by row). Default: refuse it.
   */
  trust?: "untrusted";
  /** Restore even when the backup holds (almost) nothing and the database does not (default: refuse). */
  allowShrink?: boolean;
}

/** What a restore would do, table by table (`--dry-run` / `"dry_run": true`); nothing is touched. */
export interface RestorePlan {
  success: true;
  dry_run: true;
  restore_from: string;
  backup_id: number | null;
  /** Why the object is trusted: the catalog, a valid signature, or the caller's explicit "untrusted". */
  trust: "catalog" | "signature" | "untrusted";
  schema_version: string | null;
  created_at: string | null;
  /**
   * The database the backup was taken from, as its manifest records it (a credential-free label and the
   * dialect; null for a manifest without it), and this one: a backup of the in-memory dev server restored
   * into Postgres says so (with a warning when they differ).
   */
  source: { database: string; dialect: "sqlite" | "postgres" } | null;
  target: { database: string; dialect: "sqlite" | "postgres" };
  /** Rows per table now and after the restore. */
  tables: Record<string, { now: number; after: number }>;
  total: { now: number; after: number };
  /** The object was read and checked in full (checksum, manifest, every row). */
  verified: true;
  /** What a real restore would refuse or need (shrink confirmation, …). */
  warnings: string[];
}

export interface RestoreOutcome {
  success: true;
  /** The S3 key that was restored. */
  restored_from: string;
  /** The backup of the data as it was just before the restore. */
  safety_backup_s3_key: string | null;
  /** Rows restored per table. */
  tables: Record<string, number>;
  /** Why the object was trusted (see RestorePlan). */
  trust?: "catalog" | "signature" | "untrusted";
  /**
   * Account and access changes the audit log recorded after the backup was taken, rolled back by this
   * restore (src/backups/credentials.ts): the operator re-applies those that must stay.
   */
  security_changes_since_backup?: {
    total: number;
    events: { event: string; target: string | null; at: string }[];
  };
}

export interface BackupPort {
  /** Backs up the application data; throws AppError (BACKUP_FAILED, STORAGE_*) on failure. */
  backupBeforeSeeding(input: BackupBeforeSeedingInput): Promise<BackupRef | BackupSkipped>;
  /** Verifies, then restores, a backup; throws AppError NOT_FOUND / BACKUP_INVALID / RESTORE_FAILED. */
  restore(input: RestoreInput): Promise<RestoreOutcome>;
  /** What `restore(input)` would do, verified, touching nothing. */
  plan?(input: RestoreInput): Promise<RestorePlan>;
}
