/** `deno task backup [create|list|show ID|verify KEY|ID|prune]`. Story: docs/backups.md ("Command line"). */
import type { BackupRecord } from "../backups/catalog.ts";
import { drillRestore } from "../backups/drill.ts";
import type { BackupService } from "../backups/backup_service.ts";
import { describeProblem } from "../backups/signing.ts";
import { presentBucketBackup } from "../backups/restore.ts";
import { AppError } from "../errors.ts";
import { cliActor, type CliContext, cliDeps, UsageError } from "./context.ts";
import { formatTable } from "./table.ts";
import { deno } from "../deno_command.ts";
import { scheduledRuns } from "../backups/backup_schedule.ts";
import { nextRuns } from "../backups/cron.ts";

export const BACKUP_USAGE =
  `usage: deno task backup [create|list|show ID|verify KEY|verify ID|drill [KEY]|prune|schedule] [--json]
  create          back up every application table to S3 now (the default)
  list            the backup catalog, newest first [--limit N] [--status completed|failed|pruned|pending]
  list --bucket   what the bucket holds (no database needed): every backup object, signed or not
  show ID         one backup: key, size, checksum, row counts, manifest
  verify KEY|ID   re-read a backup from S3 and check checksum, manifest and every row
                  (--untrusted: an object neither catalogued nor signed, checked row by row)
  drill [KEY]     restore the latest backup (or KEY) into a scratch database, check it, drop it
  prune           apply BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS now
  schedule        BACKUP_SCHEDULE's next runs [--count N] and the recent scheduled runs
Restore with: deno task seed --restore [--key KEY | --execution ID] [--dry-run]`;

