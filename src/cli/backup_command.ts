/** `deno task backup [create|list|show ID|verify KEY|ID|prune]`. */
import { userInfo } from "node:os";
import type { BackupRecord } from "../backups/catalog.ts";
import { AppError } from "../errors.ts";
import { type CliContext, cliDeps, UsageError } from "./context.ts";
import { formatTable } from "./table.ts";
import { scheduledRuns } from "../backups/backup_schedule.ts";
import { nextRuns } from "../backups/cron.ts";

export const BACKUP_USAGE =
  `usage: deno task backup [create|list|show ID|verify KEY|verify ID|prune|schedule] [--json]
  create          back up every application table to S3 now (the default)
  list            the backup catalog, newest first [--limit N] [--status completed|failed|pruned|pending]
  show ID         one backup: key, size, checksum, row counts, manifest
  verify KEY|ID   re-read a backup from S3 and check checksum, manifest and every row
  prune           apply BACKUP_RETENTION_COUNT / BACKUP_RETENTION_DAYS now
  schedule        BACKUP_SCHEDULE's next runs [--count N] and the recent scheduled runs
Restore with: deno task seed --restore [--key KEY | --execution ID]`;

function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:${Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "unknown"}`;
  }
}

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

/** Runs a backup subcommand; returns the process exit code. */
export async function runBackup(ctx: CliContext, argv: string[]): Promise<number> {
  const args = [...argv];
  if (args.includes("--help") || args.includes("-h")) {
    ctx.out(BACKUP_USAGE);
    return 0;
  }
  const json = args.includes("--json");
  if (json) args.splice(args.indexOf("--json"), 1);
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
        const r = await backups.create({ kind: "manual", createdBy: actor() });
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
        if (page.items.length === 0) ctx.out("No backups yet. Take one with: deno task backup create");
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
        const report = await backups.verify(/^\d+$/.test(arg) ? { id: Number(arg) } : { key: arg });
        if (json) {
          out(report);
          return 0;
        }
        ctx.out(`OK ${report.s3_key}`);
        ctx.out(`  sha256 ${report.sha256} matches the ${report.checked_against}`);
        ctx.out(
          `  ${report.total_rows} rows in ${
            Object.keys(report.row_counts).length
          } tables parse and type-check`,
        );
        ctx.out(`  schema ${report.schema_version ?? "-"}, format version ${report.format_version}`);
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
