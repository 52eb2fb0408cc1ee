/**
 * The seeding service: the one entry point the CLI, the HTTP routes and
 * `deno task dev` use to seed, reset, restore and read the history.
 *
 * A run: check the lock (cheap read) → record the execution (`pending`) →
 * take the lease → `running` → backup through the BackupPort (optional,
 * before any change) → all seeders in one transaction → `completed` or
 * `failed` (written outside the transaction, so it survives the rollback) →
 * release the lease. Story: docs/seeding.md ("How the engine works").
 */
import { awaitReplicas } from "../access/lease.ts";
import { APP_ENVS, type AppEnv } from "../config.ts";
import { migrate } from "../db/migrator.ts";
import { AppError, notFound, validation } from "../errors.ts";
import { printErr } from "../log.ts";
import { hashPassword as argon2Hash } from "../auth/passwords.ts";
import type { RestoreOutcome, RestorePlan } from "./backup_port.ts";
import { requireConfirmation } from "./confirm.ts";
import { backupBeforeRun } from "./backup_step.ts";
import {
  type ExecutionJson,
  executionJson,
  type ExecutionKind,
  ExecutionsRepository,
} from "./executions_repo.ts";
import { describeFailure, failureError } from "./failure.ts";
import { assertLockFree, reconcileAbandoned, SeedingLease } from "./lock.ts";
import { orderSeeders, planSeeders, selectedByDefault } from "./plan.ts";
import { runPlan } from "./runner.ts";
import type { SeederDefinition } from "./types.ts";
import { clearApplicationData } from "./wipe.ts";
import { bumpTokenEpoch, SESSIONS_REVOKED_WARNING } from "../auth/revocation.ts";
import type {
  ExecuteOptions,
  RestoreRequest,
  SeedingAudit,
  SeedingServiceOptions,
  SeedResponse,
} from "./service_types.ts";

export type { ExecuteOptions, RestoreRequest, SeedingAudit, SeedingServiceOptions, SeedResponse };

const MAX_SCALE = 1_000_000;

const unfinished = (r: { status: string }) => r.status === "running" || r.status === "pending";
/**
 * A dry run rolls back, so a password "shown once" was never set: say what
 * would happen, never print the password (issue 12, finding 6).
 */
function rolledBackAnnouncements(announce: (m: string) => void): (m: string) => void {
  return (m) => {
    const first = m.split("\n")[0].replace(/\s*\(shown once[^)]*\)/, "").replace(/:\s*$/, "");
    const secret = /shown once/.test(m);
    announce(
      `${first}${
        secret
          ? " — DRY RUN: rolled back, so no password was set and none is shown"
          : " (dry run: rolled back)"
      }`,
    );
  };
}

export class SeedingService {
  readonly executions: ExecutionsRepository;
  readonly #o: SeedingServiceOptions;
  readonly #seeders: SeederDefinition[];

  constructor(options: SeedingServiceOptions) {
    this.#o = options;
    this.#seeders = options.seeders;
    this.executions = new ExecutionsRepository(options.db);
  }

  /** True when a BackupPort is wired (backups and restore are available). */
  get hasBackups(): boolean {
    return this.#o.backupPort !== undefined;
  }

