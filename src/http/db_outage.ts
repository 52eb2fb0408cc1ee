/**
 * Database blips stay blips, at the edge of the app:
 *
 * - An idempotent read (GET, HEAD) that failed because its connection was
 *   lost (a restarted server, a killed backend) is run once more before
 *   anyone sees a 503: the pool re-connects within DATABASE_RECONNECT_MAX_MS.
 * - The first such failure logs `database_unavailable` (warn); from then on
 *   a probe (`SELECT 1`, every 250 ms) watches for the database to answer
 *   and logs `database_recovered` at the same level, with the outage's
 *   length and the number of failed requests — an operator reading `warn`
 *   sees both the start and the end.
 *
 * `renderError` marks lost-connection responses with CONNECTION_LOST_HEADER;
 * this wrapper strips it before anything leaves the process.
 * Must never: retry a request that may have changed something (only GET and
 * HEAD), or retry more than once. Story: docs/reliability.md.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";

/** Internal marker of a 503 caused by a lost database connection (never sent to clients). */
export const CONNECTION_LOST_HEADER = "x-seedbed-connection-lost";

const PROBE_EVERY_MS = 250;
const RETRY_PAUSE_MS = 50;

/** Watches one outage at a time; see the module comment. */
export class OutageMonitor {
  #since: number | null = null;
  #failures = 0;
  #probe?: ReturnType<typeof setTimeout>;
  #stopped = false;

  constructor(private readonly db: Database, private readonly logger: Logger) {}

  get inOutage(): boolean {
    return this.#since !== null;
  }

  /** A request failed over a lost connection. */
  failed(error: string): void {
    this.#failures++;
    if (this.#since !== null || this.#stopped) return;
    this.#since = performance.now();
    this.logger.warn("database_unavailable", { error });
    this.#schedule();
  }

  #schedule(): void {
    this.#probe = setTimeout(async () => {
      try {
        await this.db.rows(sql`SELECT 1 AS ok`);
      } catch {
        if (!this.#stopped) this.#schedule();
        return;
      }
      this.logger.warn("database_recovered", {
        outage_ms: Math.round(performance.now() - this.#since!),
        failed_requests: this.#failures,
      });
      this.#since = null;
      this.#failures = 0;
    }, PROBE_EVERY_MS);
    Deno.unrefTimer(this.#probe);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#probe);
  }
}

type Fetch = (req: Request, ...rest: never[]) => Response | Promise<Response>;

/** Wraps the app's fetch: one retry of a read over a lost connection, and the outage monitor. */
export function withDatabaseRetry<F extends Fetch>(monitor: OutageMonitor, fetch: F): F {
  const wrapped = async (req: Request, ...rest: never[]): Promise<Response> => {
    const idempotent = req.method === "GET" || req.method === "HEAD";
    let res = await fetch(req, ...rest);
    if (!res.headers.has(CONNECTION_LOST_HEADER)) return res;
    if (idempotent) {
      await res.body?.cancel();
      // A beat for the pool to see its other dead sockets close, so the retry gets a live (or new) one.
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      res = await fetch(req, ...rest);
      if (!res.headers.has(CONNECTION_LOST_HEADER)) return res;
    }
    res.headers.delete(CONNECTION_LOST_HEADER);
    monitor.failed(`${req.method} ${new URL(req.url).pathname}: connection lost`);
    return res;
  };
  return wrapped as unknown as F;
}
