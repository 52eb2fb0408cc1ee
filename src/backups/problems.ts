/**
 * How the backup module words failures (shared by backup, verify and restore). Never words one with a failed
 * query's parameters (they may hold row data). Story: docs/backups.md.
 */
import { translateDbError } from "../db/errors.ts";
import { AppError } from "../errors.ts";
import type { BackupRecord } from "./catalog.ts";

/** Message of a failure, without query parameters (which may hold row data). */
export function describeError(err: unknown): string {
  const t = translateDbError(err);
  if (t instanceof AppError) return t.message;
  let cur: unknown = err;
  let msg = err instanceof Error ? err.message : String(err);
  for (let i = 0; i < 6 && cur && typeof cur === "object"; i++) {
    const m = (cur as Error).message;
    if (m && !m.startsWith("Failed query:")) msg = m;
    if (m && !m.startsWith("Failed query:") && cur !== err) break;
    cur = (cur as { cause?: unknown }).cause;
  }
  if (msg.startsWith("Failed query:")) msg = "a database statement failed";
  return msg.length > 400 ? `${msg.slice(0, 400)}…` : msg;
}

/** Throws unless the catalog row is a completed backup. */
export function usable(r: BackupRecord): void {
  if (r.status === "completed") return;
  if (r.status === "pruned") {
    throw new AppError("NOT_FOUND", `backup "${r.s3Key}" was pruned by retention; its object is gone`, {
      extra: { s3_key: r.s3Key, backup_id: r.id },
    });
  }
  throw new AppError(
    "BACKUP_INVALID",
    `backup "${r.s3Key}" did not complete (status ${r.status}${r.errorMessage ? `: ${r.errorMessage}` : ""})`,
    { extra: { s3_key: r.s3Key, backup_id: r.id } },
  );
}