  /** The registry in run order, with whether each runs by default for `env`. */
  listSeeders(env: AppEnv = this.#o.config.appEnv, scale = 0) {
    const demo = this.#demoDefault(env);
    return orderSeeders(this.#seeders).map((s, i) => ({
      order: i + 1,
      name: s.name,
      description: s.description,
      depends_on: s.dependsOn ?? [],
      environments: [...s.environments],
      demo: s.demo ?? false,
      volume: s.volume ?? false,
      runs_by_default: selectedByDefault(s, { env, demo, scale }),
    }));
  }

  /** Runs the seeders (see ExecuteOptions). Throws AppError with `execution_id` on failure. */
  execute(o: ExecuteOptions): Promise<SeedResponse> {
    return this.#run("execute", o);
  }

  /**
   * Backs up (unless `createBackup: false`), applies pending migrations,
   * then in ONE transaction empties every application table and seeds again.
   * The execution history and backup catalog are kept. A reset destroys
   * data, so a failed backup stops it (nothing is wiped) in every
   * environment, unless the caller says otherwise: `createBackup: false`
   * (no backup at all) or `requireBackup: false` (wipe even if it fails).
   */
  reset(o: ExecuteOptions): Promise<SeedResponse> {
    return this.#run("reset", { ...o, requireBackup: o.requireBackup ?? true });
  }

  /** Restores a backup through the BackupPort under the seeding lock, recorded as a `restore` execution. */
  async restore(
    input: RestoreRequest,
  ): Promise<RestoreOutcome & { execution_id: number; sessions_revoked: true; warnings: string[] }> {
    const port = this.#o.backupPort;
    if (!port) {
      throw new AppError(
        "NOT_IMPLEMENTED",
        "restore is not available: no backup storage is configured (the backups module is not wired in)",
      );
    }
    if (input.s3Key !== undefined && input.executionId !== undefined) {
      throw validation("give s3_key or execution_id, not both", {
        errors: [{ field: "s3_key", message: "cannot be combined with execution_id" }],
      });
    }
    const { db, logger } = this.#o;
    requireConfirmation({
      production: this.#o.config.appEnv === "production",
      label: db.label,
      confirm: input.confirm,
      what: "a restore",
    });
    await assertLockFree(db);
    const exec = await this.executions.create({
      kind: "restore",
      triggeredBy: input.triggeredBy,
      triggeredByUserId: input.triggeredByUserId,
      environment: this.#o.config.appEnv,
      dryRun: false,
      options: {
        s3_key: input.s3Key ?? null,
        execution_id: input.executionId ?? null,
        ...(input.trust ? { trust: input.trust } : {}),
        ...(input.allowShrink ? { allow_shrink: true } : {}),
      },
    });
    const lease = await this.#lease(exec.id, input.triggeredBy);
    let startedAt: Date | null = null;
    try {
      startedAt = await this.executions.markRunning(exec.id);
      const { confirm: _confirm, ...request } = input;
      const outcome = await port.restore({ ...request, restoreExecutionId: exec.id });
      await this.executions.complete(exec.id, startedAt, {
        results: { ...outcome },
        backupCreated: outcome.safety_backup_s3_key !== null,
        backupS3Key: outcome.safety_backup_s3_key,
        warnings: [],
      });
      await this.#audit("restore", input, {
        execution_id: exec.id,
        status: "completed",
        restored_from: outcome.restored_from,
        safety_backup_s3_key: outcome.safety_backup_s3_key,
        trust: outcome.trust ?? null,
      });
      // The restore moved the token epoch on (src/backups/restore.ts): the caller's token is refused too.
      return {
        ...outcome,
        execution_id: exec.id,
        sessions_revoked: true,
        warnings: [SESSIONS_REVOKED_WARNING],
      };
    } catch (err) {
      await this.#recordFailure(exec.id, startedAt, err, {});
      await this.#audit("restore", input, {
        execution_id: exec.id,
        status: "failed",
        error: describeFailure(err).message,
        ...(input.trust ? { trust: input.trust } : {}),
      });
      logger.error("seeding_restore_failed", { execution_id: exec.id, error: describeFailure(err).message });
      throw failureError(err, exec.id);
    } finally {
      await lease.release();
      await this.#propagated();
    }
  }

  /**
   * What `restore(input)` would do, table by table (rows now → rows after),
   * after verifying the object in full; nothing is touched, no lock is taken
   * and no execution is recorded. Production needs no confirmation for it.
   */
  async planRestore(input: RestoreRequest): Promise<RestorePlan> {
    const port = this.#o.backupPort;
    if (!port?.plan) {
      throw new AppError(
        "NOT_IMPLEMENTED",
        "restore is not available: no backup storage is configured (the backups module is not wired in)",
      );
    }
    if (input.s3Key !== undefined && input.executionId !== undefined) {
      throw validation("give s3_key or execution_id, not both", {
        errors: [{ field: "s3_key", message: "cannot be combined with execution_id" }],
      });
    }
    const { confirm: _confirm, ...request } = input;
    const plan = await port.plan(request);
    if (this.#o.config.appEnv === "production") {
      plan.warnings.push(
        "in production a restore needs the database name as confirmation (--force on the CLI)",
      );
    }
    return plan;
  }

  /**
   * Holds the caller until every replica under an access lease has applied what the run changed
   * (src/access/lease.ts); it never throws over the run's own outcome.
   */
  async #propagated(): Promise<void> {
    await awaitReplicas(this.#o.db, this.#o.logger, { fallbackMs: this.#o.config.access.leaseMs });
  }

  /** Execution history, newest first. */
  async listExecutions(
    skip = 0,
    limit = 50,
  ): Promise<{ items: ExecutionJson[]; total: number; skip: number; limit: number }> {
    if (!Number.isInteger(skip) || skip < 0) {
      throw validation(`skip must be a non-negative integer, got ${skip}`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw validation(`limit must be an integer between 1 and 500, got ${limit}`);
    }
    let { items, total } = await this.executions.list(skip, limit);
    if (items.some(unfinished) && (await this.#reconcile()).length) {
      ({ items, total } = await this.executions.list(skip, limit));
    }
    return { items: items.map(executionJson), total, skip, limit };
  }

  /** One execution; NOT_FOUND naming the id. */
  async getExecution(id: number): Promise<ExecutionJson> {
    let row = await this.executions.get(id);
    if (row && unfinished(row) && (await this.#reconcile()).includes(id)) row = await this.executions.get(id);
    if (!row) throw notFound(`seeder execution ${id}`);
    return executionJson(row);
  }

  /**
   * The history never shows a dead run as running: when nobody holds the
   * lock, executions still marked running are failed with the reason
   * (src/seeding/lock.ts). Best effort: a read never fails over it.
   */
  #reconcile(): Promise<number[]> {
    return reconcileAbandoned(this.#o.db, this.#o.logger).catch(() => []);
  }

  #demoDefault(env: AppEnv): boolean {
    const c = this.#o.config;
    return env === c.appEnv ? c.seeding.demo : env !== "production";
  }

  #validate(o: ExecuteOptions): { env: AppEnv; scale: number; randomSeed: number } {
    const env = o.env ?? this.#o.config.appEnv;
    if (!(APP_ENVS as readonly string[]).includes(env)) {
      throw validation(`env must be one of ${APP_ENVS.join(", ")}, got "${env}"`);
    }
    // A production database is seeded as production: never with another environment's (demo) seeders.
    if (this.#o.config.appEnv === "production" && env !== "production") {
      throw validation(`env must be production when APP_ENV is production, got "${env}"`);
    }
    const scale = o.scale ?? 0;
    if (!Number.isInteger(scale) || scale < 0 || scale > MAX_SCALE) {
      throw validation(`scale must be an integer between 0 and ${MAX_SCALE}, got ${scale}`);
    }
    const randomSeed = o.randomSeed ?? 1;
    if (!Number.isSafeInteger(randomSeed)) {
      throw validation(`random seed must be an integer, got ${randomSeed}`);
    }
    if (!o.triggeredBy) throw validation("triggeredBy is required");
    if (o.only && o.only.some((n) => typeof n !== "string" || n.length === 0)) {
      throw validation("only must list seeder names");
    }
    return { env, scale, randomSeed };
  }

  async #lease(executionId: number, triggeredBy: string): Promise<SeedingLease> {
    let host = "unknown-host";
    try {
      host = Deno.hostname();
    } catch { /* no --allow-sys */ }
    try {
      return await SeedingLease.acquire(this.#o.db, executionId, {
        leaseMs: this.#o.leaseMs ?? 10 * 60_000,
        holder: `${host}:${Deno.pid}:${triggeredBy}`,
        logger: this.#o.logger,
      });
    } catch (err) {
      // Refused by the lock: this run never started, so it leaves no record.
      await this.executions.delete(executionId).catch(() => {});
      throw err;
    }
  }

  async #audit(
    kind: ExecutionKind,
    who: { triggeredBy: string; triggeredByUserId?: number | null; requestId?: string },
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.#o.audit?.recordSafely({
      event: `seeders.${kind}`,
      actorUserId: who.triggeredByUserId ?? null,
      target: who.triggeredBy,
      requestId: who.requestId ?? null,
      details,
    });
  }

  async #recordFailure(
    id: number,
    startedAt: Date | null,
    err: unknown,
    end: Parameters<ExecutionsRepository["fail"]>[3],
  ) {
    try {
      await this.executions.fail(id, startedAt, describeFailure(err), end);
    } catch (recordErr) {
      this.#o.logger.error("seeding_record_failed", {
        execution_id: id,
        error: recordErr instanceof Error ? recordErr.message : String(recordErr),
      });
    }
  }

  async #run(kind: "execute" | "reset", o: ExecuteOptions): Promise<SeedResponse> {
    const { db, logger } = this.#o;
    const { env, scale, randomSeed } = this.#validate(o);
    const dryRun = o.dryRun ?? false;
    const demo = o.demo ?? this.#demoDefault(env);
    const createBackup = (o.createBackup ?? true) && !dryRun;
    const execKind: ExecutionKind = dryRun ? "dry_run" : kind;
    // Bad input (an unknown seeder in `only`) is refused before a run is recorded: it is no failed execution.
    // (A broken registry — a cycle, an unknown dependency — is a failed run, recorded below.)
    try {
      planSeeders(this.#seeders, { env, demo, scale, only: o.only });
    } catch (err) {
      if (err instanceof AppError && err.code === "VALIDATION_ERROR") throw err;
    }
    if (kind === "reset" && !dryRun) {
      requireConfirmation({
        production: this.#o.config.appEnv === "production",
        label: db.label,
        confirm: o.confirm,
        what: "a reset",
      });
    }
    await assertLockFree(db);
    const exec = await this.executions.create({
      kind: execKind,
      triggeredBy: o.triggeredBy,
      triggeredByUserId: o.triggeredByUserId,
      environment: env,
      dryRun,
      options: {
        create_backup: createBackup,
        require_backup: o.requireBackup ?? false,
        only: o.only ?? null,
        scale,
        random_seed: randomSeed,
        demo,
      },
    });
    const lease = await this.#lease(exec.id, o.triggeredBy);
    const log = logger.child({ execution_id: exec.id });
    let startedAt: Date | null = null;
    const warnings: string[] = [];
    let backupKey: string | null = null;
    let partial: Record<string, unknown> | undefined;
    try {
      startedAt = await this.executions.markRunning(exec.id);
      log.info("seeding_started", { kind: execKind, environment: env, triggered_by: o.triggeredBy });
      const plan = planSeeders(this.#seeders, { env, demo, scale, only: o.only });
      if (createBackup) {
        backupKey = await backupBeforeRun(
          { port: this.#o.backupPort, executions: this.executions, logger },
          { executionId: exec.id, kind, triggeredBy: o.triggeredBy, requireBackup: o.requireBackup ?? false },
          warnings,
        );
      }
      let cleared: string[] = [];
      if (kind === "reset" && !dryRun) {
        await migrate(db);
        await lease.renew();
      }
      const result = await runPlan(
        {
          db,
          logger: log,
          executionId: exec.id,
          options: {
            env,
            scale,
            randomSeed,
            superadminEmail: this.#o.config.seeding.superadminEmail,
            superadminPassword: this.#o.config.seeding.superadminPassword,
          },
          hashPassword: this.#o.hashPassword ?? argon2Hash,
          announce: dryRun
            ? rolledBackAnnouncements(o.announce ?? this.#o.announce ?? printErr)
            : o.announce ?? this.#o.announce ?? printErr,
          progress: o.progress,
          hashCache: new Map(),
          paths: this.#o.paths,
        },
        plan,
        {
          dryRun,
          before: kind === "reset"
            ? async (tx) => {
              cleared = await clearApplicationData(db, tx);
              // Every token issued before the reset is refused once it commits (src/auth/revocation.ts).
              await bumpTokenEpoch(db, tx);
            }
            : undefined,
        },
      ).catch((err) => {
        partial = err?.partial ? { seeders: err.partial.seeders, total: err.partial.total } : undefined;
        throw err;
      });
      const results = { seeders: result.seeders, total: result.total };
      const revoked = kind === "reset" && !dryRun;
      if (revoked) warnings.push(SESSIONS_REVOKED_WARNING);
      await this.executions.complete(exec.id, startedAt, {
        results: {
          ...results,
          order: plan.map((s) => s.name),
          timings_ms: result.timings,
          ...(kind === "reset" ? { tables_cleared: cleared } : {}),
        },
        totals: result.total,
        backupCreated: backupKey !== null,
        backupS3Key: backupKey,
        warnings,
      });
      log.info("seeding_completed", {
        kind: execKind,
        ...result.total,
        warnings: warnings.length,
        duration_ms: startedAt ? Date.now() - startedAt.getTime() : null,
      });
      await this.#audit(execKind, o, {
        execution_id: exec.id,
        status: "completed",
        ...result.total,
        backup_s3_key: backupKey,
      });
      return {
        success: true,
        backup_created: backupKey !== null,
        backup_s3_key: backupKey,
        results,
        execution_id: exec.id,
        warnings,
        ...(dryRun ? { dry_run: true as const } : {}),
        ...(kind === "reset" ? { tables_cleared: cleared } : {}),
        ...(revoked ? { sessions_revoked: true as const } : {}),
      };
    } catch (err) {
      await this.#recordFailure(exec.id, startedAt, err, {
        results: partial,
        warnings,
        backupCreated: backupKey !== null,
        backupS3Key: backupKey,
      });
      log.error("seeding_failed", {
        kind: execKind,
        error: describeFailure(err).message,
        duration_ms: startedAt ? Date.now() - startedAt.getTime() : null,
      });
      await this.#audit(execKind, o, {
        execution_id: exec.id,
        status: "failed",
        error: describeFailure(err).message,
      });
      throw failureError(err, exec.id);
    } finally {
      await lease.release();
      await this.#propagated();
    }
  }
}
