/**
 * The execution history (`seeder_executions`). Every write here runs outside
 * the seeding transaction, so the record of a failed run survives the
 * rollback of its data. Story: docs/seeding.md ("How the engine works").
 */
import { count, desc, eq } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { Schema } from "../db/schema.ts";
import type { AppEnv } from "../config.ts";
import type { Row } from "./types.ts";

export type ExecutionRow = Row<Schema["seederExecutions"]>;
export type ExecutionKind = "execute" | "reset" | "restore" | "dry_run";
export type ExecutionStatus = "pending" | "running" | "completed" | "failed";

export interface NewExecution {
  kind: ExecutionKind;
  triggeredBy: string;
  triggeredByUserId?: number | null;
  environment: AppEnv;
  dryRun: boolean;
  options: Record<string, unknown>;
}

export interface ExecutionEnd {
  results: Record<string, unknown>;
  totals?: { created: number; updated: number; deleted: number };
  backupCreated: boolean;
  backupS3Key: string | null;
  warnings: string[];
}

/** Data access for seeding runs. */
export class ExecutionsRepository {
  constructor(private readonly db: Database) {}

  private get table() {
    return this.db.t.seederExecutions;
  }

  /** Records a new run as `pending`. */
  async create(input: NewExecution): Promise<ExecutionRow> {
    const [row] = await this.db.db.insert(this.table).values({
      status: "pending",
      kind: input.kind,
      triggeredBy: input.triggeredBy,
      triggeredByUserId: input.triggeredByUserId ?? null,
      environment: input.environment,
      dryRun: input.dryRun,
      options: input.options,
    }).returning();
    return row;
  }

  /** pending → running; stamps `started_at`. */
  async markRunning(id: number): Promise<Date> {
    const startedAt = new Date();
    await this.db.db.update(this.table).set({ status: "running", startedAt }).where(eq(this.table.id, id));
    return startedAt;
  }

  /** Records the run's backup as soon as it exists (so a later failure still shows it). */
  async recordBackup(id: number, s3Key: string | null, warnings: string[]): Promise<void> {
    await this.db.db.update(this.table).set({
      backupCreated: s3Key !== null,
      backupS3Key: s3Key,
      warnings,
    }).where(eq(this.table.id, id));
  }

  /** running → completed, with results, totals and timing. */
  async complete(id: number, startedAt: Date, end: ExecutionEnd): Promise<void> {
    const finishedAt = new Date();
    await this.db.db.update(this.table).set({
      status: "completed",
      results: end.results,
      totalCreated: end.totals?.created ?? 0,
      totalUpdated: end.totals?.updated ?? 0,
      totalDeleted: end.totals?.deleted ?? 0,
      backupCreated: end.backupCreated,
      backupS3Key: end.backupS3Key,
      warnings: end.warnings,
      finishedAt,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    }).where(eq(this.table.id, id));
  }

  /** → failed, with the error message and stack trace. */
  async fail(
    id: number,
    startedAt: Date | null,
    error: { message: string; traceback: string },
    end: Partial<ExecutionEnd> = {},
  ): Promise<void> {
    const finishedAt = new Date();
    await this.db.db.update(this.table).set({
      status: "failed",
      errorMessage: error.message,
      errorTraceback: error.traceback,
      ...(end.results ? { results: end.results } : {}),
      ...(end.warnings ? { warnings: end.warnings } : {}),
      ...(end.backupCreated !== undefined
        ? { backupCreated: end.backupCreated, backupS3Key: end.backupS3Key }
        : {}),
      startedAt: startedAt ?? finishedAt,
      finishedAt,
      durationMs: startedAt ? finishedAt.getTime() - startedAt.getTime() : 0,
    }).where(eq(this.table.id, id));
  }

  /** Removes a record (a run refused by the lock never ran). */
  async delete(id: number): Promise<void> {
    await this.db.db.delete(this.table).where(eq(this.table.id, id));
  }

  async get(id: number): Promise<ExecutionRow | undefined> {
    const [row] = await this.db.db.select().from(this.table).where(eq(this.table.id, id)).limit(1);
    return row;
  }

  /** Newest first. */
  async list(skip: number, limit: number): Promise<{ items: ExecutionRow[]; total: number }> {
    const items = await this.db.db.select().from(this.table).orderBy(desc(this.table.id)).limit(limit).offset(
      skip,
    );
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.table);
    return { items, total: Number(n) };
  }
}

/** The API/CLI view of an execution record (snake_case, ISO timestamps). */
export function executionJson(r: ExecutionRow) {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    status: r.status as ExecutionStatus,
    kind: r.kind as ExecutionKind,
    triggered_by: r.triggeredBy,
    triggered_by_user_id: r.triggeredByUserId,
    environment: r.environment,
    dry_run: r.dryRun,
    options: r.options,
    results: r.results,
    total_created: r.totalCreated,
    total_updated: r.totalUpdated,
    total_deleted: r.totalDeleted,
    backup_created: r.backupCreated,
    backup_s3_key: r.backupS3Key,
    warnings: r.warnings,
    error_message: r.errorMessage,
    error_traceback: r.errorTraceback,
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    duration_ms: r.durationMs,
    created_at: iso(r.createdAt),
  };
}

export type ExecutionJson = ReturnType<typeof executionJson>;
