/**
 * Service entry point: load config → open database → migrate → build deps →
 * serve. SIGTERM/SIGINT stop accepting, let in-flight requests finish
 * (bounded by SHUTDOWN_TIMEOUT_SECONDS), close the database and exit 0.
 * `deno task dev` runs it under scripts/dev.ts, which restarts it on changes.
 * Story: docs/deploying.md.
 */
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { EnvFileError, withEnvFile } from "./env_file.ts";
import { dialectName, openDatabase } from "./db/client.ts";
import { migrate } from "./db/migrator.ts";
import { awaitReplicas } from "./access/lease.ts";
import { createLogger, type Logger, logPersonalData, printErr } from "./log.ts";
import { createApp } from "./app.ts";
import { metricsHandler } from "./observability/metrics_routes.ts";
import type { Metrics } from "./observability/metrics.ts";
import { buildDeps } from "./deps.ts";
import { createDrainer } from "./http/drain.ts";
import { startIdleCollector } from "./observability/idle_gc.ts";
import { withEmbeddedS3 } from "./storage/embedded_s3.ts";
import { startBackupSweeper } from "./backups/sweep.ts";
import { seedAtStartup } from "../seeders/startup.ts";
import { AppError } from "./errors.ts";
import { translateDbError } from "./db/errors.ts";
import type { Database } from "./db/client.ts";

/** Fails fast, before migrating and seeding, when the port is taken. */
function assertPortFree(hostname: string, port: number): void {
  if (port === 0) return;
  try {
    Deno.listen({ hostname, port }).close();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new AppError(
        "SERVICE_UNAVAILABLE",
        `port ${port} on ${hostname} is already in use: stop the other process or set PORT`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new AppError(
        "SERVICE_UNAVAILABLE",
        `not allowed to listen on ${hostname}:${port}: choose another PORT`,
      );
    }
    throw err;
  }
}

async function main(): Promise<number> {
  let config;
  // Where DATABASE_URL came from, for the person at the terminal (newcomer finding 8).
  let databaseFrom = "the default";
  try {
    // The environment, then `.env` in the working directory beneath it (real variables win).
    const loaded = await withEnvFile(Deno.env.toObject());
    if (Deno.env.get("DATABASE_URL") !== undefined) databaseFrom = "DATABASE_URL in the environment";
    else if (loaded.env.DATABASE_URL !== undefined) databaseFrom = "DATABASE_URL in .env";
    config = loadConfig(loaded.env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof EnvFileError) {
      console.error(`seedbed: ${err.message}`);
      return 1;
    }
    throw err;
  }
  logPersonalData(config.logPersonalData);
  const logger = createLogger(config.logLevel, { service: "seedbed" });
  if (config.logPersonalData) {
    logger.warn("log_personal_data_on", { detail: "LOG_PERSONAL_DATA=true: logs may hold personal data" });
  }
  if (config.appEnv === "production" && !config.http.publicUrl) {
    logger.warn("public_url_unset", {
      detail:
        "PUBLIC_URL is not set: the AuthZEN metadata names the request's own origin (not cached); set it to the URL PEPs use",
    });
  }
  if (config.appEnv === "production" && !config.backups.encryptionKey) {
    logger.warn("backup_encryption_off", {
      detail:
        "BACKUP_ENCRYPTION_KEY is not set: backups (password hashes, every tenant's data) are stored unencrypted, signed only",
    });
  }
  if (config.auth.secretGenerated) {
    logger.warn("secret_key_generated", {
      detail:
        "SECRET_KEY is not set: a random key was generated for this process; tokens will not survive a restart",
    });
  }
  let db: Database | undefined;
  let embeddedS3: Awaited<ReturnType<typeof withEmbeddedS3>> | undefined;
  let served = false;
  const shutdown = { timedOut: false };
  try {
    assertPortFree(config.http.host, config.http.port);
    db = await openDatabase(config.databaseUrl, {
      authToken: config.databaseAuthToken,
      timeouts: config.database,
    });
    logger.info("database_opened", { database: db.label, dialect: db.dialect });
    // Say which database development runs on (`deno task dev` with a .env is not the in-memory one); the
    // label never holds credentials.
    if (config.appEnv !== "production") {
      printErr(`Database: ${db.label} (${dialectName(db.dialect)}; ${databaseFrom})`);
    }
    const result = await migrate(db);
    logger.info("migrations_applied", { applied: result.applied, head: result.head });
    // As `deno task migrate` does: replicas under an access lease apply what a migration changed first.
    if (result.applied.length) await awaitReplicas(db, logger, { fallbackMs: config.access.leaseMs });
    // Development without S3_ENDPOINT: an embedded S3 server (logged as embedded_s3_started).
    embeddedS3 = await withEmbeddedS3(config, logger);
    config = embeddedS3.config;
    if (config.s3.embedded) {
      printErr(
        `Embedded S3 at ${config.s3.endpoint} (bucket "${config.s3.bucket}", data in ${config.s3.embeddedDir})`,
      );
    }
    await serve(config, db, logger, shutdown);
    served = true;
    return 0;
  } catch (err) {
    const e = translateDbError(err);
    const message = e instanceof AppError
      ? `${e.message} [${e.code}]`
      : e instanceof Error
      ? e.stack ?? e.message
      : String(e);
    logger.error("startup_failed", { error: e instanceof AppError ? e.message : String(e) });
    printErr(`seedbed: startup failed: ${message}`);
    return 1;
  } finally {
    // After a timed-out drain the budget is spent: cut what is still running (the server rolls it back).
    await db?.close(shutdown.timedOut ? 0 : 5).catch(() => {});
    await embeddedS3?.close().catch(() => {});
    if (served) logger.info("shutdown_completed");
  }
}

