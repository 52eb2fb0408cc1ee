/**
 * `deno task migrate …`: Alembic's command line in Seedbed's words
 * (docs/migrations.md has the mapping). Every subcommand that changes the
 * database runs under the migrator's lock.
 *
 * Must never break: a down run that would destroy data says what and how
 * much, asks on a terminal, needs --force otherwise, and needs --force in
 * production always; `--backup` takes a backup before anything runs.
 * Story: docs/migrations.md ("Alembic → Seedbed").
 */
import { sql } from "drizzle-orm";
import { awaitReplicas } from "../access/lease.ts";
import { AppError } from "../errors.ts";
import {
  type DownOptions,
  migrate,
  migrateDown,
  MIGRATIONS_TABLE,
  migrationStatus,
  planDown,
  planMigrate,
  type PlannedMigration,
  readMigrations,
  stamp,
  type UpOptions,
} from "../db/migrator.ts";
import { describeLoss, measureLosses } from "../db/migration_safety.ts";
import type { MigrationFile } from "../db/migration_files.ts";
import { cliActor } from "./context.ts";
import { type CliContext, cliDeps, UsageError } from "./context.ts";
import { formatTable } from "./table.ts";
import { deno } from "../deno_command.ts";

export const MIGRATE_USAGE = `usage: deno task migrate [command] [options]
  up [--step N | --to ID] [--sql]     apply pending migrations: all (default), N of them, or up to ID
                                      (also: upgrade, head, +N)
  down [--step N | --to ID | --to base] [--force] [--backup] [--sql]
                                      revert applied migrations, newest first: one (default), N, every
                                      one after ID, or all (also: downgrade, -N). When that drops data
                                      it says what, asks on a terminal and otherwise needs --force
                                      (always in production); --backup backs up first
  current                             the revision the database is at
  status                              every migration: applied / pending / drift, with its SHA-256
  history [--verbose]                 every migration, newest first (--verbose: files, dates, what each does)
  stamp ID|head|base [--reset] [--force]
                                      record the database as being at ID without running anything
                                      (for a schema that is already there; see docs/migrations.md);
                                      --reset first empties the migration history (seed 000's "completely
                                      stuck" recipe): it names the database, asks on a terminal and
                                      otherwise needs --force (always in production)
  ID: a migration's tag (0001_login_throttles), its number (1) or a unique prefix; head; base`;

interface Parsed {
  sub: string;
  step?: number;
  to?: string;
  force: boolean;
  backup: boolean;
  sql: boolean;
  verbose: boolean;
  reset: boolean;
  positional: string[];
}

function stepArg(v: string | undefined, flag: string): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) {
    throw new UsageError(`${flag} needs a whole number of at least 1, got ${v ?? "nothing"}`);
  }
  return Number(v);
}

const ALIASES: Record<string, string> = {
  upgrade: "up",
  head: "up",
  downgrade: "down",
  rollback: "down",
  show: "current",
};

