/**
 * `deno task seed [options]`: what `python scripts/seed.py` does, and more. Never resets or restores in
 * production unless the database's name is typed on a terminal or --force is given.
 * Story: docs/seeding.md ("CLI").
 */
import { describeDatabase } from "../db/client.ts";
import { APP_ENVS, type AppEnv } from "../config.ts";
import { AppError } from "../errors.ts";
import type { RestorePlan } from "../seeding/backup_port.ts";
import { describeSecurityChanges } from "../backups/credentials.ts";
import { databaseName } from "../seeding/confirm.ts";
import type { SeedingService, SeedResponse } from "../seeding/seeding_service.ts";
import { cliActor, type CliContext, cliDeps, UsageError } from "./context.ts";
import { createProgress, stderrWriter } from "./progress.ts";
import { formatTable } from "./table.ts";
import { VOLUME_RESOURCES } from "../../seeders/volume.ts";
import { runVerify } from "./verify_command.ts";

export const SEED_USAGE = `usage: deno task seed [options]
  (no options)            run the seeders for APP_ENV; back up first when backup storage is configured
  --list                  list the seeders in run order, with dependencies and environments
  --only NAME [NAME ...]  run only these seeders, and the seeders they depend on
  --dry-run               run everything, report the counts it would produce, roll back
  --env ENV               seed for development | test | production (default: APP_ENV)
  --scale N               add N deterministic rows to every module table with a volume factory
  --random-seed S         seed of the generator used by --scale (default 1)
  --demo | --no-demo      force the demo seeders on or off (default: on outside production)
  --no-backup             do not back up before seeding
  --require-backup        stop, seeding nothing, if the backup fails
  --reset                 back up, empty the application tables, re-run migrations, seed
                          (the execution history and backup catalog are kept); a failed
                          backup stops the reset unless --no-backup is given
  --restore               restore the latest backup; with --key K or --execution N, that one
                          (with no catalog, "latest" is the newest signed backup in the bucket)
    --dry-run             only show the plan: rows now → rows after, per table (object verified)
    --untrusted           import an object that is neither catalogued nor signed (audited)
    --allow-shrink        restore even a backup holding 10% or less of the rows there are now
  --force                 production: reset/restore without asking (otherwise asked on a terminal)
  --json                  print the result as JSON
  verify                  print the verification checklist (same as \`deno task verify\`)`;

interface SeedArgs {
  mode: "seed" | "list" | "reset" | "restore" | "verify";
  only?: string[];
  dryRun: boolean;
  env?: AppEnv;
  scale?: number;
  randomSeed?: number;
  demo?: boolean;
  backup: boolean;
  requireBackup?: boolean;
  key?: string;
  execution?: number;
  json: boolean;
  untrusted?: boolean;
  allowShrink?: boolean;
  force?: boolean;
}

function intArg(flag: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^-?\d+$/.test(v) || Number(v) < min) {
    throw new UsageError(
      `${flag} needs a whole number${min > 0 ? ` of at least ${min}` : " (0 or more)"}, got ${
        v ?? "nothing"
      }`,
    );
  }
  return Number(v);
}

/** Parses `seed` arguments; throws UsageError naming the bad one. */
export function parseSeedArgs(args: string[]): SeedArgs {
  const a: SeedArgs = { mode: "seed", dryRun: false, backup: true, json: false };
  const modes = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "verify":
      case "status":
        modes.add("verify");
        break;
      case "--list":
        modes.add("list");
        break;
      case "--reset":
        modes.add("reset");
        break;
      case "--restore":
        modes.add("restore");
        break;
      case "--only": {
        const names = inline !== undefined ? inline.split(",") : [];
        while (inline === undefined && i + 1 < args.length && !args[i + 1].startsWith("--")) {
          names.push(...args[++i].split(","));
        }
        if (names.filter(Boolean).length === 0) throw new UsageError("--only needs at least one seeder name");
        a.only = [...(a.only ?? []), ...names.filter(Boolean)];
        break;
      }
      case "--dry-run":
        a.dryRun = true;
        break;
      case "--env": {
        const v = value();
        if (!(APP_ENVS as readonly string[]).includes(v ?? "")) {
          throw new UsageError(`--env must be one of ${APP_ENVS.join(", ")}, got ${v ?? "nothing"}`);
        }
        a.env = v as AppEnv;
        break;
      }
      case "--scale":
        a.scale = intArg("--scale", value(), 0);
        break;
      case "--random-seed":
        a.randomSeed = intArg("--random-seed", value(), Number.MIN_SAFE_INTEGER);
        break;
      case "--demo":
        a.demo = true;
        break;
      case "--no-demo":
        a.demo = false;
        break;
      case "--no-backup":
        a.backup = false;
        break;
      case "--require-backup":
        a.requireBackup = true;
        break;
      case "--key": {
        const v = value();
        if (!v) throw new UsageError("--key needs an S3 key");
        a.key = v;
        break;
      }
      case "--execution":
        a.execution = intArg("--execution", value(), 1);
        break;
      case "--json":
        a.json = true;
        break;
      case "--untrusted":
        a.untrusted = true;
        break;
      case "--allow-shrink":
        a.allowShrink = true;
        break;
      case "--force":
        a.force = true;
        break;
      default:
        throw new UsageError(`unknown seed option "${args[i]}"\n${SEED_USAGE}`);
    }
  }
  if (modes.size > 1) throw new UsageError(`choose one of ${[...modes].join(", ")}`);
  a.mode = ([...modes][0] ?? "seed") as SeedArgs["mode"];
  if ((a.key !== undefined || a.execution !== undefined) && a.mode !== "restore") {
    throw new UsageError("--key and --execution go with --restore");
  }
  if ((a.untrusted || a.allowShrink) && a.mode !== "restore") {
    throw new UsageError("--untrusted and --allow-shrink go with --restore");
  }
  if (a.key !== undefined && a.execution !== undefined) {
    throw new UsageError("give --key or --execution, not both");
  }
  return a;
}

