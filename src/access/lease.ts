/**
 * Lease freshness (`ACCESS_FRESHNESS=lease`): a replica answers access
 * questions from its caches without reading the security version for each
 * batch of requests, and a change made through Seedbed does not return until
 * every such replica has applied it. This is the invalidation scheme of
 * Google's Chubby (Burrows, OSDI 2006): a write is held until every cache has
 * acknowledged it or its lease has run out.
 *
 * Replica side (`LeaseReplica`): every `pollMs` it reads the security version
 * (and checks that its row is still there, in the same query);
 * when the version moved it empties its caches, then acknowledges by writing
 * the version into its row of `access_replicas` together with a lease
 * (`lease_until_ms`, database clock). The row is also renewed, at the same
 * cost, every quarter lease. Between polls it answers at the version it last
 * applied, but only while its lease holds — counted on its own monotonic clock
 * from the moment it *sent* the renewal, with a 10 % margin, so it stops
 * trusting its caches before the database considers the lease over. When the
 * lease lapses (database unreachable, event loop stalled, row gone) it falls
 * back to the strict per-batch read (`VersionGate`). A lease is renewed only
 * while it is still live in the database; a lapsed one may have been passed
 * over by a writer after this replica's last read, so the replica registers
 * again and trusts only a version read after that.
 *
 * Writer side (`awaitReplicas`): after its change commits, a writer reads the
 * version v and waits until no row has a live lease and an applied version
 * below v. A replica either acknowledges within one poll (its next read starts
 * after the commit) or stops renewing, and its lease runs out; a dead replica
 * holds writes for at most one lease. Users, roles, organizations, password
 * changes, seeding, reset, restore and `migrate` all end with it, in the API
 * and the CLI; it never fails a change that has committed.
 *
 * The guarantee: a request that starts after a change made through Seedbed
 * has returned sees the change, on every replica. Requests concurrent with the
 * change may see either state. A change made outside Seedbed (raw SQL) bumps the
 * version through the triggers but nobody waits for it: lease replicas apply
 * it within one poll. `ACCESS_FRESHNESS=read` (the default on libSQL) has no such window.
 * Story: docs/freshness.md ("Freshness modes").
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { dbNowMs } from "../db/time.ts";
import type { Logger } from "../log.ts";
import { ACCESS_SCOPE, readSecurityVersion } from "./version.ts";

/** Share of the lease a replica trusts, on its own clock, after sending a renewal. */
const TRUST_SHARE = 0.9;
/**
 * Rows whose lease ended this long ago (replicas killed without SIGTERM) are deleted by the live replicas:
 * when one starts, and then about every STALE_ROW_MS. Harmless until then: writers only wait for live leases.
 */
const STALE_ROW_MS = 60_000;
/** Longest a writer waits for replicas (the longest lease the configuration allows, and a margin). */
const MAX_WAIT_MS = 61_000;

/** What a poll learns in one round trip: the security version, and whether this replica's row exists. */
export interface Probe {
  version: number;
  registered: boolean;
}

/** The poll's one query. */
export async function probeLease(db: Database, id: string): Promise<Probe> {
  const [row] = await db.rows<{ version: number | string | null; lease: number | string | null }>(sql`
    SELECT (SELECT version FROM security_versions WHERE scope = ${ACCESS_SCOPE}) AS version,
           (SELECT lease_until_ms FROM access_replicas WHERE id = ${id}) AS lease`);
  return { version: row?.version == null ? 0 : Number(row.version), registered: row?.lease != null };
}

export interface LeaseOptions {
  leaseMs: number;
  pollMs: number;
  /** The replica's own monotonic clock, in ms (default `performance.now()`; tests pass a fake one). */
  now?: () => number;
}

/** One replica's lease: see the module comment. */
export class LeaseReplica {
  readonly id = crypto.randomUUID();
  #version = -1;
  readonly #now: () => number;
  /** The local clock (`options.now`) until which the caches may answer without a read. */
  #trustUntil = 0;
  #registered = false;
  #lastRenewal = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> = Promise.resolve();
  #stopped = true;
  #failing = false;
  /** Polls done, and acknowledgements (renewals with a new version) written: for tests and the bench. */
  polls = 0;
  acks = 0;

  constructor(
    private readonly db: Database,
    /** Applies a version to the caches; called before the version is acknowledged. */
    private readonly apply: (version: number) => void,
    private readonly options: LeaseOptions,
    private readonly logger: Logger,
    private readonly probe: (id: string) => Promise<Probe> = (id) => probeLease(db, id),
  ) {
    this.#now = options.now ?? (() => performance.now());
  }

  /** The version to answer at while the lease holds; undefined when the caller must read it. */
  version(): number | undefined {
    return this.#now() < this.#trustUntil ? this.#version : undefined;
  }