/** Seeds (outside production), serves, and returns once the server has stopped after SIGTERM/SIGINT. */
async function serve(
  config: Config,
  db: Database,
  logger: Logger,
  shutdown: { timedOut: boolean },
): Promise<void> {
  const deps = await buildDeps({ config, db, logger, processMetrics: true });
  // Development and test: core + demo seeders, then the credentials (never in production). What seeding
  // prints for the person at the terminal waits until the server listens: the banner comes last.
  const banner: string[] = [];
  if (!(await seedAtStartup(deps.seeding, config, logger, (text) => banner.push(text)))) {
    for (const text of banner) printErr(text);
    throw new AppError("SEEDING_FAILED", "seeding at startup failed (see the seeding_failed log line)");
  }
  const app = createApp(deps);
  // ACCESS_FRESHNESS=lease: this process takes part as a replica while it serves.
  await deps.access.startLease();
  const metricsServer = serveMetrics(config, logger, deps.metrics);
  // Backups left pending, and their multipart uploads, by a process that died (src/backups/sweep.ts).
  const sweeper = startBackupSweeper({
    db,
    store: deps.storage,
    logger,
    staleAfterMs: config.backupSweep.staleMinutes * 60_000,
    everyMs: config.backupSweep.intervalMinutes * 60_000,
  });
  // BACKUP_SCHEDULE: one replica per slot (src/backups/backup_schedule.ts).
  await deps.backupScheduler?.start();
  try {
    await listen(config, logger, app, shutdown, banner);
  } finally {
    await deps.backupScheduler?.stop(config.http.shutdownTimeoutSeconds * 1000);
    sweeper.stop();
    await metricsServer?.stop();
    await deps.access.stopLease();
    // Audit events deferred by a database outage: one last attempt, then say what is lost.
    await deps.audit.flush();
    deps.audit.close();
  }
}

/** METRICS_PORT: `/metrics` on a port of its own (the token, when set, is required there too). */
function serveMetrics(config: Config, logger: Logger, metrics: Metrics) {
  const { metricsPort, metricsHost, metricsToken } = config.observability;
  if (metricsPort === undefined) return undefined;
  const controller = new AbortController();
  const handler = metricsHandler(metrics, metricsToken);
  const server = Deno.serve(
    {
      port: metricsPort,
      hostname: metricsHost,
      signal: controller.signal,
      onListen: ({ hostname, port }) =>
        logger.info("metrics_listening", { url: `http://${hostname}:${port}/metrics` }),
    },
    (req) =>
      new URL(req.url).pathname === "/metrics" ? handler(req) : new Response("not found", { status: 404 }),
  );
  return {
    stop: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

/** Serves `app` until SIGTERM/SIGINT, draining requests in flight. */
async function listen(
  config: Config,
  logger: Logger,
  app: { fetch: (req: Request) => Response | Promise<Response> },
  shutdown: { timedOut: boolean },
  banner: string[] = [],
) {
  const controller = new AbortController();
  const drainer = createDrainer();
  // Declared before the signal handlers that stop it, assigned once when serving starts.
  // deno-lint-ignore prefer-const
  let server: Deno.HttpServer | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutdown_started", { signal });
    const budgetMs = config.http.shutdownTimeoutSeconds * 1000;
    // Finish what is in flight (bounded), refusing new work with 503; then close.
    drainer.drain(budgetMs).then((drained) => {
      if (!drained) {
        shutdown.timedOut = true;
        logger.warn("shutdown_timeout", {
          seconds: config.http.shutdownTimeoutSeconds,
          in_flight: drainer.inFlight,
        });
        controller.abort();
        return;
      }
      const timeout = setTimeout(() => controller.abort(), 2000);
      server!.shutdown().finally(() => clearTimeout(timeout));
    });
  };
  for (const s of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(s, () => stop(s));

  // Listening is announced only once a SIGTERM would be a graceful stop (not the default kill).
  server = Deno.serve({
    port: config.http.port,
    hostname: config.http.host,
    signal: controller.signal,
    onListen: ({ hostname, port }) => {
      const shown = hostname === "0.0.0.0" ? "localhost" : hostname;
      logger.info("listening", {
        url: `http://${shown}:${port}`,
        environment: config.appEnv,
      });
      if (config.appEnv !== "production") printErr(`Seedbed listening on http://${shown}:${port}`);
      for (const text of banner.splice(0)) printErr(text);
    },
  }, drainer.wrap(app.fetch));
  // After a busy spell, give the heap the load grew back (src/observability/idle_gc.ts; needs --expose-gc).
  const idle = startIdleCollector({
    started: () => drainer.started,
    inFlight: () => drainer.inFlight,
    onCollect: (ms) => logger.debug("idle_gc", { duration_ms: Math.round(ms) }),
  });

  await server.finished;
  idle.stop();
}

/** Whether stdin is a dev supervisor's lifeline: never in production, whatever the environment says. */
export function followsSupervisor(env: Record<string, string | undefined>): boolean {
  return env.SEEDBED_DEV_LIFELINE === "1" && env.APP_ENV !== "production";
}

/**
 * Under `deno task dev` (scripts/dev.ts sets SEEDBED_DEV_LIFELINE=1) the supervisor holds this process's
 * stdin and never writes: its end closes it, even when the supervisor is killed outright, and the server
 * stops as on SIGTERM instead of living on with old code on the port.
 */
function followSupervisor(): void {
  if (!followsSupervisor(Deno.env.toObject())) return;
  (async () => {
    for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
    Deno.kill(Deno.pid, "SIGTERM");
  })();
}

if (import.meta.main) {
  followSupervisor();
  Deno.exit(await main());
}