/** `cli:<os user>`. */

function printResult(ctx: CliContext, r: SeedResponse, title: string): void {
  ctx.out(`${title} (execution ${r.execution_id})${r.dry_run ? " — DRY RUN, nothing was saved" : ""}`);
  const names = Object.keys(r.results.seeders);
  const w = Math.max(8, ...names.map((n) => n.length));
  ctx.out(`  ${"seeder".padEnd(w)}  ${"status".padEnd(11)} created updated deleted`);
  const row = (name: string, status: string, s: { created: number; updated: number; deleted: number }) =>
    ctx.out(
      `  ${name.padEnd(w)}  ${status.padEnd(11)} ${String(s.created).padStart(7)} ${
        String(s.updated).padStart(7)
      } ${String(s.deleted).padStart(7)}`,
    );
  for (const n of names) row(n, r.results.seeders[n].status, r.results.seeders[n]);
  row("total", "", r.results.total);
  if (r.tables_cleared) ctx.out(`  cleared ${r.tables_cleared.length} application tables`);
  ctx.out(r.backup_created ? `  backup: ${r.backup_s3_key}` : "  backup: none");
  for (const warning of r.warnings) ctx.out(`  warning: ${warning}`);
}

function printList(ctx: CliContext, seeding: SeedingService, a: SeedArgs): void {
  const list = seeding.listSeeders(a.env ?? ctx.config.appEnv, a.scale ?? 0);
  ctx.out(`Seeders in run order (for ${a.env ?? ctx.config.appEnv}; * = runs by default):`);
  const rows = list.map((s) => [
    s.runs_by_default ? "*" : "",
    s.order,
    s.name,
    s.volume ? "with --scale N" : s.demo ? `demo: ${s.environments.join(", ")}` : s.environments.join(", "),
    s.depends_on.join(", ") || "-",
    s.description,
  ]);
  for (
    const line of formatTable(
      ["", { header: "#", right: true }, "SEEDER", "RUNS IN", "DEPENDS ON", "DESCRIPTION"],
      rows,
    )
  ) ctx.out(line);
}

/**
 * Production reset/restore: asks for the database name on a terminal, or
 * needs --force. Returns the confirmation, undefined outside production, or
 * null when the operator did not confirm (the command stops).
 */
async function confirmProduction(ctx: CliContext, a: SeedArgs): Promise<string | undefined | null> {
  if (ctx.config.appEnv !== "production") return undefined;
  const name = databaseName(ctx.db.label);
  if (a.force) return name;
  const what = a.mode === "reset" ? "--reset empties" : "--restore replaces";
  if (!ctx.interactive) {
    throw new UsageError(
      `production: ${what} every tenant's data in database "${name}"; run it on a terminal to be asked, ` +
        "or pass --force (preview first with --dry-run)",
    );
  }
  const answer = await ctx.ask(
    `PRODUCTION: ${what} every tenant's data in database "${name}". Type the database name to continue:`,
  );
  if (answer?.trim() === name) return name;
  ctx.note(`seedbed: not confirmed ("${(answer ?? "").slice(0, 60)}" is not "${name}"); nothing was changed`);
  return null;
}

