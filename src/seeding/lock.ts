/**
 * The seeding lock: two runs never overlap, whether they come from the same
 * process, two processes or two replicas on the same database — and a run
 * whose process died stops blocking the others at once.
 *
 * - In process: a per-`Database` marker, checked and set synchronously.
 * - Across processes: the database proves the holder alive
 *   (`Database.liveness`, src/db/liveness.ts). On Postgres, a session-level
 *   advisory lock on a dedicated connection held for the whole run: the
 *   server frees it the moment that session ends (kill -9, crash, lost
 *   host), on every replica and host at once. On a local libSQL file,
 *   SQLite's file lock on a sidecar file, which the OS frees when the process
 *   dies. The liveness lock is the mutex; the `seeding_locks` row only says
 *   which execution holds it (and when liveness is unavailable — remote
 *   libSQL, PGlite — it is a lease that expires, renewed every third of it).
 * - Whoever takes the lock replaces the previous row, and every execution
 *   still `running` then (there can be none legitimately: the lock is ours)
 *   is marked `failed` with the reason, however its holder went away.
 * - On Postgres, the seeding transaction also takes
 *   `pg_try_advisory_xact_lock`, so even a lock lost mid-run can never let
 *   two transactions seed at once. On libSQL the equivalent is SQLite's own
 *   single-writer lock: the run's transaction starts with BEGIN IMMEDIATE.
 *
 * A second caller is refused at once with SEEDING_IN_PROGRESS naming the
 * running execution, never left waiting. Story: docs/seeding.md ("The lock").
 */
import { and, eq, gt, lt, ne, or } from "drizzle-orm";
import process from "node:process";
import { type Database, type Executor, liftStatementTimeout } from "../db/client.ts";
import type { HeldLiveness } from "../db/liveness.ts";
import { tryTransactionLock } from "../db/transaction_lock.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";

const LOCK_NAME = "seeding";
const held = new WeakMap<Database, number>();
/** A `pending` execution older than this never reached the lock: its process died. */
const PENDING_GRACE_MS = 60_000;

export interface LockHolder {
  executionId: number;
  holder: string;
  expiresAt: Date;
}

