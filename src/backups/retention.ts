/**
 * Retention: BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS, applied after a
 * successful backup (and after a restore). `selectPrunable` is the pure rule
 * (the newest completed backup is never pruned); `pruneBackups` is the I/O
 * loop around it. Story: docs/backups.md.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import type { BackupCatalog } from "./catalog.ts";
import { describeError } from "./problems.ts";
import { signedManifestKey } from "./signing.ts";

/** The retention settings (BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS). */
export type Retention = Pick<Config["backups"], "retentionCount" | "retentionDays">;

/** A completed backup as retention sees it. */
export interface RetainedBackup {
  id: number;
  s3Key: string;
  createdAt: Date;
}

/** A backup retention removes, and why. */
export interface Prunable<B extends RetainedBackup = RetainedBackup> {
  backup: B;
  reason: string;
}

/**
 * The rule, pure: of the completed backups `newestFirst`, keeps the newest
 * `retentionCount` and those younger than `retentionDays` at `now`; returns
 * the others. The first (newest) is never returned.
 */
export function selectPrunable<B extends RetainedBackup>(
  newestFirst: readonly B[],
  retention: Retention,
  now: Date,
): Prunable<B>[] {
  const { retentionCount: count, retentionDays: days } = retention;
  if (!count && !days) return [];
  const cutoff = days ? now.getTime() - days * 86_400_000 : null;
  const out: Prunable<B>[] = [];
  for (let i = 1; i < newestFirst.length; i++) {
    const b = newestFirst[i];
    const tooMany = count !== undefined && i >= count;
    const tooOld = cutoff !== null && b.createdAt.getTime() < cutoff;
    if (tooMany || tooOld) {
      out.push({ backup: b, reason: tooMany ? `more than ${count} backups` : `older than ${days} days` });
    }
  }
  return out;
}

/**
 * Applies retention: deletes the selected backups' objects and marks them
 * `pruned` (with their signed manifests). A failure on one is logged and the others go on. Returns the pruned keys.
 */
export async function pruneBackups(
  io: { catalog: BackupCatalog; store: ObjectStore; logger: Logger },
  retention: Retention,
  now: Date,
): Promise<string[]> {
  if (!retention.retentionCount && !retention.retentionDays) return [];
  const selected = selectPrunable(await io.catalog.completedNewestFirst(), retention, now);
  const pruned: string[] = [];
  for (const { backup: r, reason } of selected) {
    try {
      await io.store.delete(r.s3Key);
      await io.store.delete(signedManifestKey(r.s3Key));
      await io.catalog.markPruned(r.id);
      pruned.push(r.s3Key);
      io.logger.info("backup_pruned", { backup_id: r.id, s3_key: r.s3Key, reason });
    } catch (err) {
      io.logger.warn("backup_prune_failed", { backup_id: r.id, s3_key: r.s3Key, error: describeError(err) });
    }
  }
  return pruned;
}
