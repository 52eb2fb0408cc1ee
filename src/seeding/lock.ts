/**
 * The seeding lock: two runs never overlap, whether they come from the same
 * process, two processes or two replicas on the same database.
 *
 * - In process: a per-`Database` marker, checked and set synchronously.
 * - Across processes: a lease row in `seeding_locks` taken with one atomic
 *   conditional upsert (`INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <
 *   now`), renewed while the run lasts and deleted at the end. A crashed
 *   holder's lease expires and is taken over; sooner when the holder ran on
 *   this host and its process is gone (Ctrl-C, kill -9): the lease is taken
 *   over at once and the abandoned execution is marked failed.
 * - On Postgres, the seeding transaction also takes
 *   `pg_try_advisory_xact_lock`, so even an expired lease can never let two
 *   transactions seed at once. On libSQL the equivalent is SQLite's own
 *   single-writer lock: the run's transaction starts with BEGIN IMMEDIATE.
 *
 * A second caller is refused at once with SEEDING_IN_PROGRESS naming the
 * running execution, never left waiting.
 */
import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import process from "node:process";
import type { Database, Executor } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";

const LOCK_NAME = "seeding";
const held = new WeakMap<Database, number>();

export interface LockHolder {
  executionId: number;
  holder: string;
  expiresAt: Date;
}

/** The error every refused caller gets. */
export function inProgressError(executionId: number): AppError {
  return new AppError(
    "SEEDING_IN_PROGRESS",
    `a seeding run is already in progress (execution ${executionId})`,
    { extra: { running_execution_id: executionId } },
  );
}

let thisHost: string | undefined;
function hostname(): string {
  if (thisHost === undefined) {
    try {
      thisHost = Deno.hostname();
    } catch {
      thisHost = "unknown-host";
    }
  }
  return thisHost;
}

/**
 * True when a lease's holder (`host:pid:who`) ran on this host and its
 * process no longer exists. Holders on other hosts are never judged here:
 * their leases expire.
 */
export function holderIsGone(holder: string): boolean {
  const [host, pidText] = holder.split(":");
  const pid = Number(pidText);
  if (host !== hostname() || host === "unknown-host" || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === "ESRCH";
  }
}

/** The current, unexpired lease of a live holder, if any. */
export async function peekLock(db: Database): Promise<LockHolder | null> {
  const t = db.t.seedingLocks;
  const [row] = await db.db.select().from(t).where(and(eq(t.name, LOCK_NAME), gt(t.expiresAt, new Date())))
    .limit(1);
  if (!row || holderIsGone(row.holder)) return null;
  return { executionId: row.executionId, holder: row.holder, expiresAt: row.expiresAt };
}

/**
 * Takes over a lease whose holder process is gone (see `holderIsGone`), and
 * marks its execution failed. Returns false when there is nothing to take over
 * (or another caller took it first).
 */
async function takeOverAbandoned(
  db: Database,
  values: { executionId: number; holder: string; acquiredAt: Date; expiresAt: Date },
  logger: Logger,
): Promise<boolean> {
  const t = db.t.seedingLocks;
  const [row] = await db.db.select().from(t).where(eq(t.name, LOCK_NAME)).limit(1);
  if (!row || !holderIsGone(row.holder)) return false;
  const got = await db.db.update(t).set(values)
    .where(and(eq(t.name, LOCK_NAME), eq(t.executionId, row.executionId), eq(t.holder, row.holder)))
    .returning({ executionId: t.executionId });
  if (got.length === 0) return false;
  const e = db.t.seederExecutions;
  await db.db.update(e).set({
    status: "failed",
    finishedAt: new Date(),
    errorMessage: `abandoned: the process that held the seeding lock (${
      row.holder.split(":").slice(0, 2).join(":")
    }) exited before the run finished; its transaction was rolled back`,
  }).where(and(eq(e.id, row.executionId), inArray(e.status, ["pending", "running"])));
  logger.warn("seeding_lock_taken_over", {
    abandoned_execution_id: row.executionId,
    execution_id: values.executionId,
  });
  return true;
}

/** Throws SEEDING_IN_PROGRESS when a run holds the lock (cheap: reads only). */
export async function assertLockFree(db: Database): Promise<void> {
  const local = held.get(db);
  if (local !== undefined) throw inProgressError(local);
  const lease = await peekLock(db);
  if (lease) throw inProgressError(lease.executionId);
}