/** The error every refused caller gets. */
export function inProgressError(executionId: number | null): AppError {
  if (executionId === null) {
    return new AppError(
      "SEEDING_IN_PROGRESS",
      "a seeding run is already in progress (another process holds the seeding lock)",
    );
  }
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
 * Lease fallback only (no liveness): true when a lease's holder
 * (`host:pid:who`) ran on this host and its process no longer exists.
 * Holders on other hosts are never judged here: their leases expire.
 * Needs --allow-run to see another process; without it the holder counts as alive.
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

async function leaseRow(db: Database) {
  const t = db.t.seedingLocks;
  const [row] = await db.db.select().from(t).where(eq(t.name, LOCK_NAME)).limit(1);
  return row;
}

/** The holder of the lock when a live run holds it, else null. */
export async function peekLock(db: Database): Promise<LockHolder | null> {
  if (db.liveness) {
    if (!(await db.liveness.isHeld(LOCK_NAME))) return null;
    const row = await leaseRow(db);
    // Held, but its row not yet written (the holder is between the two): a run is starting.
    return row
      ? { executionId: row.executionId, holder: row.holder, expiresAt: row.expiresAt }
      : { executionId: 0, holder: "", expiresAt: new Date(0) };
  }
  const t = db.t.seedingLocks;
  const [row] = await db.db.select().from(t).where(and(eq(t.name, LOCK_NAME), gt(t.expiresAt, new Date())))
    .limit(1);
  if (!row || holderIsGone(row.holder)) return null;
  return { executionId: row.executionId, holder: row.holder, expiresAt: row.expiresAt };
}

const refusal = (lease: LockHolder | null) => inProgressError(lease?.executionId || null);

/**
 * Marks `failed` every execution that claims to run while `executionId`
 * holds the lock (or, with `executionId` null, while nobody holds it): their
 * processes are gone and the database rolled their transactions back.
 * Returns the ids it marked.
 */
export async function failAbandoned(
  db: Database,
  executionId: number | null,
  reason: string,
): Promise<number[]> {
  const e = db.t.seederExecutions;
  const stale = new Date(Date.now() - PENDING_GRACE_MS);
  const abandoned = or(eq(e.status, "running"), and(eq(e.status, "pending"), lt(e.createdAt, stale)));
  const rows = await db.db.update(e).set({
    status: "failed",
    finishedAt: new Date(),
    errorMessage: `abandoned: ${reason}; its transaction was rolled back by the database`,
  }).where(executionId === null ? abandoned : and(ne(e.id, executionId), abandoned))
    .returning({ id: e.id });
  return rows.map((r) => r.id);
}

/**
 * When no live run holds the lock, marks the executions still shown as
 * running `failed` (their holder died and nobody has taken the lock since).
 * Returns the ids it marked; does nothing while a run is live.
 */
export async function reconcileAbandoned(db: Database, logger: Logger): Promise<number[]> {
  if (held.has(db) || !db.liveness) return [];
  // A cheap look first (no connection of its own): while a run lives, nothing to do.
  if (await db.liveness.isHeld(LOCK_NAME)) return [];
  // Then taken, not just looked at: a run starting meanwhile must not be marked.
  const lock = await db.liveness.tryAcquire(LOCK_NAME);
  if (!lock) return [];
  try {
    const row = await leaseRow(db);
    const ids = await failAbandoned(db, null, describeHolderGone(row?.holder));
    if (ids.length) logger.warn("seeding_execution_abandoned", { execution_ids: ids });
    return ids;
  } finally {
    await lock.release();
  }
}

function describeHolderGone(holder: string | undefined): string {
  const who = holder ? ` (${holder.split(":").slice(0, 2).join(":")})` : "";
  return `the process that held the seeding lock${who} exited or lost its database session before the run finished`;
}

/** Throws SEEDING_IN_PROGRESS when a run holds the lock (cheap: reads only). */
export async function assertLockFree(db: Database): Promise<void> {
  const local = held.get(db);
  if (local !== undefined) throw inProgressError(local);
  const lease = await peekLock(db);
  if (lease) throw inProgressError(lease.executionId);
}

/** A held lock. `release()` must be called in a `finally`. */
export class SeedingLease {
  #timer?: ReturnType<typeof setInterval>;
  #renewing: Promise<void> = Promise.resolve();
  #released = false;
  #lost = false;

  private constructor(
    private readonly db: Database,
    readonly executionId: number,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly liveness: HeldLiveness | null,
  ) {}

  /**
   * Takes the lock for `executionId` or throws SEEDING_IN_PROGRESS naming
   * the holder. The row's lease lasts `leaseMs` and is renewed every third of
   * it (with liveness, the renewal also checks the liveness session).
   */
  static async acquire(
    db: Database,
    executionId: number,
    opts: { leaseMs: number; holder: string; logger: Logger },
  ): Promise<SeedingLease> {
    const local = held.get(db);
    if (local !== undefined) throw inProgressError(local);
    held.set(db, executionId);
    let liveness: HeldLiveness | null = null;
    try {
      const now = new Date();
      const values = {
        executionId,
        holder: opts.holder,
        acquiredAt: now,
        expiresAt: new Date(now.getTime() + opts.leaseMs),
      };
      const previous = db.liveness
        ? await (async () => {
          liveness = await db.liveness!.tryAcquire(LOCK_NAME);
          if (!liveness) throw refusal(await peekLock(db).catch(() => null));
          // Ours now: whatever row is there belongs to a holder that is gone.
          return await replaceRow(db, values);
        })()
        : await acquireLease(db, values);
      const reason = describeHolderGone(previous?.holder);
      const abandoned = await failAbandoned(db, executionId, reason);
      if (previous || abandoned.length) {
        opts.logger.warn("seeding_lock_taken_over", {
          previous_execution_id: previous?.executionId ?? null,
          abandoned_execution_ids: abandoned,
          execution_id: executionId,
        });
      }
      const lease = new SeedingLease(db, executionId, opts.leaseMs, opts.logger, liveness);
      lease.#timer = setInterval(() => lease.#renew(), Math.max(50, Math.floor(opts.leaseMs / 3)));
      return lease;
    } catch (err) {
      await (liveness as HeldLiveness | null)?.release();
      held.delete(db);
      throw err;
    }
  }

  #renew(): void {
    if (this.#released) return;
    const t = this.db.t.seedingLocks;
    this.#renewing = this.#renewing.then(async () => {
      if (this.#released) return;
      if (this.liveness) {
        const alive = await this.liveness.check();
        if (!alive && !this.#lost) {
          // The transaction's own advisory lock still keeps a second run out; say so loudly.
          this.logger.error("seeding_lock_lost", { execution_id: this.executionId });
        } else if (alive && this.#lost) {
          this.logger.error("seeding_lock_regained", { execution_id: this.executionId });
        }
        this.#lost = !alive;
      }
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

  /** Releases the lock (idempotent). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#renewing;
    const t = this.db.t.seedingLocks;
    try {
      await this.db.db.delete(t).where(and(eq(t.name, LOCK_NAME), eq(t.executionId, this.executionId)));
    } catch (err) {
      // The row is replaced by the next holder (or expires); say so rather than hide it.
      this.logger.warn("seeding_lock_release_failed", {
        error: err instanceof Error ? err.message : String(err),
      });
    } finally {
      // After the row: a new holder never sees our row as its own.
      await this.liveness?.release();
      held.delete(this.db);
    }
  }
}

type LeaseValues = { executionId: number; holder: string; acquiredAt: Date; expiresAt: Date };

/** With liveness held: writes our row over whatever is there; returns the row it replaced. */
async function replaceRow(db: Database, values: LeaseValues) {
  const t = db.t.seedingLocks;
  const previous = await leaseRow(db);
  await db.db.insert(t).values({ name: LOCK_NAME, ...values })
    .onConflictDoUpdate({ target: t.name, set: values });
  return previous;
}

/**
 * Without liveness: takes the lease row when it is free or expired (or its
 * holder on this host is gone); returns the row it replaced, if any.
 */
async function acquireLease(db: Database, values: LeaseValues) {
  const t = db.t.seedingLocks;
  const previous = await leaseRow(db);
  let got: { executionId: number }[];
  try {
    const replaceable = previous && holderIsGone(previous.holder)
      ? or(lt(t.expiresAt, values.acquiredAt), eq(t.holder, previous.holder))
      : lt(t.expiresAt, values.acquiredAt);
    got = await db.db.insert(t).values({ name: LOCK_NAME, ...values })
      .onConflictDoUpdate({ target: t.name, set: values, setWhere: replaceable })
      .returning({ executionId: t.executionId });
  } catch (err) {
    // A writer on the other side of SQLite's lock: report the holder, not "busy".
    const lease = await peekLock(db).catch(() => null);
    if (lease) throw refusal(lease);
    throw err;
  }
  if (got.length === 0 || got[0].executionId !== values.executionId) throw refusal(await peekLock(db));
  return previous && previous.executionId !== values.executionId ? previous : undefined;
}

/**
 * Inside the seeding transaction: takes the transaction-scoped seeding lock
 * (src/db/transaction_lock.ts: an advisory lock on Postgres), or throws
 * SEEDING_IN_PROGRESS when another transaction holds it. A no-op on libSQL
 * (BEGIN IMMEDIATE already serializes writers).
 */
export async function lockTransaction(db: Database, tx: Executor, executionId: number): Promise<void> {
  // Seeding a large volume may take minutes: no statement timeout in its transaction (a no-op on libSQL).
  await liftStatementTimeout(db, tx);
  if (!(await tryTransactionLock(db, tx, "seedbed:seed:" + db.namespace))) {
    const lease = await peekLock(db).catch(() => null);
    const other = lease && lease.executionId !== executionId ? lease.executionId : null;
    throw other !== null ? inProgressError(other) : new AppError(
      "SEEDING_IN_PROGRESS",
      "a seeding run is already in progress (another transaction holds the seeding advisory lock)",
    );
  }
}
