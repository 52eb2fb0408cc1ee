/**
 * The backup catalog (`backups` table): one row per backup, from `pending`
 * to `completed` (with size, SHA-256, row counts and manifest), `failed`
 * (with the reason) or `pruned` (object deleted by retention). It is a
 * bookkeeping table, so it survives restore and reset, and it is what
 * verification trusts — not the object's own bytes. Story: docs/backups.md.
 */
import { and, count, desc, eq, ne, type SQL } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import type { BackupKind, Manifest } from "./format.ts";

export type BackupStatus = "pending" | "completed" | "failed" | "pruned";

export interface BackupRecord {
  id: number;
  s3Key: string;
  status: BackupStatus;
  kind: BackupKind;
  executionId: number | null;
  createdBy: string;
  sizeBytes: number | null;
  sha256: string | null;
  rowCounts: Record<string, number> | null;
  manifest: Manifest | null;
  schemaVersion: string | null;
  dialect: string;
  errorMessage: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

export interface ListOptions {
  limit: number;
  offset: number;
  status?: BackupStatus;
  kind?: BackupKind;
  executionId?: number;
}

/** Repository of the `backups` table. */
export class BackupCatalog {
  constructor(private readonly db: Database) {}

  get #t() {
    return this.db.t.backups;
  }

  /** Records a backup about to be written (under a placeholder key until `setKey`). */
  async createPending(input: {
    kind: BackupKind;
    executionId: number | null;
    createdBy: string;
    dialect: string;
    schemaVersion: string | null;
    createdAt: Date;
  }): Promise<BackupRecord> {
    const [row] = await this.db.db.insert(this.#t).values({
      createdAt: input.createdAt,
      s3Key: `pending/${crypto.randomUUID()}`,
      status: "pending",
      kind: input.kind,
      executionId: input.executionId,
      createdBy: input.createdBy,
      dialect: input.dialect,
      schemaVersion: input.schemaVersion,
    }).returning();
    return row as BackupRecord;
  }

  async setKey(id: number, s3Key: string): Promise<void> {
    await this.db.db.update(this.#t).set({ s3Key }).where(eq(this.#t.id, id));
  }

  async complete(
    id: number,
    r: { sizeBytes: number; sha256: string; manifest: Manifest },
  ): Promise<BackupRecord> {
    const [row] = await this.db.db.update(this.#t).set({
      status: "completed",
      sizeBytes: r.sizeBytes,
      sha256: r.sha256,
      rowCounts: r.manifest.row_counts,
      manifest: r.manifest as unknown as Record<string, unknown>,
      completedAt: new Date(),
      errorMessage: null,
    }).where(eq(this.#t.id, id)).returning();
    return row as BackupRecord;
  }

  async fail(id: number, message: string): Promise<void> {
    await this.db.db.update(this.#t).set({ status: "failed", errorMessage: message.slice(0, 2000) })
      .where(eq(this.#t.id, id));
  }

  async markPruned(id: number): Promise<void> {
    await this.db.db.update(this.#t).set({ status: "pruned" }).where(eq(this.#t.id, id));
  }

  /** Registers an object found in S3 but not in the catalog (restore into a fresh database). */
  async insertImported(r: {
    s3Key: string;
    createdBy: string;
    sizeBytes: number;
    sha256: string;
    manifest: Manifest;
  }): Promise<BackupRecord> {
    const [row] = await this.db.db.insert(this.#t).values({
      s3Key: r.s3Key,
      status: "completed",
      kind: "imported",
      executionId: r.manifest.execution_id,
      createdBy: r.createdBy,
      sizeBytes: r.sizeBytes,
      sha256: r.sha256,
      rowCounts: r.manifest.row_counts,
      manifest: r.manifest as unknown as Record<string, unknown>,
      schemaVersion: r.manifest.schema_version,
      dialect: r.manifest.dialect,
      createdAt: new Date(r.manifest.created_at),
      completedAt: new Date(),
    }).returning();
    return row as BackupRecord;
  }

  async byId(id: number): Promise<BackupRecord | null> {
    const [row] = await this.db.db.select().from(this.#t).where(eq(this.#t.id, id)).limit(1);
    return (row as BackupRecord) ?? null;
  }

  async byKey(key: string): Promise<BackupRecord | null> {
    const [row] = await this.db.db.select().from(this.#t).where(eq(this.#t.s3Key, key)).limit(1);
    return (row as BackupRecord) ?? null;
  }

  /** The newest completed backup, other than safety backups taken before a restore. */
  async latestCompleted(): Promise<BackupRecord | null> {
    const [row] = await this.db.db.select().from(this.#t)
      .where(and(eq(this.#t.status, "completed"), ne(this.#t.kind, "safety")))
      .orderBy(desc(this.#t.createdAt), desc(this.#t.id)).limit(1);
    return (row as BackupRecord) ?? null;
  }

  /** The newest completed, non-safety backup that holds at least one row (named when "latest" is empty). */
  async latestNonEmpty(): Promise<BackupRecord | null> {
    const rows = await this.db.db.select().from(this.#t)
      .where(and(eq(this.#t.status, "completed"), ne(this.#t.kind, "safety")))
      .orderBy(desc(this.#t.createdAt), desc(this.#t.id)).limit(200);
    return (rows as BackupRecord[]).find((r) => (r.manifest?.total_rows ?? 0) > 0) ?? null;
  }

  /** The newest completed backup taken for seeding execution `executionId`. */
  async latestForExecution(executionId: number): Promise<BackupRecord | null> {
    const [row] = await this.db.db.select().from(this.#t)
      .where(and(eq(this.#t.status, "completed"), eq(this.#t.executionId, executionId)))
      .orderBy(desc(this.#t.createdAt), desc(this.#t.id)).limit(1);
    return (row as BackupRecord) ?? null;
  }

  /** Every completed backup, newest first (retention). */
  async completedNewestFirst(): Promise<BackupRecord[]> {
    return await this.db.db.select().from(this.#t).where(eq(this.#t.status, "completed"))
      .orderBy(desc(this.#t.createdAt), desc(this.#t.id)) as BackupRecord[];
  }

  /** A page of the catalog, newest first, with the total count. */
  async list(o: ListOptions): Promise<{ items: BackupRecord[]; total: number }> {
    const where: SQL[] = [];
    if (o.status) where.push(eq(this.#t.status, o.status));
    if (o.kind) where.push(eq(this.#t.kind, o.kind));
    if (o.executionId !== undefined) where.push(eq(this.#t.executionId, o.executionId));
    const cond = where.length ? and(...where) : undefined;
    const items = await this.db.db.select().from(this.#t).where(cond)
      .orderBy(desc(this.#t.createdAt), desc(this.#t.id)).limit(o.limit).offset(o.offset);
    const [{ n }] = await this.db.db.select({ n: count() }).from(this.#t).where(cond);
    return { items: items as BackupRecord[], total: Number(n) };
  }
}
