/**
 * The contract between the seeding engine and the backup module. The seeding
 * service calls `backupBeforeSeeding` before a run or a reset (when asked),
 * and the seeder restore endpoint / `seed --restore` call `restore`. The
 * backup module (`src/backups/`) implements it; `deps.ts` wires it in.
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

export interface RestoreInput {
  /** Exactly one of these, or neither for the latest completed backup. */
  s3Key?: string;
  executionId?: number;
  triggeredBy: string;
  triggeredByUserId?: number | null;
  requestId?: string;
  /** The `restore` execution doing this restore: its safety backup is catalogued under it. */
  restoreExecutionId?: number;
}

export interface RestoreOutcome {
  success: true;
  /** The S3 key that was restored. */
  restored_from: string;
  /** The backup of the data as it was just before the restore. */
  safety_backup_s3_key: string | null;
  /** Rows restored per table. */
  tables: Record<string, number>;
}

export interface BackupPort {
  /** Backs up the application data; throws AppError (BACKUP_FAILED, STORAGE_*) on failure. */
  backupBeforeSeeding(input: BackupBeforeSeedingInput): Promise<BackupRef>;
  /** Verifies, then restores, a backup; throws AppError NOT_FOUND / BACKUP_INVALID / RESTORE_FAILED. */
  restore(input: RestoreInput): Promise<RestoreOutcome>;
}