/** A held lease. `release()` must be called in a `finally`. */
export class SeedingLease {
  #timer?: ReturnType<typeof setInterval>;
  #renewing: Promise<void> = Promise.resolve();
  #released = false;

  private constructor(
    private readonly db: Database,
    readonly executionId: number,
    private readonly leaseMs: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Takes the lock for `executionId` or throws SEEDING_IN_PROGRESS naming
   * the holder. The lease lasts `leaseMs` and is renewed every third of it.
   */
  static async acquire(
    db: Database,
    executionId: number,
    opts: { leaseMs: number; holder: string; logger: Logger },
  ): Promise<SeedingLease> {
    const local = held.get(db);
    if (local !== undefined) throw inProgressError(local);
    held.set(db, executionId);
    try {
      const t = db.t.seedingLocks;
      const now = new Date();
      const values = {
        executionId,
        holder: opts.holder,
        acquiredAt: now,
        expiresAt: new Date(now.getTime() + opts.leaseMs),
      };
      let got: { executionId: number }[];
      try {
        got = await db.db.insert(t).values({ name: LOCK_NAME, ...values })
          .onConflictDoUpdate({ target: t.name, set: values, setWhere: lt(t.expiresAt, now) })
          .returning({ executionId: t.executionId });
      } catch (err) {
        // A writer on the other side of SQLite's lock: report the holder, not "busy".
        const lease = await peekLock(db).catch(() => null);
        if (lease) throw inProgressError(lease.executionId);
        throw err;
      }
      if (
        (got.length === 0 || got[0].executionId !== executionId) &&
        !(await takeOverAbandoned(db, values, opts.logger))
      ) {
        const lease = await peekLock(db);
        throw inProgressError(lease?.executionId ?? 0);
      }
      const lease = new SeedingLease(db, executionId, opts.leaseMs, opts.logger);
      lease.#timer = setInterval(() => lease.#renew(), Math.max(50, Math.floor(opts.leaseMs / 3)));
      return lease;
    } catch (err) {
      held.delete(db);
      throw err;
    }
  }

  #renew(): void {
    if (this.#released) return;
    const t = this.db.t.seedingLocks;
    this.#renewing = this.#renewing.then(async () => {
      if (this.#released) return;
      await this.db.db.update(t).set({ expiresAt: new Date(Date.now() + this.leaseMs) })
        .where(and(eq(t.name, LOCK_NAME), eq(t.executionId, this.executionId)));
    }).catch((err) => {
      this.logger.warn("seeding_lock_renew_failed", {
        error: err instanceof Error ? err.message : String(err),
      });
    });
  }

  /** Renews now (between long phases). */
  async renew(): Promise<void> {
    this.#renew();
    await this.#renewing;
  }

  /** Releases the lease (idempotent). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#renewing;
    const t = this.db.t.seedingLocks;
    try {
      await this.db.db.delete(t).where(and(eq(t.name, LOCK_NAME), eq(t.executionId, this.executionId)));
    } catch (err) {
      // The lease expires on its own; say so rather than hide it.
      this.logger.warn("seeding_lock_release_failed", {
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      held.delete(this.db);
    }
  }
}

/**
 * Inside the seeding transaction on Postgres: takes the transaction-scoped
 * advisory lock, or throws SEEDING_IN_PROGRESS when another transaction
 * holds it. A no-op on libSQL (BEGIN IMMEDIATE already serializes writers).
 */
export async function lockTransaction(db: Database, tx: Executor, executionId: number): Promise<void> {
  if (db.dialect !== "postgres") return;
  const [row] = await db.rows<{ ok: boolean }>(
    sql`SELECT pg_try_advisory_xact_lock(hashtext(${"seedbed:seed:" + db.namespace})) AS ok`,
    tx,
  );
  if (!row?.ok) {
    const lease = await peekLock(db).catch(() => null);
    const other = lease && lease.executionId !== executionId ? lease.executionId : null;
    throw other !== null ? inProgressError(other) : new AppError(
      "SEEDING_IN_PROGRESS",
      "a seeding run is already in progress (another transaction holds the seeding advisory lock)",
    );
  }
}
