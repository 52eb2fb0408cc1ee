/**
 * Liveness locks: a lock that the database (not a lease clock) frees the
 * moment its holder's process dies — kill -9, a crash, a lost host — so a
 * crashed run stops blocking others at once, on every replica and host.
 *
 * - Postgres: a session-level advisory lock (`pg_try_advisory_lock`) held on
 *   a dedicated connection for as long as the holder runs. When that session
 *   ends, for whatever reason, the server releases the lock. Anyone can see
 *   whether it is held in `pg_locks`, read-only. The session asks the server
 *   for TCP keepalives so that a vanished host is noticed in ~25 s.
 * - libSQL on a local file: SQLite's own file lock on a sidecar database
 *   (`<file>-<name>.lock`), held by an open `BEGIN EXCLUSIVE` on a dedicated
 *   connection. The operating system drops it when the process dies; another
 *   process sees `SQLITE_BUSY` while it is held. Same host only (a network
 *   file system's locks are not trusted by SQLite either).
 * - Remote libSQL (`libsql://`, `http(s)://`) and embedded PGlite: none
 *   (`null`); callers fall back to lease expiry.
 *
 * Must never: report a live holder as gone (two runs would overlap), or hold
 * a pool connection (the dedicated session is its own client).
 * Story: docs/seeding.md ("The lock").
 */
// @ts-types="./libsql_native.d.ts"
import NativeDatabase from "libsql";

/** A held liveness lock. */
export interface HeldLiveness {
  /**
   * Checks that the lock is still held by this process (its session may have
   * been cut); re-takes it when the session was replaced and the lock is free.
   * Returns false when it is lost to someone else or cannot be checked.
   */
  check(): Promise<boolean>;
  /** Frees the lock and closes its session (idempotent, never throws). */
  release(): Promise<void>;
}

export interface Liveness {
  /** What proves liveness, for logs and docs. */
  readonly kind: "postgres-advisory-session" | "sqlite-file-lock";
  /** Takes `name` for as long as this process holds it; null when a live holder has it. */
  tryAcquire(name: string): Promise<HeldLiveness | null>;
  /** True when a live process holds `name` (read-only: never takes it, even for a moment, on Postgres). */
  isHeld(name: string): Promise<boolean>;
}

/** The advisory-lock key space of Seedbed's liveness locks (two-int4 form: class, object). */
export const ADVISORY_CLASS = 0x5eed;

/** The postgres.js surface used here (a dedicated one-connection client). */
interface PgClient {
  unsafe(query: string, params?: unknown[]): PromiseLike<Record<string, unknown>[]>;
  end(options?: { timeout?: number }): Promise<void>;
}

const KEY = `hashtext($1) & 2147483647`;

/**
 * How long ending a session may wait for its connection to close. postgres.js's `end({ timeout })` answers
 * when its connections have closed, or once the timeout has passed; a timeout of 0 answers at once, with
 * the socket still closing and its `max_lifetime` timer still set (a timer left behind by every release).
 * Only a hung network waits this long.
 */
export const SESSION_END_TIMEOUT_S = 2;

/**
 * Postgres liveness over `query` (the pool, for the read-only check) and
 * `openSession` (a new one-connection client per held lock).
 */
export function postgresLiveness(
  namespace: string,
  query: (text: string, params: unknown[]) => PromiseLike<Record<string, unknown>[]>,
  openSession: () => PgClient,
): Liveness {
  const keyOf = (name: string) => `seedbed:${namespace}:${name}`;
  const mine = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'
    AND classid = ${ADVISORY_CLASS} AND objid = (${KEY})::oid AND objsubid = 2 AND granted) AS held`;
  const take = `SELECT pg_try_advisory_lock(${ADVISORY_CLASS}, ${KEY}) AS got`;
  return {
    kind: "postgres-advisory-session",
    async tryAcquire(name) {
      const key = keyOf(name);
      const session = openSession();
      let got = false;
      try {
        [{ got }] = await session.unsafe(take, [key]) as [{ got: boolean }];
      } finally {
        if (!got) await session.end({ timeout: SESSION_END_TIMEOUT_S }).catch(() => {});
      }
      if (!got) return null;
      let released = false;
      return {
        async check() {
          if (released) return false;
          try {
            const [{ held }] = await session.unsafe(mine, [key]) as [{ held: boolean }];
            if (held) return true;
            // The session was cut and postgres.js reconnected: take the lock again if it is free.
            const [{ got }] = await session.unsafe(take, [key]) as [{ got: boolean }];
            return got;
          } catch {
            return false;
          }
        },
        async release() {
          if (released) return;
          released = true;
          // Bounded: on a hung network, ending the session frees the lock just as well.
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            session.unsafe(`SELECT pg_advisory_unlock(${ADVISORY_CLASS}, ${KEY})`, [key]).then(
              () => {},
              () => {},
            ),
            new Promise((r) => (timer = setTimeout(r, 2_000))),
          ]);
          clearTimeout(timer);
          await session.end({ timeout: SESSION_END_TIMEOUT_S }).catch(() => {});
        },
      };
    },
    async isHeld(name) {
      const [row] = await query(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = ${ADVISORY_CLASS} AND objid = (${KEY})::oid AND objsubid = 2 AND granted) AS held`,
        [keyOf(name)],
      );
      return Boolean(row?.held);
    },
  };
}

/**
 * Connections holding a lock. Kept reachable here: a garbage-collected native
 * handle would be closed by its finalizer, silently freeing the lock of a
 * process that is still running.
 */
const HOLDING = new Set<NativeDatabase>();

const busy = (err: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((err as { code?: string }).code ?? ""));

/** libSQL liveness for the local database file at `path`. */
export function sqliteFileLiveness(path: string): Liveness {
  const sidecar = (name: string) => `${path}-${name.replace(/[^a-z0-9_-]/gi, "_")}.lock`;
  const open = (name: string, timeout: number) => {
    const db = new NativeDatabase(sidecar(name), { timeout });
    try {
      db.exec("PRAGMA journal_mode = MEMORY");
    } catch { /* held by another: the lock attempt below says so */ }
    return db;
  };
  return {
    kind: "sqlite-file-lock",
    // Synchronous driver calls: a throw inside becomes a rejection for the caller.
    // deno-lint-ignore require-await
    async tryAcquire(name) {
      // A short busy wait: a checker (`isHeld`) may hold a shared lock for a moment.
      const db = open(name, 250);
      try {
        db.exec("BEGIN EXCLUSIVE");
      } catch (err) {
        db.close();
        if (busy(err)) return null;
        throw err;
      }
      let released = false;
      HOLDING.add(db);
      return {
        check: () => Promise.resolve(!released),
        release() {
          if (released) return Promise.resolve();
          released = true;
          HOLDING.delete(db);
          try {
            db.exec("ROLLBACK");
          } catch { /* closing releases it anyway */ }
          db.close();
          return Promise.resolve();
        },
      };
    },
    // deno-lint-ignore require-await
    async isHeld(name) {
      const db = open(name, 0);
      try {
        db.prepare("SELECT count(*) FROM sqlite_master").get();
        return false;
      } catch (err) {
        if (busy(err)) return true;
        throw err;
      } finally {
        db.close();
      }
    },
  };
}
