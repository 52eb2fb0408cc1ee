/**
 * The command line: `deno task <command>` (see docs/cli.md).
 *   migrate [up|status|history|down]
 *   seed [--list | --only … | --dry-run | --reset | --restore …]
 *   verify
 *   backup [create|list|show ID|verify KEY|prune]
 */
import { openCliContext, UsageError } from "./cli/context.ts";
import { MIGRATE_USAGE, runMigrate } from "./cli/migrate_command.ts";
import { runSeed, SEED_USAGE } from "./cli/seed_command.ts";
import { runVerify, VERIFY_USAGE } from "./cli/verify_command.ts";
import { BACKUP_USAGE, runBackup } from "./cli/backup_command.ts";
import { withEmbeddedS3 } from "./storage/embedded_s3.ts";
import { AppError } from "./errors.ts";
import { translateDbError } from "./db/errors.ts";

const USAGE = `usage: seedbed <command> [options]
commands:
  migrate [up|status|history|down]
  seed [options]
  verify
  backup [create|list|show ID|verify KEY|prune]

${MIGRATE_USAGE}

${SEED_USAGE}

${VERIFY_USAGE}

${BACKUP_USAGE}`;

type Command = (
  ctx: Awaited<ReturnType<typeof openCliContext>>,
  args: string[],
) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  migrate: runMigrate,
  seed: runSeed,
  verify: runVerify,
  backup: runBackup,
};

/** Commands that reach S3: in development without S3_ENDPOINT they get the embedded server. */
const NEEDS_STORAGE = new Set(["seed", "backup"]);

/** Runs the CLI with `args`; returns the exit code. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`seedbed: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  let ctx;
  try {
    ctx = await openCliContext(env);
  } catch (err) {
    return report(err);
  }
  let closeStorage = () => Promise.resolve();
  try {
    if (NEEDS_STORAGE.has(name)) {
      const s3 = await withEmbeddedS3(ctx.config, ctx.logger);
      ctx = { ...ctx, config: s3.config };
      closeStorage = s3.close;
    }
    return await command(ctx, rest);
  } catch (err) {
    return report(err);
  } finally {
    await ctx.db.close();
    await closeStorage();
  }
}

function report(err: unknown): number {
  if (err instanceof UsageError) {
    console.error(`seedbed: ${err.message}`);
    return 2;
  }
  const e = translateDbError(err);
  if (e instanceof AppError) {
    console.error(`seedbed: ${e.message} [${e.code}]`);
    return 1;
  }
  console.error(
    `seedbed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`,
  );
  return 1;
}

if (import.meta.main) Deno.exit(await runCli(Deno.args, Deno.env.toObject()));
