/**
 * The composition root: builds every service from config and an open
 * database. `main.ts`, `cli.ts` and tests share it, so all callers reach the
 * database through the same services. Story: docs/architecture.md.
 */
import type { AppDeps } from "./app.ts";
import type { Config } from "./config.ts";
import type { Database } from "./db/client.ts";
import type { Logger } from "./log.ts";
import { AccessService } from "./access/access_service.ts";
import { AuditService } from "./audit/audit.ts";
import { AuthService } from "./auth/auth_service.ts";
import { LoginThrottle } from "./auth/login_throttle.ts";
import { TokenService } from "./auth/tokens.ts";
import type { BackupPort } from "./seeding/backup_port.ts";
import { SeedingService } from "./seeding/seeding_service.ts";
import { FilesService } from "./files/files_service.ts";
import { createPresignClient, createS3Client } from "./storage/s3_client.ts";
import { ObjectStore } from "./storage/object_store.ts";
import { BackupService } from "./backups/backup_service.ts";
import { AuthzenService } from "./authzen/authzen_service.ts";
import { AuthzenSearch } from "./authzen/authzen_search.ts";
import { OrganizationsService } from "./tenants/organizations_service.ts";
import { RolesService } from "./roles/roles_service.ts";
import { UsersService } from "./users/users_service.ts";
import { RecordsService } from "./modules/records_service.ts";
import { RESOURCES } from "./modules/resources.ts";
import { SEEDERS } from "../seeders/mod.ts";
import { ForwardAuth } from "./gateway/forward_auth.ts";
import { ServiceKeyService } from "./gateway/service_keys.ts";
import { Metrics } from "./observability/metrics.ts";
import { meteredLogger } from "./observability/event_metrics.ts";
import { DecisionLog } from "./observability/decision_log.ts";
import { lastSuccessfulBackup } from "./observability/sources.ts";
import { databaseConnections, poolConnections } from "./db/connection_stats.ts";
import { BackupScheduler } from "./backups/backup_schedule.ts";
import { loadRouteTable } from "./gateway/load_routes.ts";
import { encryptionKeys } from "./backups/encryption.ts";
import { Keyring } from "./backups/signing.ts";

export interface BuildOptions {
  config: Config;
  db: Database;
  logger: Logger;
  /** Backups for the seeding service (tests pass a fake; the backups module wires the real one). */
  backupPort?: BackupPort;
  /** Metrics (default: a new registry). */
  metrics?: Metrics;
  /** Add the process collectors (CPU, memory, event loop): servers only (main.ts), not the CLI or tests. */
  processMetrics?: boolean;
}

/** Builds the dependencies `createApp` and the CLI use. */
export async function buildDeps(opts: BuildOptions): Promise<AppDeps> {
  const { config, db, logger } = opts;
  const tokens = await TokenService.create(config);
  // Services whose events are metrics (logins, seeding, backups, restores) log through a metered logger.
  const built: { access?: AccessService } = {};
  const metrics = opts.metrics ?? new Metrics({
    lastSuccessfulBackup: () => lastSuccessfulBackup(db),
    connections: () => databaseConnections(db),
    pool: () => poolConnections(db),
    securityVersion: () => built.access?.cache.version ?? -1,
    poolMax: db.pool?.max,
    lease: () => {
      const lease = built.access?.cache.lease;
      return lease
        ? { valid: lease.version() !== undefined, polls: lease.polls, acks: lease.acks }
        : undefined;
    },
  }, { defaultMetrics: opts.processMetrics ?? false });
  const metered = meteredLogger(logger, metrics);
  const audit = new AuditService(db, metered);
  const access = new AccessService({ config, db, logger, tokens, audit });
  built.access = access;
  access.decisions = new DecisionLog(
    logger,
    metrics,
    config.observability.decisionLog,
    config.observability.decisionLogSample,
  );
  const s3Client = createS3Client(config.s3);
  // Presigned URLs are signed for the host clients use (S3_PUBLIC_ENDPOINT), not the internal one.
  const storage = new ObjectStore(s3Client, config.s3, createPresignClient(config.s3, s3Client));
  const backups = new BackupService({
    db,
    store: storage,
    logger: metered,
    retention: config.backups,
    keyring: Keyring.fromConfig(config.backups, config.auth.secretKey),
    encryption: encryptionKeys(config.backups.encryptionKey, config.backups.encryptionKeysPrevious),
    maxRowBytes: config.backups.maxRowBytes,
  });
  // Seeding backs up through the backups module whenever S3 is reachable in principle: an endpoint is set
  // (MinIO, the embedded server that `deno task dev` starts) or real AWS is meant. Otherwise (tests without
  // S3) seeding reports "no backup storage is configured".
  const storageConfigured = Boolean(config.s3.endpoint) || !config.s3.embedded;
  const auth = new AuthService({ db, tokens, access, audit, throttle: new LoginThrottle(db) });
  const authzen = new AuthzenService(db, access);
  const security = { db, audit, access };
  const serviceKeys = new ServiceKeyService({ db, access, audit });
  return {
    config,
    db,
    logger,
    access,
    audit,
    auth,
    seeding: new SeedingService({
      config,
      db,
      logger: metered,
      audit,
      seeders: SEEDERS,
      backupPort: opts.backupPort ?? (storageConfigured ? backups : undefined),
    }),
    // One records service per module resource, keyed by its table (`crmLeads`), in registry order.
    records: new Map(RESOURCES.map((def) => [def.table, new RecordsService(db, def, access)])),
    files: new FilesService(db, storage, { maxUploadBytes: config.http.maxUploadBytes }, logger),
    storage,
    backups,
    organizations: new OrganizationsService(security),
    users: new UsersService(security),
    roles: new RolesService(security),
    authzen,
    authzenSearch: new AuthzenSearch(db, authzen),
    serviceKeys,
    metrics,
    // BACKUP_SCHEDULE: built here, started by main.ts (servers only; the CLI never schedules).
    backupScheduler: config.backups.schedule
      ? new BackupScheduler({
        db,
        backups,
        logger: metered,
        metrics,
        expression: config.backups.schedule,
        timezone: config.backups.scheduleTimezone,
      })
      : undefined,
    forwardAuth: new ForwardAuth({
      access,
      audit,
      serviceKeys,
      requireKey: config.gateway.requireKey,
      identityToken: config.gateway.identityToken,
      routes: await loadRouteTable(config.gateway.routesFile),
      dialect: config.gateway.dialect,
    }),
  };
}
