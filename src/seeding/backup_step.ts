/**
 * The backup that precedes a run, through the BackupPort. A failed backup
 * (or no backup storage at all) becomes a warning and the run goes on —
 * unless a backup is required, then the run fails with BACKUP_FAILED before
 * anything is seeded. Story: docs/seeding.md ("How the engine works").
 */
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { BackupPort } from "./backup_port.ts";
import type { ExecutionsRepository } from "./executions_repo.ts";

export interface BackupStepDeps {
  port?: BackupPort;
  executions: ExecutionsRepository;
  logger: Logger;
}

export interface BackupStepInput {
  executionId: number;
  kind: "execute" | "reset";
  triggeredBy: string;
  requireBackup: boolean;
}

/** Returns the backup's S3 key, or null after pushing a warning; throws BACKUP_FAILED when required. */
export async function backupBeforeRun(
  deps: BackupStepDeps,
  input: BackupStepInput,
  warnings: string[],
): Promise<string | null> {
  let problem: string;
  let cause: unknown;
  if (!deps.port) {
    problem = "backup skipped: no backup storage is configured";
  } else {
    try {
      const ref = await deps.port.backupBeforeSeeding({
        executionId: input.executionId,
        kind: input.kind === "reset" ? "reset" : "execution",
        triggeredBy: input.triggeredBy,
      });
      if ("skipped" in ref) {
        // Nothing to protect is not a failure: the run goes on, and the execution says why.
        warnings.push(`backup not taken: ${ref.skipped}`);
        deps.logger.info("seeding_backup_not_needed", {
          execution_id: input.executionId,
          reason: ref.skipped,
        });
        return null;
      }
      await deps.executions.recordBackup(input.executionId, ref.s3Key, warnings);
      return ref.s3Key;
    } catch (err) {
      cause = err;
      problem = `backup failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  if (input.requireBackup) {
    // A dependency that is down (S3, the database) is a 503 with Retry-After, as everywhere; else a 500.
    const unavailable = cause instanceof AppError && cause.status === 503 ? cause : null;
    throw new AppError(
      unavailable?.code ?? "BACKUP_FAILED",
      `${problem}; nothing was seeded because a backup was required`,
      { headers: unavailable?.headers, cause },
    );
  }
  warnings.push(`${problem}; seeding continued without a backup`);
  deps.logger.warn("seeding_backup_skipped", { execution_id: input.executionId, reason: problem });
  return null;
}
