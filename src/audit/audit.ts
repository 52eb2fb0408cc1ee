/**
 * The audit trail: security-relevant events go to the `audit_logs` table and
 * to the JSON log, each with actor, organization, target and request id.
 *
 * Events (see docs/access.md): auth.login_succeeded, auth.login_failed,
 * auth.login_throttled, auth.password_changed, access.denied (every 403),
 * access.cross_organization (super admin acting on an organization),
 * role.*, user.*, organization.*, entitlements.changed, seeders.* and restore.*.
 * Must never drop an event unsaid: `recordSafely` keeps one the database cannot
 * take, in order and with its time, until it answers, and says what is lost at
 * shutdown. Story: docs/access.md ("Audit").
 */
import { and, desc, eq, gte, type SQL } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import { errorMessage, type Logger } from "../log.ts";

export interface AuditEvent {
  event: string;
  actorUserId?: number | null;
  organizationId?: number | null;
  /** What the event is about, e.g. `user:12`, `role:5`, `organization:3`, an email. */
  target?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, "details">> {
  id: number;
  details: Record<string, unknown>;
  createdAt: Date;
}

/** Events kept for a retry while the database is away; past this the oldest are dropped (and counted). */
const BACKLOG_MAX = 10_000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

export class AuditService {
  /** Events whose write failed, oldest first, each with the time it happened. */
  #backlog: { event: AuditEvent; at: Date }[] = [];
  #dropped = 0;
  #retry?: ReturnType<typeof setTimeout>;
  #delayMs = RETRY_MIN_MS;
  #flushing: Promise<void> | null = null;

  constructor(private readonly db: Database, private readonly logger: Logger) {}

  /** Events waiting for the database (see `recordSafely`). */
  get backlog(): number {
    return this.#backlog.length;
  }

  /**
   * Writes one event to the table and the log. Pass `executor` to write
   * inside a transaction (the event then commits or rolls back with the change).
   */
  async record(e: AuditEvent, executor: Executor = this.db.db, at?: Date): Promise<void> {
    const row = {
      event: e.event,
      actorUserId: e.actorUserId ?? null,
      organizationId: e.organizationId ?? null,
      target: e.target ?? null,
      requestId: e.requestId ?? null,
      details: e.details ?? {},
      ...(at ? { createdAt: at } : {}),
    };
    await executor.insert(this.db.t.auditLogs).values(row);
    this.logger.info("audit", {
      audit_event: row.event,
      actor_user_id: row.actorUserId,
      organization_id: row.organizationId,
      target: row.target,
      request_id: row.requestId,
      details: row.details,
    });
  }

  /**
   * The log line of an event (and so its metrics) without a row: for repeats of an event already
   * stored, such as every refusal of one throttled key (a scanner must not become database writes).
   */
  logOnly(e: AuditEvent): void {
    this.logger.info("audit", {
      audit_event: e.event,
      actor_user_id: e.actorUserId ?? null,
      organization_id: e.organizationId ?? null,
      target: e.target ?? null,
      request_id: e.requestId ?? null,
      details: e.details ?? {},
      stored: false,
    });
  }

  /**
   * Like `record`, but never throws (for denials, failures and runs that
   * already happened): an event the database cannot take now is kept, in
   * order and with its time, and written as soon as it answers again
   * (retried with backoff; `flush()` at shutdown). Security changes
   * themselves use `record` inside their transaction: no audit, no change.
   */
  async recordSafely(e: AuditEvent): Promise<void> {
    const at = new Date();
    if (this.#backlog.length === 0) {
      try {
        await this.record(e, this.db.db, at);
        return;
      } catch (err) {
        this.logger.error("audit_write_deferred", {
          audit_event: e.event,
          error: errorMessage(err).message,
          backlog: 1,
        });
      }
    }
    // Behind a backlog, keep the order: queue it too.
    if (this.#backlog.length >= BACKLOG_MAX) {
      this.#backlog.shift();
      this.#dropped++;
    }
    this.#backlog.push({ event: e, at });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#retry !== undefined || this.#flushing) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.flush().then((ok) => {
        this.#delayMs = ok ? RETRY_MIN_MS : Math.min(this.#delayMs * 2, RETRY_MAX_MS);
        if (!ok) this.#schedule();
      });
    }, this.#delayMs);
    Deno.unrefTimer(this.#retry);
  }

  /** Writes the backlog now; true when nothing is left (logged at the level its start was). */
  async flush(): Promise<boolean> {
    while (this.#flushing) await this.#flushing;
    if (this.#backlog.length === 0) return true;
    let written = 0;
    const run = (async () => {
      while (this.#backlog.length) {
        const { event, at } = this.#backlog[0];
        await this.record(event, this.db.db, at);
        this.#backlog.shift();
        written++;
      }
    })();
    this.#flushing = run.catch(() => {}).finally(() => (this.#flushing = null));
    try {
      await run;
      this.logger.error("audit_backlog_written", { written, dropped: this.#dropped });
      this.#dropped = 0;
      return true;
    } catch {
      return false;
    } finally {
      await this.#flushing;
    }
  }

  /** Stops retrying (shutdown, after a last `flush`); says what is lost, if anything. */
  close(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#backlog.length) {
      this.logger.error("audit_backlog_lost", {
        events: this.#backlog.length,
        dropped: this.#dropped,
        audit_events: [...new Set(this.#backlog.map((b) => b.event.event))],
      });
    }
  }

  /** Recent events, newest first (optionally one organization's, or one event name's). */
  async list(
    filter: { organizationId?: number; event?: string; since?: Date; limit?: number; offset?: number } = {},
  ): Promise<AuditRecord[]> {
    const t = this.db.t.auditLogs;
    const conds: SQL[] = [];
    if (filter.organizationId !== undefined) conds.push(eq(t.organizationId, filter.organizationId));
    if (filter.event) conds.push(eq(t.event, filter.event));
    if (filter.since) conds.push(gte(t.createdAt, filter.since));
    const rows = await this.db.db.select().from(t).where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(t.id)).limit(filter.limit ?? 100).offset(filter.offset ?? 0);
    return rows as AuditRecord[];
  }
}