  /** Registers, takes the first lease (when the database answers) and starts polling. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    await this.#sweep();
    this.#polling = this.#poll();
    await this.#polling;
  }

  #lastSweep = -Infinity;

  /** Deletes rows of replicas long dead (see STALE_ROW_MS); best effort. */
  async #sweep(): Promise<void> {
    this.#lastSweep = this.#now();
    const t = this.db.t.accessReplicas;
    await this.db.db.delete(t).where(sql`${t.leaseUntilMs} < ${dbNowMs(this.db)} - ${STALE_ROW_MS}`)
      .catch(() => {});
  }

  /** Stops polling, stops trusting, and removes the row so that no writer waits for this replica. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling;
    this.#unregister();
    const t = this.db.t.accessReplicas;
    await this.db.db.delete(t).where(sql`${t.id} = ${this.id}`).catch((err) =>
      this.logger.warn("access_lease_release_failed", {
        error: err instanceof Error ? err.message : String(err),
      })
    );
  }

  /** One poll now (tests use it to step the replica by hand). */
  pollNow(): Promise<void> {
    this.#polling = this.#polling.then(() => this.#pollOnce());
    return this.#polling;
  }

  async #poll(): Promise<void> {
    await this.#pollOnce();
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#polling = this.#polling.then(() => this.#poll());
    }, this.options.pollMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #unregister(): void {
    this.#registered = false;
    this.#trustUntil = 0;
    this.#lastRenewal = -Infinity;
  }

  async #pollOnce(): Promise<void> {
    const { db, options } = this;
    try {
      this.polls++;
      if (!this.#registered) {
        // A live row with nothing applied exists before the read that will be trusted: a writer that
        // commits after that read sees it and waits for the next poll's acknowledgement. An upsert, so
        // that a registration whose reply was lost, or a lapsed row, is simply taken up again.
        const now = dbNowMs(db);
        await db.run(sql`INSERT INTO access_replicas (id, applied_version, lease_until_ms)
          VALUES (${this.id}, -1, ${now} + ${options.leaseMs})
          ON CONFLICT (id) DO UPDATE SET applied_version = -1, lease_until_ms = excluded.lease_until_ms`);
        this.#registered = true;
      }
      const { version: v, registered } = await this.probe(this.id);
      if (this.#failing) {
        // The database answered: the outage is over, whatever this poll does next (it may have nothing to
        // renew yet), logged at the level its start was.
        this.#failing = false;
        this.logger.warn("access_lease_resumed", { replica: this.id, version: v });
      }
      if (!registered) {
        // The row is gone (removed after the lease had long lapsed, or by hand): writers no longer wait
        // for this replica, so it trusts nothing until it has registered again (next poll).
        this.#unregister();
        return;
      }
      const sent = this.#now();
      const moved = v !== this.#version;
      if (!moved && sent - this.#lastRenewal < options.leaseMs / 4) return;
      if (moved) {
        this.apply(v);
        this.#version = v;
      }
      // Renewed only while still live. A lapsed row may have been passed over by a writer that committed
      // after this poll's read: renewing it would bring back trust in a version older than that write.
      // Lease ends only grow, so a row live now was live at every earlier writer's check.
      const now = dbNowMs(db);
      const renewed = await db.rows<{ id: string }>(sql`
        UPDATE access_replicas SET applied_version = ${v}, lease_until_ms = ${now} + ${options.leaseMs}
        WHERE id = ${this.id} AND lease_until_ms > ${now} RETURNING id`);
      if (!renewed.length) {
        // Lapsed (or gone): register again, then trust only a version read after that.
        this.#unregister();
        return;
      }
      if (moved) this.acks++;
      this.#lastRenewal = sent;
      if (sent - this.#lastSweep > STALE_ROW_MS) await this.#sweep();
      if (!this.#stopped) this.#trustUntil = sent + options.leaseMs * TRUST_SHARE;
    } catch (err) {
      // The lease lapses on its own; requests read the version meanwhile. Logged once per outage.
      if (!this.#failing) {
        this.#failing = true;
        this.logger.warn("access_lease_poll_failed", {
          replica: this.id,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }
}

/**
 * Waits until every replica holding a live lease has applied the current
 * security version (call it after a security-relevant change has committed).
 * Returns the replicas waited for; without lease replicas it costs two reads.
 *
 * Never throws: the change has committed, and failing the request now would
 * only make a client retry it. When the database cannot be asked, it waits
 * `fallbackMs` instead (the lease length: replicas that cannot reach the
 * database either cannot renew, and stop trusting their caches by then).
 */
export async function awaitReplicas(
  db: Database,
  logger?: Logger,
  options: { pollMs?: number; fallbackMs?: number } = {},
): Promise<{ version: number; waitedMs: number; waitedFor: string[]; failed?: boolean }> {
  const t0 = performance.now();
  const waitedFor = new Set<string>();
  let version = -1;
  try {
    version = await readSecurityVersion(db);
    for (;;) {
      const now = dbNowMs(db);
      const behind = await db.rows<{ id: string; remaining: number | string }>(sql`
        SELECT id, lease_until_ms - ${now} AS remaining FROM access_replicas
        WHERE lease_until_ms > ${now} AND applied_version < ${version}`);
      const waitedMs = performance.now() - t0;
      if (!behind.length) {
        if (waitedMs > 100) {
          logger?.info("access_lease_wait", {
            version,
            waited_ms: Math.round(waitedMs),
            replicas: [...waitedFor],
          });
        }
        return { version, waitedMs, waitedFor: [...waitedFor] };
      }
      if (waitedMs > MAX_WAIT_MS) {
        logger?.error("access_lease_wait_abandoned", { version, replicas: behind.map((r) => r.id) });
        return { version, waitedMs, waitedFor: [...waitedFor], failed: true };
      }
      for (const r of behind) waitedFor.add(r.id);
      const soonest = Math.min(...behind.map((r) => Number(r.remaining)));
      await sleep(Math.max(1, Math.min(options.pollMs ?? 5, soonest)));
    }
  } catch (err) {
    const fallbackMs = options.fallbackMs ?? 2000;
    logger?.warn("access_lease_wait_failed", {
      error: err instanceof Error ? err.message : String(err),
      waiting_ms: fallbackMs,
    });
    await sleep(fallbackMs);
    return { version, waitedMs: performance.now() - t0, waitedFor: [...waitedFor], failed: true };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
