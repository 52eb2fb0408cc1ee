/**
 * Retention: BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS, applied after a
 * successful backup (and after a restore).
 */
import type { Config } from "../config.ts";
import { describeError } from "./problems.ts";
import type { BackupService } from "./service.ts";

/**
 * Retention: keeps the newest `retentionCount` completed backups and those
 * younger than `retentionDays`; deletes the others' objects and marks them
 * `pruned`. The newest completed backup is never pruned.
 */
export async function pruneBackups(svc: BackupService, retention: Config["backups"]): Promise<string[]> {
  const { retentionCount: count, retentionDays: days } = retention;
  if (!count && !days) return [];
  const all = await svc.catalog.completedNewestFirst();
  const cutoff = days ? svc.now().getTime() - days * 86_400_000 : null;
  const pruned: string[] = [];
  for (let i = 1; i < all.length; i++) {
    const r = all[i];
    const tooMany = count !== undefined && i >= count;
    const tooOld = cutoff !== null && r.createdAt.getTime() < cutoff;
    if (!tooMany && !tooOld) continue;
    try {
      await svc.store.delete(r.s3Key);
      await svc.catalog.markPruned(r.id);
      pruned.push(r.s3Key);
      svc.logger.info("backup_pruned", {
        backup_id: r.id,
        s3_key: r.s3Key,
        reason: tooMany ? `more than ${count} backups` : `older than ${days} days`,
      });
    } catch (err) {
      svc.logger.warn("backup_prune_failed", {
        backup_id: r.id,
        s3_key: r.s3Key,
        error: describeError(err),
      });
    }
  }
  return pruned;
}
