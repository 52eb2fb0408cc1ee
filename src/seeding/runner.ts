/**
 * Runs a plan of seeders in ONE transaction: all of them commit together,
 * or a failure anywhere rolls every one of them back. A dry run does the
 * same work and rolls back on purpose, reporting the counts it would have
 * produced. Story: docs/seeding.md ("How the engine works").
 */
import type { Tx } from "../db/client.ts";
import { translateDbError } from "../db/errors.ts";
import { createSeedContext, type RunScope } from "./context.ts";
import { lockTransaction } from "./lock.ts";
import type { SeederDefinition, SeederOutcome, SeedStats } from "./types.ts";

export interface RunResult {
  seeders: Record<string, SeederOutcome>;
  total: SeedStats;
  /** Milliseconds per seeder. */
  timings: Record<string, number>;
}

/** A seeder threw: carries the seeder's name and the partial results (all rolled back). */
export class SeederFailure extends Error {
  constructor(readonly seeder: string, readonly original: unknown, readonly partial: RunResult) {
    super(`${seeder} failed: ${original instanceof Error ? original.message : String(original)}`);
    this.name = "SeederFailure";
  }
}

class DryRunRollback extends Error {
  constructor() {
    super("dry run: rolled back on purpose");
  }
}

export interface RunPlanOptions {
  dryRun: boolean;
  /** Runs first inside the transaction (reset: clears the application data). */
  before?: (tx: Tx) => Promise<void>;
}

function emptyResult(plan: SeederDefinition[]): RunResult {
  const seeders: Record<string, SeederOutcome> = {};
  for (const s of plan) seeders[s.name] = { status: "skipped", created: 0, updated: 0, deleted: 0 };
  return { seeders, total: { created: 0, updated: 0, deleted: 0 }, timings: {} };
}

function check(stats: unknown, seeder: string): SeedStats {
  const s = stats as SeedStats | undefined;
  for (const k of ["created", "updated", "deleted"] as const) {
    if (!s || !Number.isInteger(s[k]) || s[k] < 0) {
      throw new Error(`${seeder}.seed() must return {created, updated, deleted} as non-negative integers`);
    }
  }
  return { created: s!.created, updated: s!.updated, deleted: s!.deleted };
}

/** Executes `plan` in order inside one transaction. Throws SeederFailure (rolled back). */
export async function runPlan(
  scope: Omit<RunScope, "tx">,
  plan: SeederDefinition[],
  opts: RunPlanOptions,
): Promise<RunResult> {
  const { db, logger, executionId } = scope;
  const result = emptyResult(plan);
  const base = { execution_id: executionId, ...(opts.dryRun ? { dry_run: true } : {}) };
  // Outcomes are kept here, not only in the thrown error: the database layer
  // translates errors that leave a transaction, and these must stay intact.
  let failure: SeederFailure | undefined;
  let rolledBackOnPurpose = false;
  let running: string | undefined;
  try {
    return await db.transaction(async (tx) => {
      await lockTransaction(db, tx, executionId);
      if (opts.before) await opts.before(tx);
      for (const seeder of plan) {
        // Progress (`seed --scale`'s "Volume data" line) counts the volume seeders' rows only.
        const ctx = createSeedContext(
          { ...scope, tx, progress: seeder.volume ? scope.progress : undefined },
          seeder.name,
        );
        const started = performance.now();
        logger.info("seeder_started", { ...base, seeder: seeder.name });
        let stats: SeedStats;
        running = seeder.name;
        try {
          stats = check(await seeder.seed(ctx), seeder.name);
        } catch (err) {
          const ms = Math.round(performance.now() - started);
          result.timings[seeder.name] = ms;
          for (const name of Object.keys(result.seeders)) {
            if (result.seeders[name].status === "completed") result.seeders[name].status = "rolled_back";
          }
          result.seeders[seeder.name] = {
            status: "failed",
            ...ctx.stats,
            error: err instanceof Error ? err.message : String(err),
          };
          logger.error("seeder_failed", {
            ...base,
            seeder: seeder.name,
            error: err instanceof Error ? err.message : String(err),
            stack: err instanceof Error ? err.stack : undefined,
            duration_ms: ms,
          });
          failure = new SeederFailure(seeder.name, err, result);
          throw failure;
        }
        running = undefined;
        const ms = Math.round(performance.now() - started);
        result.seeders[seeder.name] = { status: "completed", ...stats };
        result.timings[seeder.name] = ms;
        result.total.created += stats.created;
        result.total.updated += stats.updated;
        result.total.deleted += stats.deleted;
        logger.info("seeder_completed", { ...base, seeder: seeder.name, ...stats, duration_ms: ms });
      }
      if (opts.dryRun) {
        rolledBackOnPurpose = true;
        throw new DryRunRollback();
      }
      return result;
    });
  } catch (err) {
    if (failure) throw failure;
    if (rolledBackOnPurpose) return result;
    // The driver may abandon the transaction (connection lost) while a seeder still runs.
    if (running) {
      for (const name of Object.keys(result.seeders)) {
        if (result.seeders[name].status === "completed") result.seeders[name].status = "rolled_back";
      }
      const t = translateDbError(err);
      const message = t instanceof Error ? t.message : String(t);
      result.seeders[running] = { status: "failed", created: 0, updated: 0, deleted: 0, error: message };
      logger.error("seeder_failed", { ...base, seeder: running, error: message });
      throw new SeederFailure(running, err, result);
    }
    throw err;
  }
}