/** Parses `migrate` arguments; throws UsageError naming the bad one. */
export function parseMigrateArgs(args: string[]): Parsed {
  const first = args[0] && !/^[-+]/.test(args[0]) ? args[0] : undefined;
  const sub = first ? ALIASES[first] ?? first : "up";
  const p: Parsed = {
    sub,
    force: false,
    backup: false,
    sql: false,
    verbose: false,
    reset: false,
    positional: [],
  };
  if (first === "head") p.to = "head";
  for (let i = first ? 1 : 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    const value = () => inline ?? args[++i];
    if (flag === "--step" || flag === "-n") p.step = stepArg(value(), "--step");
    else if (flag === "--to") {
      const v = value();
      if (!v || v.startsWith("--")) {
        throw new UsageError("--to needs a revision (a tag, its number, head or base)");
      }
      p.to = v;
    } else if (flag === "--force" || flag === "-f") p.force = true;
    else if (flag === "--backup") p.backup = true;
    else if (flag === "--sql" || flag === "--pretend") p.sql = true;
    else if (flag === "--verbose" || flag === "-v") p.verbose = true;
    else if (flag === "--reset") p.reset = true;
    else if (/^[+-]\d+$/.test(flag)) {
      // Alembic's relative form: `up +1`, `down -1`.
      const sign = flag[0];
      if ((sign === "+") !== (p.sub === "up")) {
        throw new UsageError(`${flag}: use +N with up and -N with down`);
      }
      p.step = stepArg(flag.slice(1), flag);
    } else if (flag.startsWith("-")) {
      throw new UsageError(`unknown migrate option "${args[i]}"\n${MIGRATE_USAGE}`);
    } else p.positional.push(args[i]);
  }
  if (p.step !== undefined && p.to !== undefined) throw new UsageError("give --step or --to, not both");
  // `up ID` / `down ID` / `down base`: Alembic's positional revision.
  if ((p.sub === "up" || p.sub === "down") && p.positional.length) {
    if (p.to !== undefined || p.step !== undefined || p.positional.length > 1) {
      throw new UsageError(`unexpected argument(s) ${p.positional.join(" ")}\n${MIGRATE_USAGE}`);
    }
    p.to = p.positional.shift();
  }
  const allowed: Record<string, (keyof Parsed)[]> = {
    up: ["step", "to", "sql"],
    down: ["step", "to", "force", "backup", "sql"],
    current: [],
    status: [],
    history: ["verbose"],
    stamp: ["reset", "force"],
  };
  const ok = allowed[p.sub];
  if (!ok) throw new UsageError(`unknown migrate command "${p.sub}"\n${MIGRATE_USAGE}`);
  for (const k of ["step", "to", "force", "backup", "sql", "verbose", "reset"] as const) {
    if (p[k] !== undefined && p[k] !== false && !ok.includes(k)) {
      throw new UsageError(`migrate ${p.sub} does not take --${k}\n${MIGRATE_USAGE}`);
    }
  }
  if (p.sub === "stamp" && p.positional.length !== 1) {
    throw new UsageError("migrate stamp needs one revision: a tag, its number, head or base");
  }
  if (p.sub !== "stamp" && p.positional.length) {
    throw new UsageError(`unexpected argument(s) ${p.positional.join(" ")}\n${MIGRATE_USAGE}`);
  }
  return p;
}

/** True when `migrate` with these arguments needs backup storage (S3). */
export function migrateNeedsStorage(args: string[]): boolean {
  return args.includes("--backup");
}

function printSql(ctx: CliContext, steps: PlannedMigration[], direction: string): void {
  if (!steps.length) ctx.out(`-- nothing to ${direction}`);
  for (const s of steps) {
    ctx.out(`-- ${direction} ${s.tag} (${s.path})`);
    for (const st of s.statements) ctx.out(st.trimEnd().endsWith(";") ? st : `${st};`);
  }
}

/**
 * A migration may change what the access layer caches: replicas under an access lease apply it before
 * the command returns. A schema without the lease table (before its migration) has no such replicas.
 */
async function settleReplicas(ctx: CliContext): Promise<void> {
  const leases = await ctx.db.rows(sql`SELECT 1 AS one FROM access_replicas LIMIT 1`).then(
    () => true,
    () => false,
  );
  if (leases) await awaitReplicas(ctx.db, ctx.logger, { fallbackMs: ctx.config.access.leaseMs });
}

async function runUp(ctx: CliContext, p: Parsed): Promise<number> {
  const options: UpOptions = { step: p.step, to: p.to === "head" ? undefined : p.to };
  if (p.sql) {
    printSql(ctx, await planMigrate(ctx.db, undefined, options), "up");
    return 0;
  }
  // An up migration may drop data too (a column drizzle-kit drops): never silently.
  for (const step of await planMigrate(ctx.db, undefined, options)) {
    for (const loss of await measureLosses(ctx.db, step.statements)) {
      ctx.note(ctx.style(`warning: ${step.tag} ${describeLoss(loss)}`, "yellow"));
    }
  }
  const r = await migrate(ctx.db, undefined, options);
  for (const tag of r.applied) ctx.out(`Applied ${tag}`);
  const current = (await migrationStatus(ctx.db)).filter((s) => s.state === "applied").pop()?.tag ?? null;
  if (r.applied.length === 0) {
    ctx.out(
      current === r.head
        ? `Already at head (${r.head ?? "no migrations"}).`
        : `Nothing to apply; at ${current ?? "base"}.`,
    );
  } else ctx.out(current === r.head ? `Now at head (${r.head}).` : `Now at ${current} (head is ${r.head}).`);
  if (r.applied.length) await settleReplicas(ctx);
  return 0;
}

async function confirmLoss(ctx: CliContext, p: Parsed, lines: string[]): Promise<boolean> {
  ctx.note(ctx.style("This down migration destroys data:", "yellow"));
  for (const l of lines) ctx.note(`  - ${l}`);
  if (!p.backup) {
    ctx.note(`Back it up first: add --backup (or run \`${deno("task backup create")}\`).`);
  }
  return await confirmed(ctx, p, {
    production: "Refused: in production a down migration that drops data needs --force.",
    noTerminal: "Refused: no terminal to ask; run again with --force to drop this data.",
  });
}

