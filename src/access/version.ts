/**
 * The security version: one counter in `security_versions`, bumped by
 * triggers in the same transaction as every security-relevant change; every
 * replica compares it with its caches' version before answering. Reads are
 * coalesced (one in flight per process, shared by every request that arrived
 * before it started; a request never joins a read already started). Must
 * never let a request that started after a change committed see the old
 * state. Story: docs/freshness.md.
 */
import { sql } from "drizzle-orm";
import { setImmediate } from "node:timers";
import type { Database, Executor } from "../db/client.ts";

/** The counter's row in `security_versions`. */
export const ACCESS_SCOPE = "access";

/**
 * Bumps the security version. Call it inside the transaction that makes a
 * security-relevant change (`executor` = the transaction), so the change and
 * the bump commit together.
 */
export async function bumpSecurityVersion(db: Database, executor: Executor = db.db): Promise<void> {
  const t = db.t.securityVersions;
  await executor.insert(t).values({ scope: ACCESS_SCOPE, version: 1 }).onConflictDoUpdate({
    target: t.scope,
    set: { version: sql`${t.version} + 1` },
  });
}

/** The version read: a constant statement (same SQL on both dialects). */
const READ_VERSION = `SELECT version FROM security_versions WHERE scope = '${ACCESS_SCOPE}'`;

/** Reads the current security version (0 when never bumped), in `executor`'s transaction. */
export async function readSecurityVersion(db: Database, executor: Executor = db.db): Promise<number> {
  const rows = await db.rows<{ version: number | string }>(sql.raw(READ_VERSION), executor);
  return rows.length ? Number(rows[0].version) : 0;
}

/**
 * The hot-path reader of the security version: the statement is prepared
 * once where the driver allows (`Database.prepareRow`).
 */
export function securityVersionReader(db: Database): () => Promise<number> {
  const read = db.prepareRow<{ version: number | string }>(READ_VERSION);
  return async () => {
    const row = await read();
    return row ? Number(row.version) : 0;
  };
}

const noop = () => {};

/** Coalesces version reads: see the module comment. */
export class VersionGate {
  /** A read scheduled for the next turn and not started yet: anyone may join it. */
  #scheduled: Promise<number> | null = null;
  #inFlight: Promise<number> | null = null;
  reads = 0;

  /**
   * `stallMs`: how long the next read waits behind one in flight before it
   * starts anyway (a read that never answers — a connection gone dead
   * without a reset — must not hold every later request of the process).
   */
  constructor(private readonly read: () => Promise<number>, private readonly stallMs = 1000) {}

  /**
   * A version read that starts after this call: the one scheduled and not
   * started yet (joined), or a new one, which starts at the next event-loop
   * turn, or when the read in flight is done if there is one (or has taken
   * longer than `stallMs`).
   */
  current(): Promise<number> {
    if (this.#scheduled) return this.#scheduled;
    this.reads++;
    const inFlight = this.#inFlight;
    const after: Promise<unknown> = inFlight
      ? new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.stallMs);
        inFlight.then(noop, noop).then(() => {
          clearTimeout(timer);
          resolve();
        });
      })
      : new Promise<void>((resolve) => setImmediate(resolve));
    const p: Promise<number> = after.then(() => {
      this.#scheduled = null;
      this.#inFlight = p;
      return this.read();
    }).finally(() => {
      if (this.#inFlight === p) this.#inFlight = null;
    });
    this.#scheduled = p;
    return p;
  }
}
