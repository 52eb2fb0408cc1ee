/**
 * Nothing is left half-done by a backup whose process died (kill -9, a
 * crash, a lost host): at startup and on a schedule, the sweep
 *
 * - marks `failed` every `pending` catalog row whose writer is gone — on
 *   Postgres, proven by its liveness lock (`backup-<id>`, src/db/liveness.ts,
 *   held by the writer for the whole backup); elsewhere, rows older than
 *   BACKUP_STALE_MINUTES;
 * - aborts incomplete multipart uploads under the backup prefix (billed on
 *   AWS until aborted) that belong to no live backup and are older than
 *   BACKUP_STALE_MINUTES, or belong to a row it has just failed.
 *
 * Must never: fail a backup that is still being written, or abort its upload.
 * Story: docs/backups.md ("Abandoned backups").
 */
import { and, eq, lt } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { HeldLiveness } from "../db/liveness.ts";
import { errorMessage, type Logger } from "../log.ts";
import type { IncompleteUpload, ObjectStore } from "../storage/object_store.ts";
import { type Clock, systemClock } from "./backup_schedule.ts";
import { KEY_PREFIX } from "./format.ts";

/** A pending row younger than this may not hold its liveness lock yet: never judged (default). */
const GRACE_MS = 10_000;

const livenessName = (id: number) => `backup-${id}`;

/** Only Postgres: on a libSQL file a lock per backup would leave a sidecar file per backup. */
const provable = (db: Database) => db.liveness?.kind === "postgres-advisory-session";

/**
 * Held by the process writing backup `id` for as long as it writes it (Postgres;
 * a no-op elsewhere). Returns the release function; never throws.
 */
export async function holdBackupLiveness(db: Database, id: number): Promise<() => Promise<void>> {
  if (!provable(db)) return () => Promise.resolve();
  let held: HeldLiveness | null = null;
  try {
    held = await db.liveness!.tryAcquire(livenessName(id));
  } catch { /* the sweep then judges by age, as without liveness */ }
  return () => held?.release() ?? Promise.resolve();
}

export interface SweepOptions {
  db: Database;
  store: ObjectStore;
  logger: Logger;
  /** BACKUP_STALE_MINUTES, in ms. */
  staleAfterMs: number;
  /** Rows younger than this are never judged (default 10 s: between the row and its liveness lock). */
  graceMs?: number;
  now?: () => Date;
}

export interface SweepReport {
  failed: number[];
  aborted: string[];
  /** False when the S3 server cannot list incomplete uploads (ListMultipartUploads not implemented). */
  uploadsChecked: boolean;
}

/** One sweep (see the module comment). */
export async function sweepAbandonedBackups(o: SweepOptions): Promise<SweepReport> {
  const { db, store, logger } = o;
  const now = (o.now ?? (() => new Date()))();
  const t = db.t.backups;
  const pending = await db.db.select({ id: t.id, s3Key: t.s3Key, createdAt: t.createdAt }).from(t)
    .where(eq(t.status, "pending"));
  const live = new Set<string>();
  const failed: number[] = [];
  const deadKeys = new Set<string>();
  for (const row of pending) {
    const age = now.getTime() - row.createdAt.getTime();
    const alive = age < (o.graceMs ?? GRACE_MS) ||
      (provable(db) ? await db.liveness!.isHeld(livenessName(row.id)) : age < o.staleAfterMs);
    if (alive) {
      live.add(row.s3Key);
      continue;
    }
    const marked = await db.db.update(t).set({
      status: "failed",
      errorMessage:
        "abandoned: the process writing this backup exited before it finished (found by the sweep)",
    }).where(and(eq(t.id, row.id), eq(t.status, "pending"), lt(t.createdAt, now))).returning({ id: t.id });
    if (marked.length) {
      failed.push(row.id);
      deadKeys.add(row.s3Key);
    }
  }
  const uploads = await store.incompleteUploads(KEY_PREFIX);
  const aborted: string[] = [];
  for (
    const u of uploadsToAbort(uploads ?? [], { live, dead: deadKeys, now, staleAfterMs: o.staleAfterMs })
  ) {
    await store.abortUpload(u.key, u.uploadId);
    aborted.push(u.key);
  }
  if (failed.length || aborted.length) {
    logger.warn("backups_swept", { failed_backup_ids: failed, aborted_uploads: aborted });
  }
  return { failed, aborted, uploadsChecked: uploads !== null };
}

/**
 * The uploads to abort: never one of a live backup; every one of a backup
 * just found dead; any other (an orphan) once older than `staleAfterMs`.
 */
export function uploadsToAbort<U extends IncompleteUpload>(
  uploads: U[],
  o: { live: Set<string>; dead: Set<string>; now: Date; staleAfterMs: number },
): U[] {
  return uploads.filter((u) => {
    if (o.live.has(u.key)) return false;
    if (o.dead.has(u.key)) return true;
    return u.initiated !== undefined && o.now.getTime() - u.initiated.getTime() > o.staleAfterMs;
  });
}

/** The system clock, its timers unref'd: a sweep waiting for its turn never keeps the process alive. */
const backgroundClock: Clock = {
  ...systemClock,
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    Deno.unrefTimer(timer);
    return timer;
  },
};

export interface BackupSweeper {
  /** No sweep after this one (one in progress finishes). */
  stop(): void;
  /** Settles when the sweep in progress, if any, has ended (tests: after moving a fake clock). */
  idle(): Promise<void>;
}

/**
 * Sweeps now (in the background) and every `everyMs` (0: at start only). `clock` (default: the system's)
 * times the sweeps and, unless `now` is given, is the sweeps' now.
 */
export function startBackupSweeper(o: SweepOptions & { everyMs: number; clock?: Clock }): BackupSweeper {
  const clock = o.clock ?? backgroundClock;
  const options: SweepOptions = { ...o, now: o.now ?? (() => new Date(clock.now())) };
  let stopped = false;
  let timer: unknown;
  let running: Promise<void>;
  const run = async () => {
    try {
      await sweepAbandonedBackups(options);
    } catch (err) {
      // S3 or the database is away: the next sweep tries again.
      o.logger.warn("backups_sweep_failed", { error: errorMessage(err).message });
    }
    if (!stopped && o.everyMs > 0) timer = clock.setTimeout(() => (running = run()), o.everyMs);
  };
  running = run();
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
    idle: () => running,
  };
}