async function runDown(ctx: CliContext, p: Parsed): Promise<number> {
  const options: DownOptions = { step: p.step, to: p.to };
  const plan = await planDown(ctx.db, undefined, options);
  if (p.sql) {
    printSql(ctx, plan.steps, "down");
    return 0;
  }
  if (!plan.steps.length) {
    ctx.out(`Nothing to revert; at ${plan.target ?? "base"}.`);
    return 0;
  }
  ctx.note(`Reverting ${plan.steps.map((s) => s.tag).join(", ")} → ${plan.target ?? "base"}`);
  if (plan.losses.length) {
    const ok = await confirmLoss(ctx, p, plan.losses.map((l) => `${l.tag}: ${describeLoss(l)}`));
    if (!ok) return 1;
  }
  if (p.backup) {
    const { backups } = await cliDeps(ctx);
    const b = await backups.create({ kind: "manual", createdBy: cliActor() });
    ctx.out(`Backup ${b.id} completed: ${b.s3Key} (restorable at schema ${b.schemaVersion ?? "-"})`);
  }
  const r = await migrateDown(ctx.db, undefined, { ...options, expect: plan.steps.map((s) => s.tag) });
  for (const tag of r.reverted) ctx.out(`Reverted ${tag}`);
  ctx.out(`Now at ${r.current ?? "base"}.`);
  await settleReplicas(ctx);
  return 0;
}

