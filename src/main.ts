/**
 * Service entry point: load config → open database → migrate → build deps →
 * serve. SIGTERM/SIGINT stop accepting, let in-flight requests finish
 * (bounded by SHUTDOWN_TIMEOUT_SECONDS), close the database and exit 0.
 */
import { ConfigError, loadConfig } from "./config.ts";
import { openDatabase } from "./db/client.ts";
import { migrate } from "./db/migrator.ts";
import { createLogger } from "./log.ts";
import { createApp } from "./app.ts";
import { buildDeps } from "./deps.ts";
import { createDrainer } from "./http/drain.ts";
import { withEmbeddedS3 } from "./storage/embedded_s3.ts";
import { seedAtStartup } from "./seeding/startup.ts";

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`seedbed: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, { service: "seedbed" });
  if (config.auth.secretGenerated) {
    logger.warn("secret_key_generated", {
      detail:
        "SECRET_KEY is not set: a random key was generated for this process; tokens will not survive a restart",
    });
  }
  const db = await openDatabase(config.databaseUrl, {
    authToken: config.databaseAuthToken,
  });
  logger.info("database_opened", { database: db.label, dialect: db.dialect });
  const result = await migrate(db);
  logger.info("migrations_applied", {
    applied: result.applied,
    head: result.head,
  });

  // Development without S3_ENDPOINT: an embedded S3 server (logged as embedded_s3_started).
  const embeddedS3 = await withEmbeddedS3(config, logger);
  config = embeddedS3.config;
  if (config.s3.embedded) {
    console.error(
      `Embedded S3 at ${config.s3.endpoint} (bucket "${config.s3.bucket}", data in ${config.s3.embeddedDir})`,
    );
  }

  const deps = await buildDeps({ config, db, logger });
  // Development and test: core + demo seeders, then the credentials (never in production).
  if (!(await seedAtStartup(deps.seeding, config, logger))) {
    await embeddedS3.close();
    await db.close();
    return 1;
  }
  const app = createApp(deps);

  const controller = new AbortController();
  const drainer = createDrainer();
  const server = Deno.serve({
    port: config.http.port,
    hostname: config.http.host,
    signal: controller.signal,
    onListen: ({ hostname, port }) => {
      const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
      logger.info("listening", {
        url: `http://${shown}:${port}`,
        environment: config.appEnv,
      });
      if (config.appEnv !== "production") {
        console.error(`Seedbed listening on http://${shown}:${port}`);
      }
    },
  }, drainer.wrap(app.fetch));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutdown_started", { signal });
    const budgetMs = config.http.shutdownTimeoutSeconds * 1000;
    // Finish what is in flight (bounded), refusing new work with 503; then close.
    drainer.drain(budgetMs).then((drained) => {
      if (!drained) {
        logger.warn("shutdown_timeout", {
          seconds: config.http.shutdownTimeoutSeconds,
          in_flight: drainer.inFlight,
        });
        controller.abort();
        return;
      }
      const timeout = setTimeout(() => controller.abort(), 2000);
      server.shutdown().finally(() => clearTimeout(timeout));
    });
  };
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));

  await server.finished;
  await db.close();
  await embeddedS3.close();
  logger.info("shutdown_completed");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
