/**
 * The seeding service's options, inputs and results (re-exported by `service.ts`). Story: docs/seeding.md.
 */
import type { AppEnv, Config } from "../config.ts";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { BackupPort } from "./backup_port.ts";
import type { SeederDefinition, SeederOutcome, SeedStats } from "./types.ts";
import type { Paths } from "../paths.ts";

/** Where runs are audited (the AuditService fits). */
export interface SeedingAudit {
  recordSafely(e: {
    event: string;
    actorUserId?: number | null;
    target?: string | null;
    requestId?: string | null;
    details?: Record<string, unknown>;
  }): Promise<void>;
}

export interface SeedingServiceOptions {
  db: Database;
  config: Config;
  logger: Logger;
  /** Audit trail: every run that starts is recorded as `seeders.<kind>` with its outcome. */
  audit?: SeedingAudit;
  /** Backups and restore (the backups module); absent: backups are skipped with a warning. */
  backupPort?: BackupPort;
  /** The seeder registry, handed in by `src/deps.ts` (`seeders/mod.ts`); the engine never imports its content. */
  seeders: SeederDefinition[];
  /** Password hasher (default: argon2id from `src/auth/passwords.ts`). */
  hashPassword?: (plain: string) => Promise<string>;
  /** Where operator-only messages (a generated password) go (default: stderr). */
  announce?: (message: string) => void;
  /** Lock lease length in ms (default 10 minutes; renewed every third of it). */
  leaseMs?: number;
  /** "generic": bulk inserts use Drizzle's query builder instead of the fast path (tests compare the two). */
  paths?: Paths;
}

export interface ExecuteOptions {
  /** Back up through the BackupPort first (default true). */
  createBackup?: boolean;
  /** Fail (BACKUP_FAILED) instead of continuing with a warning when the backup fails. */
  requireBackup?: boolean;
  /** Run everything, report the counts, roll back. */
  dryRun?: boolean;
  /** Only these seeders (and their dependencies). */
  only?: string[];
  /** Environment to seed for (default: APP_ENV). */
  env?: AppEnv;
  /** Rows per module table of volume data (default 0). */
  scale?: number;
  /** Seed of the deterministic generator (default 1). */
  randomSeed?: number;
  /** Force demo seeders on or off (default: on in development and test, or SEED_DEMO). */
  demo?: boolean;
  /** `cli:<os user>`, `user:<id>`, `startup`. */
  triggeredBy: string;
  triggeredByUserId?: number | null;
  /** The HTTP request that asked for the run (audit). */
  requestId?: string;
  /** Overrides the service's `announce` for this run. */
  announce?: (message: string) => void;
  /** Called with the rows each bulk insert of a volume seeder writes (the CLI's progress for `--scale`). */
  progress?: (rows: number) => void;
  /** Production reset: the database name, as confirmation (src/seeding/confirm.ts). */
  confirm?: string;
}

/** Seed 002's response, plus `execution_id` and `warnings`. */
export interface SeedResponse {
  success: true;
  backup_created: boolean;
  backup_s3_key: string | null;
  results: { seeders: Record<string, SeederOutcome>; total: SeedStats };
  execution_id: number;
  warnings: string[];
  /** Present (true) on a dry run only. */
  dry_run?: true;
  /** Present on a reset only: the tables that were emptied. */
  tables_cleared?: string[];
  /** Present (true) on a reset that committed: every token issued before it is refused, the caller's too. */
  sessions_revoked?: true;
}

export interface RestoreRequest {
  s3Key?: string;
  executionId?: number;
  /** "untrusted": import an object neither catalogued nor signed (audited; still verified row by row). */
  trust?: "untrusted";
  /** Restore even when the backup holds (almost) nothing and the database does not. */
  allowShrink?: boolean;
  /** Production: the database name, as confirmation (src/seeding/confirm.ts). */
  confirm?: string;
  triggeredBy: string;
  triggeredByUserId?: number | null;
  requestId?: string;
}