async function runCurrent(ctx: CliContext): Promise<number> {
  const status = await migrationStatus(ctx.db);
  const applied = status.filter((s) => s.state !== "pending");
  const cur = applied.pop();
  const head = status.filter((s) => s.state !== "missing").pop();
  const pending = status.filter((s) => s.state === "pending").length;
  const drift = status.filter((s) => s.state === "drift" || s.state === "missing").length;
  if (!cur) ctx.out(`base (no migration applied; ${pending} pending)`);
  else {
    ctx.out(
      `${cur.tag}${cur.tag === head?.tag ? " (head)" : ` (${pending} pending; head is ${head?.tag})`}${
        drift ? ` — ${drift} drifted: see \`${deno("task migrate status")}\`` : ""
      }`,
    );
  }
  return drift ? 1 : 0;
}

async function runStatus(ctx: CliContext): Promise<number> {
  const status = await migrationStatus(ctx.db);
  const lines = formatTable(
    ["STATE", "MIGRATION", "SHA-256", "APPLIED"],
    status.map((s) => [s.state.toUpperCase(), s.tag, `sha256:${s.hash}`, s.appliedAt?.toISOString() ?? ""]),
  );
  for (const l of lines) ctx.out(l);
  for (const s of status.filter((s) => s.state === "drift")) {
    ctx.out(`${s.tag}: the file changed after it was applied (applied as sha256:${s.appliedHash})`);
  }
  const pending = status.filter((s) => s.state === "pending").length;
  const drift = status.filter((s) => s.state === "drift" || s.state === "missing").length;
  ctx.out(`${status.length - pending - drift} applied, ${pending} pending, ${drift} drifted`);
  return drift ? 1 : 0;
}

async function runHistory(ctx: CliContext, verbose: boolean): Promise<number> {
  const status = await migrationStatus(ctx.db);
  const files = new Map<number, MigrationFile>((await readMigrations(ctx.db)).map((f) => [f.idx, f]));
  const head = [...files.values()].pop()?.tag;
  const current = status.filter((s) => s.state === "applied" || s.state === "drift").pop()?.tag;
  const marks = (tag: string) =>
    [tag === head ? "head" : "", tag === current ? "current" : ""].filter(Boolean).join(", ");
  const rows = [...status].reverse();
  if (!verbose) {
    for (
      const l of formatTable(
        ["MIGRATION", "", "STATE", "APPLIED", "DOWN", "SHA-256"],
        rows.map((s) => [
          s.tag,
          marks(s.tag) ? `(${marks(s.tag)})` : "",
          s.state,
          s.appliedAt?.toISOString() ?? "",
          files.get(s.idx)?.down ? "yes" : "MISSING",
          (s.appliedHash ?? s.hash).slice(0, 12),
        ]),
      )
    ) ctx.out(l);
    return 0;
  }
  for (const s of rows) {
    const f = files.get(s.idx);
    const parent = [...files.values()].filter((x) => x.idx < s.idx).pop()?.tag ?? "base";
    ctx.out(`Rev: ${s.tag}${marks(s.tag) ? ` (${marks(s.tag)})` : ""}`);
    ctx.out(`Parent: ${parent}`);
    ctx.out(`State: ${s.state}${s.appliedAt ? `, applied ${s.appliedAt.toISOString()}` : ""}`);
    if (f) {
      ctx.out(`Created: ${f.createdAt.toISOString()}`);
      ctx.out(`Up: migrations/${f.up.path} (${f.up.statements.length} statements, sha256:${f.hash})`);
      ctx.out(
        f.down
          ? `Down: migrations/${f.down.path} (${f.down.statements.length} statements)`
          : `Down: MISSING (migrations/${f.up.path.replace(/\.sql$/, ".down.sql")})`,
      );
      if (f.up.comment) ctx.out(`    ${f.up.comment}`);
    } else ctx.out("File: missing (applied from a file that is no longer there)");
    if (s.state === "drift") {
      ctx.out(`DRIFT: applied as sha256:${s.appliedHash}, the file is now sha256:${s.hash}`);
    }
    ctx.out("");
  }
  return 0;
}

/** `stamp --reset` empties the migration history: say of which database, and ask as a destructive down does. */
async function confirmReset(ctx: CliContext, p: Parsed): Promise<boolean> {
  const records = (await migrationStatus(ctx.db)).filter((s) => s.state !== "pending").length;
  ctx.note(
    ctx.style(
      `This empties the migration history (${MIGRATIONS_TABLE}, ${records} record(s)) of ${ctx.db.label}, ` +
        `then records ${p.positional[0]} as applied; no schema object or row is touched.`,
      "yellow",
    ),
  );
  return await confirmed(ctx, p, {
    production: "Refused: in production stamp --reset needs --force.",
    noTerminal: "Refused: no terminal to ask; run again with --force.",
  });
}

/** --force, else never in production, else "yes" typed on a terminal (no terminal: refused). */
async function confirmed(
  ctx: CliContext,
  p: Parsed,
  refusals: { production: string; noTerminal: string },
): Promise<boolean> {
  if (p.force) return true;
  if (ctx.config.appEnv === "production") {
    ctx.note(ctx.style(refusals.production, "red"));
    return false;
  }
  const answer = await ctx.ask("Type yes to continue:");
  if (answer === null) {
    ctx.note(ctx.style(refusals.noTerminal, "red"));
    return false;
  }
  if (answer.trim().toLowerCase() !== "yes") {
    ctx.note("Nothing was changed.");
    return false;
  }
  return true;
}

async function runStamp(ctx: CliContext, p: Parsed): Promise<number> {
  const revision = p.positional[0];
  if (p.reset && !(await confirmReset(ctx, p))) return 1;
  const r = await stamp(ctx.db, revision, undefined, { reset: p.reset });
  if (r.cleared) {
    ctx.out(`Emptied the migration history of ${ctx.db.label}: ${r.cleared.length} record(s) removed.`);
  }
  if (r.marked.length) ctx.out(`Recorded as applied (nothing was run): ${r.marked.join(", ")}`);
  if (r.rehashed.length) ctx.out(`Re-recorded with the file's current hash: ${r.rehashed.join(", ")}`);
  if (r.unmarked.length) ctx.out(`Records removed (nothing was run): ${r.unmarked.join(", ")}`);
  ctx.out(`Stamped ${r.after ?? "base"} (was ${r.before ?? "base"}).`);
  return 0;
}

/** Runs a migrate subcommand; returns the process exit code. */
export async function runMigrate(ctx: CliContext, args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    ctx.out(MIGRATE_USAGE);
    return 0;
  }
  const p = parseMigrateArgs(args);
  try {
    switch (p.sub) {
      case "up":
        return await runUp(ctx, p);
      case "down":
        return await runDown(ctx, p);
      case "current":
        return await runCurrent(ctx);
      case "status":
        return await runStatus(ctx);
      case "history":
        return await runHistory(ctx, p.verbose);
      default:
        return await runStamp(ctx, p);
    }
  } catch (err) {
    // A revision the user typed that does not exist is a usage mistake.
    if (err instanceof AppError && err.code === "VALIDATION_ERROR") throw new UsageError(err.message);
    throw err;
  }
}