function human(bytes: number | null): string {
  if (bytes === null) return "-";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

const total = (r: BackupRecord) => r.manifest?.total_rows ?? null;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value\n${BACKUP_USAGE}`);
  args.splice(i, 2);
  return v;
}

function positiveInt(v: string, what: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) {
    throw new UsageError(`${what} must be a positive whole number, got "${v}"`);
  }
  return Number(v);
}

/** `list --bucket`: what the bucket holds, for disaster recovery (the catalog may be gone). */
async function listBucket(ctx: CliContext, backups: BackupService, json: boolean): Promise<number> {
  const found = await backups.bucketBackups();
  if (json) {
    ctx.out(JSON.stringify(
      found.map(presentBucketBackup),
      null,
      2,
    ));
    return 0;
  }
  ctx.out(`Bucket "${backups.store.bucket}", newest first:`);
  if (found.length === 0) ctx.out("  no backup objects under database-backups/");
  for (const b of found) {
    const m = b.signed?.manifest;
    ctx.out(
      `  ${b.signed ? "signed  " : "UNSIGNED"} ${(m?.kind ?? "?").padEnd(9)} ${
        (m?.created_at ?? b.lastModified?.toISOString() ?? "-").slice(0, 19)
      }  ${human(b.size).padStart(9)}  ${String(m?.total_rows ?? "-").padStart(8)} rows  ${b.key}${
        b.catalogued ? "" : "  (not in the catalog)"
      }`,
    );
    if (b.problem) ctx.out(`           ${describeProblem(b.problem)}`);
  }
  ctx.out(
    `Restore one: ${
      deno("task seed --restore --key KEY")
    }   (an UNSIGNED one needs --untrusted; try --dry-run first)`,
  );
  return 0;
}

/** Runs a backup subcommand; returns the process exit code. */
export async function runBackup(ctx: CliContext, argv: string[]): Promise<number> {
  const args = [...argv];
  if (args.includes("--help") || args.includes("-h")) {
    ctx.out(BACKUP_USAGE);
    return 0;
  }
  const take = (name: string) => {
    const i = args.indexOf(name);
    if (i !== -1) args.splice(i, 1);
    return i !== -1;
  };
  const json = take("--json");
  const bucketOnly = take("--bucket");
  const untrusted = take("--untrusted");
  const limit = flag(args, "--limit");
  const count = flag(args, "--count");
  const status = flag(args, "--status");
  const [sub = "create", arg, ...extra] = args;
  if (extra.length) throw new UsageError(`unexpected argument(s) ${extra.join(" ")}\n${BACKUP_USAGE}`);
  const out = (v: unknown) => ctx.out(JSON.stringify(v, null, 2));
  const { backups } = await cliDeps(ctx);
  try {
    switch (sub) {
      case "schedule": {
        if (arg) throw new UsageError(`schedule takes no argument (use --count N)\n${BACKUP_USAGE}`);
        const expression = ctx.config.backups.schedule;
        if (!expression) {
          ctx.out('No schedule: set BACKUP_SCHEDULE to a cron expression, e.g. BACKUP_SCHEDULE="0 3 * * *"');
          return 0;
        }
        const tz = ctx.config.backups.scheduleTimezone ?? "UTC";
        const runs = nextRuns(expression, new Date(), count ? positiveInt(count, "--count") : 5, tz);
        const recent = await scheduledRuns(ctx.db, 10);
        if (json) {
          out({
            schedule: expression,
            timezone: tz,
            next_runs: runs.map((d) => d.toISOString()),
            recent_runs: recent.map((r) => ({
              scheduled_at: r.scheduledAt.toISOString(),
              status: r.status,
              backup_id: r.backupId,
              replica: r.replica,
              error: r.errorMessage,
            })),
          });
          return 0;
        }
        ctx.out(`Schedule: ${expression} (${tz})`);
        ctx.out("Next runs:");
        for (const d of runs) ctx.out(`  ${d.toISOString()}`);
        if (recent.length) {
          ctx.out("Recent runs:");
          const table = formatTable(
            ["slot", "status", "backup", "note"],
            recent.map((r) => [
              r.scheduledAt.toISOString(),
              r.status,
              r.backupId === null ? "-" : String(r.backupId),
              r.errorMessage ?? "",
            ]),
          );
          for (const line of table) ctx.out(line);
        }
        return 0;
      }
      case "create": {
        if (arg) throw new UsageError(`create takes no argument\n${BACKUP_USAGE}`);
        const r = await backups.create({ kind: "manual", createdBy: cliActor() });
        if (json) out(r);
        else {
          ctx.out(`Backup ${r.id} completed: ${r.s3Key}`);
          ctx.out(`  bucket:  ${ctx.config.s3.bucket}`);
          ctx.out(`  size:    ${human(r.sizeBytes)} (gzip)`);
          ctx.out(`  rows:    ${total(r)} in ${Object.keys(r.rowCounts ?? {}).length} tables`);
          ctx.out(`  sha256:  ${r.sha256}`);
        }
        return 0;
      }
      case "list": {
        if (arg) throw new UsageError(`list takes no argument (use --limit N)\n${BACKUP_USAGE}`);
        if (bucketOnly) return await listBucket(ctx, backups, json);
        if (status && !["pending", "completed", "failed", "pruned"].includes(status)) {
          throw new UsageError(`--status must be pending, completed, failed or pruned, got "${status}"`);
        }
        const page = await backups.list({
          limit: limit ? positiveInt(limit, "--limit") : 50,
          offset: 0,
          status: status as BackupRecord["status"] | undefined,
        });
        if (json) {
          out(page);
          return 0;
        }
        if (page.items.length === 0) ctx.out(`No backups yet. Take one with: ${deno("task backup create")}`);
        if (page.items.length) {
          const right = (header: string) => ({ header, right: true });
          for (
            const line of formatTable(
              [right("ID"), "STATUS", "KIND", "CREATED", right("SIZE"), right("ROWS"), "KEY"],
              page.items.map((r) => [
                r.id,
                r.status,
                r.kind,
                r.createdAt.toISOString(),
                human(r.sizeBytes),
                total(r),
                r.s3Key,
              ]),
            )
          ) ctx.out(line);
        }
        ctx.out(`${page.items.length} of ${page.total} backups`);
        return 0;
      }
      case "show": {
        if (!arg) throw new UsageError(`show needs a backup id\n${BACKUP_USAGE}`);
        const r = await backups.get(positiveInt(arg, "the backup id"));
        if (json) {
          out(r);
          return 0;
        }
        ctx.out(`Backup ${r.id}: ${r.s3Key}`);
        ctx.out(`  status:     ${r.status}${r.errorMessage ? ` (${r.errorMessage})` : ""}`);
        ctx.out(`  kind:       ${r.kind}${r.executionId !== null ? ` (execution ${r.executionId})` : ""}`);
        ctx.out(`  created:    ${r.createdAt.toISOString()} by ${r.createdBy}`);
        ctx.out(`  size:       ${human(r.sizeBytes)}   sha256: ${r.sha256 ?? "-"}`);
        ctx.out(`  schema:     ${r.schemaVersion ?? "-"} (${r.dialect})`);
        for (const [t, n] of Object.entries(r.rowCounts ?? {})) ctx.out(`  ${t.padEnd(24)} ${n}`);
        return 0;
      }
      case "verify": {
        if (!arg) throw new UsageError(`verify needs a backup key or id\n${BACKUP_USAGE}`);
        const report = await backups.verify(/^\d+$/.test(arg) ? { id: Number(arg) } : { key: arg }, {
          untrusted,
        });
        if (json) {
          out(report);
          return 0;
        }
        ctx.out(`OK ${report.s3_key}`);
        ctx.out(
          report.checked_against === "untrusted"
            ? `  UNTRUSTED: neither catalogued nor signed; sha256 ${report.sha256} (nothing to compare with)`
            : `  sha256 ${report.sha256} matches the ${
              report.checked_against === "catalog" ? "catalog" : `signed manifest (key ${report.signed_by})`
            }`,
        );
        if (report.encrypted) ctx.out("  encrypted (AES-256-GCM), decrypted and authenticated");
        ctx.out(
          `  ${report.total_rows} rows in ${
            Object.keys(report.row_counts).length
          } tables parse and type-check`,
        );
        ctx.out(`  schema ${report.schema_version ?? "-"}, format version ${report.format_version}`);
        return 0;
      }
      case "drill": {
        const report = await drillRestore(backups.restoreCollaborators(), ctx.config.databaseUrl, {
          s3Key: arg,
          triggeredBy: cliActor(),
          trust: untrusted ? "untrusted" : undefined,
        });
        if (json) {
          out(report);
          return 0;
        }
        ctx.out(`Drill OK: ${report.restore_from} restores cleanly`);
        ctx.out(`  into ${report.scratch} (dropped afterwards); trusted by ${report.trust}`);
        ctx.out(
          `  ${report.total_rows} rows in ${
            Object.keys(report.tables).length
          } tables; verify ${report.verify_ms} ms, ` +
            `load ${report.load_ms} ms, total ${report.duration_ms} ms`,
        );
        for (const [t, n] of Object.entries(report.tables)) ctx.out(`  ${t.padEnd(24)} ${n}`);
        return 0;
      }
      case "prune": {
        if (arg) throw new UsageError(`prune takes no argument\n${BACKUP_USAGE}`);
        const { retentionCount, retentionDays } = ctx.config.backups;
        if (!retentionCount && !retentionDays) {
          ctx.out(
            "No retention configured (BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS): nothing pruned.",
          );
          return 0;
        }
        const pruned = await backups.prune();
        if (json) {
          out({ pruned });
          return 0;
        }
        ctx.out(pruned.length ? `Pruned ${pruned.length}:\n  ${pruned.join("\n  ")}` : "Nothing to prune.");
        return 0;
      }
      default:
        throw new UsageError(`unknown backup command "${sub}"\n${BACKUP_USAGE}`);
    }
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    console.error(`seedbed: ${err.message} [${err.code}]`);
    return 1;
  }
}
