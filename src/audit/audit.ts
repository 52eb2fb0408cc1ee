/**
 * The audit trail: security-relevant events go to the `audit_logs` table and
 * to the JSON log, each with actor, organization, target and request id.
 *
 * Events (see docs/access.md): auth.login_succeeded, auth.login_failed,
 * auth.login_throttled, auth.password_changed, access.denied (every 403),
 * access.cross_organization (super admin acting on an organization),
 * role.*, user.*, organization.*, entitlements.changed, seeders.* and restore.*.
 */
import { and, desc, eq, gte, type SQL } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import type { Logger } from "../log.ts";

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

export class AuditService {
  constructor(private readonly db: Database, private readonly logger: Logger) {}

  /**
   * Writes one event to the table and the log. Pass `executor` to write
   * inside a transaction (the event then commits or rolls back with the change).
   */
  async record(e: AuditEvent, executor: Executor = this.db.db): Promise<void> {
    const row = {
      event: e.event,
      actorUserId: e.actorUserId ?? null,
      organizationId: e.organizationId ?? null,
      target: e.target ?? null,
      requestId: e.requestId ?? null,
      details: e.details ?? {},
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

  /** Like `record`, but a failure to write is logged instead of thrown (for denials and failures). */
  async recordSafely(e: AuditEvent): Promise<void> {
    try {
      await this.record(e);
    } catch (err) {
      this.logger.error("audit_write_failed", { audit_event: e.event, error: (err as Error).message });
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
