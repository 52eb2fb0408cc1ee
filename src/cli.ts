/**
 * The command line: `deno task <command>` (docs/cli.md).
 *   migrate [up|down|current|status|history|stamp]
 *   seed [--list | --only … | --dry-run | --reset | --restore …]
 *   verify
 *   backup [create|list|show ID|verify KEY|prune]
 *   new module <name> --field … | new seeder <Name>
 * Configuration: the environment, then `.env` in the working directory (real variables win).
 * Exit codes: 0 success, 1 failure, 2 usage error (a bad option, argument or configuration).
 *
 * Story: docs/cli.md.
 */
import { type CliOptions, openCliContext, UsageError } from "./cli/context.ts";
import { MIGRATE_USAGE, migrateNeedsStorage, runMigrate } from "./cli/migrate_command.ts";
import { EnvFileError, withEnvFile } from "./env_file.ts";
import { runSeed, SEED_USAGE } from "./cli/seed_command.ts";
import { runVerify, VERIFY_USAGE } from "./cli/verify_command.ts";
import { BACKUP_USAGE, runBackup } from "./cli/backup_command.ts";
import { NEW_USAGE, runNew } from "./cli/new_command.ts";
import { withEmbeddedS3 } from "./storage/embedded_s3.ts";
import { AppError } from "./errors.ts";
import { translateDbError } from "./db/errors.ts";

const USAGE = `usage: seedbed [--log-json] <command> [options]
commands:
  migrate [up|down|current|status|history|stamp]
  seed [options]
  verify
  backup [create|list|show ID|verify KEY|prune]
  new module <name> --field name:type … | new seeder <Name>
Configuration comes from the environment, then from .env in this directory (real variables win).
--log-json: log lines as JSON on stderr (also with LOG_LEVEL=debug). Exit codes: 0 ok, 1 failed, 2 usage error.

${MIGRATE_USAGE}

${SEED_USAGE}

${VERIFY_USAGE}

${BACKUP_USAGE}

${NEW_USAGE}`;

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
const NEEDS_STORAGE: Record<string, (args: string[]) => boolean> = {
  seed: () => true,
  backup: () => true,
  migrate: migrateNeedsStorage,
};

/** Runs the CLI with `args`; returns the exit code. `options` lets tests stand in for a terminal. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  options: CliOptions = {},
): Promise<number> {
  const logJson = argv.includes("--log-json") || options.logJson;
  const args = argv.filter((a) => a !== "--log-json");
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  if (name === "new") {
    // Writes files only: no configuration, database or storage.
    try {
      return await runNew(rest, Deno.cwd());
    } catch (err) {
      return report(err);
    }
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`seedbed: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  let ctx;
  try {
    ctx = await openCliContext(env, { ...options, logJson });
  } catch (err) {
    return report(err);
  }
  let closeStorage = () => Promise.resolve();
  try {
    if (NEEDS_STORAGE[name]?.(rest)) {
      const s3 = await withEmbeddedS3(ctx.config, ctx.logger);
      if (s3.config !== ctx.config && s3.config.s3.embedded) {
        // As `deno task dev` says it (docs/backups.md): which S3 the command uses, on stderr.
        const c = s3.config.s3;
        ctx.note(
          ctx.style(`Embedded S3 at ${c.endpoint} (bucket "${c.bucket}", data in ${c.embeddedDir})`, "dim"),
        );
      }
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
  if (err instanceof UsageError || err instanceof EnvFileError) {
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

/** The process environment with `.env` beneath it (exit 2 on a malformed file). */
async function environment(): Promise<Record<string, string | undefined> | null> {
  try {
    return (await withEnvFile(Deno.env.toObject())).env;
  } catch (err) {
    if (err instanceof EnvFileError) {
      console.error(`seedbed: ${err.message}`);
      return null;
    }
    throw err;
  }
}

if (import.meta.main) {
  const env = await environment();
  Deno.exit(env ? await runCli(Deno.args, env) : 2);
}
