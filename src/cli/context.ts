/** Shared setup for CLI commands: config, logger, database. */
import { type Config, ConfigError, loadConfig } from "../config.ts";
import { type Database, openDatabase } from "../db/client.ts";
import { createLogger, type Logger } from "../log.ts";

export interface CliContext {
  config: Config;
  db: Database;
  logger: Logger;
  /** Lines for the user (stdout). */
  out: (line: string) => void;
}

/** Raised for a usage mistake; the CLI prints it and exits 2. */
export class UsageError extends Error {}

/** Loads config from the environment and opens the database. */
export async function openCliContext(
  env: Record<string, string | undefined>,
): Promise<CliContext> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  // CLI logs go to stderr so that stdout stays readable and pipeable.
  const logger = createLogger(
    config.logLevel === "info" ? "warn" : config.logLevel,
    { service: "seedbed-cli" },
    (l) => console.error(l),
  );
  const db = await openDatabase(config.databaseUrl, {
    authToken: config.databaseAuthToken,
  });
  return { config, db, logger, out: (l) => console.log(l) };
}