function printPlan(ctx: CliContext, p: RestorePlan): void {
  ctx.out(`DRY RUN — restore plan for ${p.restore_from} (nothing was changed)`);
  ctx.out(`  trusted by: ${p.trust}; verified: checksum, manifest and every row`);
  ctx.out(`  taken: ${p.created_at ?? "-"}, schema ${p.schema_version ?? "-"}`);
  ctx.out(`  from:  ${p.source ? describeDatabase(p.source) : "- (the manifest does not say)"}`);
  ctx.out(`  into:  ${describeDatabase(p.target)}`);
  const w = Math.max(8, ...Object.keys(p.tables).map((t) => t.length));
  ctx.out(`  ${"table".padEnd(w)}  ${"now".padStart(9)} → ${"after".padStart(9)}`);
  for (const [t, r] of Object.entries(p.tables)) {
    ctx.out(`  ${t.padEnd(w)}  ${String(r.now).padStart(9)} → ${String(r.after).padStart(9)}`);
  }
  ctx.out(
    `  ${"total".padEnd(w)}  ${String(p.total.now).padStart(9)} → ${String(p.total.after).padStart(9)}`,
  );
  for (const warning of p.warnings) ctx.out(`  warning: ${warning}`);
}

/** Runs `seed`; returns the exit code. */
export async function runSeed(ctx: CliContext, args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    ctx.out(SEED_USAGE);
    return 0;
  }
  const a = parseSeedArgs(args);
  if (a.mode === "verify") return await runVerify(ctx, []);
  const { seeding } = await cliDeps(ctx);
  if (a.mode === "list") {
    printList(ctx, seeding, a);
    return 0;
  }
  const triggeredBy = cliActor();
  try {
    const destructive = (a.mode === "restore" || a.mode === "reset") && !a.dryRun;
    const confirm = destructive ? await confirmProduction(ctx, a) : undefined;
    if (confirm === null) return 1;
    if (a.mode === "restore") {
      const request = {
        s3Key: a.key,
        executionId: a.execution,
        trust: a.untrusted ? "untrusted" as const : undefined,
        allowShrink: a.allowShrink,
        confirm,
        triggeredBy,
      };
      if (a.dryRun) {
        const plan = await seeding.planRestore(request);
        if (a.json) ctx.out(JSON.stringify(plan, null, 2));
        else printPlan(ctx, plan);
        return 0;
      }
      const r = await seeding.restore(request);
      if (a.json) ctx.out(JSON.stringify(r, null, 2));
      else {
        ctx.out(`Restored ${r.restored_from} (execution ${r.execution_id})`);
        ctx.out(`  safety backup: ${r.safety_backup_s3_key ?? "none (the database was empty)"}`);
        if (r.trust && r.trust !== "catalog") {
          ctx.out(
            `  trusted by: ${
              r.trust === "signature" ? "its signed manifest" : "nothing (imported as untrusted)"
            }`,
          );
        }
        for (const [table, rows] of Object.entries(r.tables)) ctx.out(`  ${table}: ${rows} rows`);
        for (const warning of r.warnings) ctx.out(`  warning: ${warning}`);
        const changes = r.security_changes_since_backup;
        const sentence = changes ? describeSecurityChanges(changes) : null;
        if (sentence && changes) {
          ctx.note(`Warning: ${sentence}`);
          for (const e of changes.events) ctx.note(`  ${e.at}  ${e.event}  ${e.target ?? ""}`);
        }
      }
      return 0;
    }
    // --scale N: a progress bar (terminal) or a line every few seconds (logs) while the rows go in. It counts
    // the rows the VolumeSeeder writes (its `created`); the total is what a fresh run writes, N per table with
    // a volume factory (a re-run writes only the rows not there yet).
    const progress = a.scale && !a.json
      ? createProgress({
        label: `Volume data (--scale ${a.scale})`,
        total: a.scale * VOLUME_RESOURCES.length,
        terminal: ctx.stderrIsTerminal,
        write: stderrWriter(),
      })
      : undefined;
    const options = {
      progress: progress && ((n: number) => progress.add(n)),
      createBackup: a.backup,
      requireBackup: a.requireBackup,
      dryRun: a.dryRun,
      only: a.only,
      env: a.env,
      scale: a.scale,
      randomSeed: a.randomSeed,
      demo: a.demo,
      triggeredBy,
      announce: (m: string) => ctx.out(m),
      confirm,
    };
    const r = await (a.mode === "reset" ? seeding.reset(options) : seeding.execute(options))
      .finally(() => progress?.done());
    if (a.json) ctx.out(JSON.stringify(r, null, 2));
    else printResult(ctx, r, a.mode === "reset" ? "Reset and seeded" : "Seeded");
    return 0;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    // Bad input (an unknown seeder in --only, a bad option value) is a usage error: exit 2.
    if (err.code === "VALIDATION_ERROR") throw new UsageError(err.message);
    const id = err.extra?.run_execution_id;
    console.error(
      `seedbed: ${err.message} [${err.code}]${
        id !== undefined && !err.message.includes(`execution ${id}`) ? ` (execution ${id})` : ""
      }`,
    );
    return 1;
  }
}
