/**
 * SQL migrations with a way back, applied the way Alembic users expect:
 * up (all, `step`, or `to` a revision), down (`step`, `to` a revision, or
 * `base`), stamp, status with hashes, history, drift refusal, and a lock.
 * The files live in `migrations/<dialect>/` (see migration_files.ts and
 * docs/migrations.md): drizzle-kit writes the up file, the down file sits next to it.
 *
 * Must never break:
 * - Every applied migration is recorded in `seedbed_migrations` with the
 *   SHA-256 of its up file. A file that changed after it was applied is
 *   drift: reported by `status`; up and down refuse until it is resolved.
 * - Every run (up, down, stamp) is one transaction under one lock
 *   (`pg_advisory_xact_lock` on Postgres, `BEGIN IMMEDIATE` on SQLite): two
 *   replicas starting together never both apply a migration, and a failed
 *   run leaves nothing half-applied.
 * - SQLite: the transaction runs with foreign keys OFF (drizzle-kit rebuilds
 *   a table with DROP TABLE, which with foreign keys on cascades into, and
 *   empties, the child tables) and `PRAGMA foreign_key_check` must pass
 *   before it commits.
 * - A failing statement is reported with the database's own message.
 *
 * Story: docs/migrations.md ("What the migrator guarantees").
 */
import { getTableName, sql, type Table } from "drizzle-orm";
import { AppError } from "../errors.ts";
import { type Database, type Executor, liftStatementTimeout } from "./client.ts";
import {
  DEFAULT_MIGRATIONS_ROOT,
  type MigrationFile,
  type MigrationFolder,
  readMigrationFolder,
} from "./migration_files.ts";
import { type DataLoss, measureLosses } from "./migration_safety.ts";
import { listTables } from "./tables.ts";

export type { MigrationFile } from "./migration_files.ts";
export const MIGRATIONS_TABLE = "seedbed_migrations";

export type MigrationState = "applied" | "pending" | "drift" | "missing";

export interface MigrationStatus {
  idx: number;
  tag: string;
  /** Hash of the file on disk (or of the applied file when it is missing). */
  hash: string;
  state: MigrationState;
  appliedHash?: string;
  appliedAt?: Date;
}

export interface MigrateResult {
  applied: string[];
  head: string | null;
}

interface AppliedRow {
  idx: number;
  tag: string;
  hash: string;
  applied_at: string | number | Date;
}

export function folderFor(db: Database): MigrationFolder {
  return db.dialect === "sqlite" ? "sqlite" : "postgres";
}

/** Reads the migration files of the database's dialect, in order. */
export function readMigrations(db: Database, root: URL = DEFAULT_MIGRATIONS_ROOT): Promise<MigrationFile[]> {
  return readMigrationFolder(folderFor(db), root);
}

async function ensureTable(db: Database, ex: Executor): Promise<void> {
  const ts = db.dialect === "sqlite" ? "integer" : "timestamptz";
  await db.run(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (idx integer PRIMARY KEY, tag text NOT NULL, hash text NOT NULL, applied_at ${ts} NOT NULL)`,
    ex,
  );
}

async function tableExists(db: Database, ex: Executor = db.db): Promise<boolean> {
  const rows = db.dialect === "sqlite"
    ? await db.rows(
      sql`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATIONS_TABLE}`,
      ex,
    )
    : await db.rows(sql`SELECT to_regclass(${MIGRATIONS_TABLE}) AS name`, ex);
  return rows.length > 0 && rows[0].name !== null;
}

async function readApplied(db: Database, ex: Executor = db.db): Promise<AppliedRow[]> {
  if (!(await tableExists(db, ex))) return [];
  return await db.rows<AppliedRow>(
    sql.raw(`SELECT idx, tag, hash, applied_at FROM ${MIGRATIONS_TABLE} ORDER BY idx`),
    ex,
  );
}

function toDate(v: string | number | Date): Date {
  return v instanceof Date ? v : new Date(typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v);
}

function compare(files: MigrationFile[], applied: AppliedRow[]): MigrationStatus[] {
  const byIdx = new Map(applied.map((a) => [Number(a.idx), a]));
  const out: MigrationStatus[] = files.map((f) => {
    const a = byIdx.get(f.idx);
    byIdx.delete(f.idx);
    if (!a) return { idx: f.idx, tag: f.tag, hash: f.hash, state: "pending" };
    return {
      idx: f.idx,
      tag: f.tag,
      hash: f.hash,
      state: a.hash === f.hash && a.tag === f.tag ? "applied" : "drift",
      appliedHash: a.hash,
      appliedAt: toDate(a.applied_at),
    };
  });
  for (const a of byIdx.values()) {
    out.push({
      idx: Number(a.idx),
      tag: a.tag,
      hash: a.hash,
      state: "missing",
      appliedHash: a.hash,
      appliedAt: toDate(a.applied_at),
    });
  }
  return out.sort((x, y) => x.idx - y.idx);
}

/** Applied, pending, drifted and missing migrations, each with its hash. */
export async function migrationStatus(db: Database, root?: URL): Promise<MigrationStatus[]> {
  return compare(await readMigrations(db, root), await readApplied(db));
}

/** The tag of the newest applied migration (the schema version), or null. */
export async function schemaVersion(db: Database): Promise<string | null> {
  const applied = await readApplied(db);
  return applied.length ? applied[applied.length - 1].tag : null;
}

/** The tag of the newest migration file for this dialect (what `migrate` goes to). */
export async function headVersion(db: Database, root?: URL): Promise<string | null> {
  const files = await readMigrations(db, root);
  return files.length ? files[files.length - 1].tag : null;
}

function driftError(bad: MigrationStatus[]): AppError {
  const list = bad.map((s) =>
    s.state === "missing"
      ? `${s.tag} (applied, but its file is missing)`
      : `${s.tag} (applied hash ${s.appliedHash?.slice(0, 12)}, file hash ${s.hash.slice(0, 12)})`
  ).join(", ");
  return new AppError(
    "MIGRATION_DRIFT",
    `migration drift: ${list}. An applied migration must never change; restore the original file, ` +
      "or restore a backup and re-apply (if the database really is in the file's state: `deno task migrate stamp`)",
  );
}

/**
 * Resolves a revision the way a user types it: `head`, `base`, the full tag
 * (`0001_login_throttles`), its number (`1`, `0001`) or a unique prefix of the tag.
 * Returns the idx (-1 for base).
 */
export function resolveRevision(files: Pick<MigrationFile, "idx" | "tag">[], id: string): number {
  const want = id.trim();
  if (want === "base") return -1;
  if (want === "head") return files.length ? files[files.length - 1].idx : -1;
  const exact = files.find((f) => f.tag === want);
  if (exact) return exact.idx;
  if (/^\d+$/.test(want)) {
    const byNumber = files.find((f) => f.idx === Number(want));
    if (byNumber) return byNumber.idx;
  }
  const prefixed = files.filter((f) => f.tag.startsWith(want));
  if (prefixed.length === 1) return prefixed[0].idx;
  const known = files.map((f) => f.tag).join(", ") || "none";
  throw new AppError(
    "VALIDATION_ERROR",
    prefixed.length > 1
      ? `revision "${want}" is ambiguous: it matches ${prefixed.map((f) => f.tag).join(", ")}`
      : `unknown revision "${want}": the migrations are ${known} (or head, base)`,
  );
}

/** Options of an up run. At most one of `step` and `to`. */
export interface UpOptions {
  /** Apply at most this many pending migrations. */
  step?: number;
  /** Apply up to and including this revision (see resolveRevision). */
  to?: string;
}

/** Options of a down run. At most one of `step` and `to`; neither means one step. */
export interface DownOptions {
  /** Revert this many applied migrations, newest first. */
  step?: number;
  /** Revert every migration after this revision (`base`: all of them). */
  to?: string;
}

/** One migration a run would apply or revert. */
export interface PlannedMigration {
  idx: number;
  tag: string;
  statements: string[];
  /** The file the statements come from, relative to the migrations root. */
  path: string;
}

export interface DownPlan {
  steps: PlannedMigration[];
  /** The schema version after the run (null: base). */
  target: string | null;
  /** The data the steps would destroy, measured now (down plans only). */
  losses: (DataLoss & { tag: string })[];
}

function checkDrift(status: MigrationStatus[]): void {
  const bad = status.filter((s) => s.state === "drift" || s.state === "missing");
  if (bad.length) throw driftError(bad);
}

function planUp(files: MigrationFile[], status: MigrationStatus[], o: UpOptions): PlannedMigration[] {
  checkDrift(status);
  let pending = files.filter((f) => status.find((s) => s.idx === f.idx)?.state === "pending");
  if (o.to !== undefined) {
    const to = resolveRevision(files, o.to);
    const current = Math.max(-1, ...status.filter((s) => s.state === "applied").map((s) => s.idx));
    if (to < current) {
      const tag = files.find((f) => f.idx === current)?.tag;
      throw new AppError(
        "VALIDATION_ERROR",
        `${o.to} is behind the current revision ${tag}: to go back, use \`deno task migrate down --to ${o.to}\``,
      );
    }
    pending = pending.filter((f) => f.idx <= to);
  }
  if (o.step !== undefined) pending = pending.slice(0, o.step);
  return pending.map((f) => ({ idx: f.idx, tag: f.tag, statements: f.statements, path: f.up.path }));
}

function planDownSteps(
  files: MigrationFile[],
  status: MigrationStatus[],
  o: DownOptions,
): PlannedMigration[] {
  checkDrift(status);
  const applied = status.filter((s) => s.state === "applied").reverse();
  let chosen = applied.slice(0, o.step ?? 1);
  if (o.to !== undefined) {
    const to = resolveRevision(files, o.to);
    if (to !== -1 && !applied.some((s) => s.idx === to)) {
      throw new AppError(
        "VALIDATION_ERROR",
        `${o.to} is not applied, so there is nothing to go down to: the database is at ${
          applied[0]?.tag ?? "base"
        } (to go forward: \`deno task migrate up --to ${o.to}\`)`,
      );
    }
    chosen = applied.filter((s) => s.idx > to);
  }
  return chosen.map((s) => {
    const f = files.find((x) => x.idx === s.idx)!;
    if (!f.down) {
      throw new AppError(
        "MIGRATION_FAILED",
        `${f.tag} has no down migration (migrations/${
          f.up.path.replace(/\.sql$/, ".down.sql")
        } is missing): ` +
          "write it, or restore a backup taken before the migration",
      );
    }
    return { idx: f.idx, tag: f.tag, statements: f.down.statements, path: f.down.path };
  });
}

/** The database's own message for a failed statement (through Drizzle's and our wrapping). */
export function databaseCause(err: unknown): { message: string; code?: string } {
  let cur: unknown = err;
  let best: { message: string; code?: string } = { message: String(err) };
  for (let i = 0; i < 8 && cur && typeof cur === "object"; i++) {
    const e = cur as { message?: string; code?: unknown; cause?: unknown; name?: string };
    const code = typeof e.code === "string" ? e.code : undefined;
    // Drizzle's "Failed query: …" and our AppErrors wrap the driver's error: prefer the innermost.
    if (e.message && !/^Failed query:/.test(e.message) && e.name !== "AppError") {
      best = { message: e.message.replace(/^SQLITE_\w+: /, ""), code };
    }
    cur = e.cause;
  }
  return best;
}

function migrationFailed(m: PlannedMigration, direction: string, i: number, err: unknown): AppError {
  if (err instanceof AppError && (err.code === "MIGRATION_FAILED" || err.code === "MIGRATION_DRIFT")) {
    return err;
  }
  const cause = databaseCause(err);
  const stmt = m.statements[i].replace(/\s+/g, " ").slice(0, 160);
  const exists = /already exists/i.test(cause.message);
  return new AppError(
    "MIGRATION_FAILED",
    `migration ${m.tag} (${direction}) failed at statement ${i + 1} of ${m.statements.length} ` +
      `(${m.path}): ${cause.message}${cause.code ? ` [${cause.code}]` : ""}. ` +
      `Statement: ${stmt}${
        m.statements[i].length > 160 ? "…" : ""
      }. Nothing was changed: the run was rolled back.`,
    // `migrate` adds the way out once the run is rolled back (it looks at which tables are there).
    { cause: err, extra: exists ? { already_exists: m.tag } : {} },
  );
}

async function record(db: Database, tx: Executor, f: MigrationFile): Promise<void> {
  await db.run(
    db.dialect === "sqlite"
      ? sql`INSERT INTO ${
        sql.raw(MIGRATIONS_TABLE)
      } (idx, tag, hash, applied_at) VALUES (${f.idx}, ${f.tag}, ${f.hash}, ${Date.now()})`
      : sql`INSERT INTO ${
        sql.raw(MIGRATIONS_TABLE)
      } (idx, tag, hash, applied_at) VALUES (${f.idx}, ${f.tag}, ${f.hash}, now())`,
    tx,
  );
}

/** SQLite: foreign key violations the run left behind (checked before commit). */
async function foreignKeyViolations(db: Database, tx: Executor): Promise<string[]> {
  const rows = await db.rows<{ table: string; rowid: number | null; parent: string; fkid: number }>(
    sql.raw("PRAGMA foreign_key_check"),
    tx,
  );
  return rows.map((r) => `${r.table} row ${r.rowid ?? "?"} → ${r.parent}`);
}

/**
 * Runs `body` in one transaction under the migration lock. SQLite: with
 * foreign keys off (set before BEGIN: the pragma is a no-op inside a
 * transaction) and, when `ranSql(result)` says a migration ran, a foreign
 * key check before commit (a scan of every child table: skipped when nothing ran).
 */
async function underLock<T>(
  db: Database,
  body: (tx: Executor) => Promise<T>,
  ranSql: (result: T) => boolean = () => true,
): Promise<T> {
  if (db.dialect === "postgres") {
    return await db.transaction(async (tx) => {
      // An index build on a large table may take minutes: no statement timeout here (DATABASE_STATEMENT_TIMEOUT_MS).
      await liftStatementTimeout(db, tx);
      await db.run(sql`SELECT pg_advisory_xact_lock(hashtext(${"seedbed:migrate:" + db.namespace}))`, tx);
      await ensureTable(db, tx);
      return await body(tx);
    });
  }
  await db.run("PRAGMA foreign_keys = OFF");
  try {
    // deno-lint-ignore no-explicit-any
    return await (db.db as any).transaction(async (tx: Executor) => {
      await ensureTable(db, tx);
      const result = await body(tx);
      const violations = ranSql(result) ? await foreignKeyViolations(db, tx) : [];
      if (violations.length) {
        throw new AppError(
          "MIGRATION_FAILED",
          `the migration left ${violations.length} row(s) pointing at rows that do not exist ` +
            `(${violations.slice(0, 5).join(", ")}${
              violations.length > 5 ? ", …" : ""
            }); nothing was changed: the run was rolled back`,
        );
      }
      return result;
    }, { behavior: "immediate" });
  } finally {
    // The transaction took the connection with foreign keys off and closed it; should it not have
    // started, this turns them back on for the connection it left behind.
    await db.run("PRAGMA foreign_keys = ON").catch(() => {});
  }
}

/** SQLite: refuses a statement list that drops tables when foreign keys could not be switched off. */
async function assertRebuildSafe(db: Database, tx: Executor, m: PlannedMigration): Promise<void> {
  if (db.dialect !== "sqlite" || !m.statements.some((s) => /DROP\s+TABLE/i.test(s))) return;
  const [fk] = await db.rows<{ foreign_keys: number }>(sql.raw("PRAGMA foreign_keys"), tx);
  if (Number(fk?.foreign_keys) === 1) {
    throw new AppError(
      "MIGRATION_FAILED",
      `migration ${m.tag} drops a table, and foreign keys could not be switched off for it (a remote libSQL ` +
        "server?): with them on, dropping a table deletes the rows of every table that references it. Run it " +
        "against a local file, or switch foreign keys off on the server",
    );
  }
}

async function runStatements(
  db: Database,
  tx: Executor,
  m: PlannedMigration,
  direction: string,
): Promise<void> {
  await assertRebuildSafe(db, tx, m);
  for (let i = 0; i < m.statements.length; i++) {
    // drizzle-kit brackets SQLite rebuilds with PRAGMA foreign_keys=OFF/ON: inside the transaction they
    // are no-ops (the run already has them off), so they are skipped rather than sent.
    if (db.dialect === "sqlite" && /^PRAGMA\s+foreign_keys\s*=/i.test(m.statements[i].replace(/;\s*$/, ""))) {
      continue;
    }
    try {
      await db.run(m.statements[i], tx);
    } catch (err) {
      throw migrationFailed(m, direction, i, err);
    }
  }
}

/** The tables of the current schema (head) that the database lacks, the migrations table excepted. */
export async function missingSchemaTables(db: Database): Promise<string[]> {
  const present = new Set(await listTables(db));
  return Object.values(db.t).map((t) => getTableName(t as Table)).filter((n) => !present.has(n));
}

/**
 * The way out of an "already exists" failure (newcomer finding 6): when every table of the current schema is
 * there, the schema is complete and `stamp head` records every migration (`stamp <the failed one>` would record
 * only up to it and leave the later ones to fail the same way); otherwise it is partly there.
 */
async function alreadyExistsHint(db: Database, tag: string): Promise<string> {
  const missing = await missingSchemaTables(db).catch(() => null);
  if (missing !== null && missing.length === 0) {
    return ` The database already has this object, and every table of the current schema is there (for example ` +
      `after emptying ${MIGRATIONS_TABLE}): record every migration as applied without running anything with ` +
      `\`deno task migrate stamp head\` (\`stamp ${tag}\` would record only up to ${tag}, and the next ones ` +
      `would fail the same way).`;
  }
  return ` The database already has this object but not the whole current schema${
    missing?.length ? ` (missing: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""})` : ""
  }: it is partly migrated. Record the migrations whose objects are all there with ` +
    `\`deno task migrate stamp <the last of them>\` (\`migrate status\` lists them), then \`deno task migrate\`; ` +
    `see docs/migrations.md.`;
}

/**
 * Applies pending migrations under the lock: all of them, `step` of them, or
 * up `to` a revision. Refuses (MIGRATION_DRIFT) when an applied migration's
 * file changed or disappeared.
 */
export async function migrate(db: Database, root?: URL, options: UpOptions = {}): Promise<MigrateResult> {
  try {
    return await migrateUnderLock(db, root, options);
  } catch (err) {
    const tag = err instanceof AppError ? err.extra?.already_exists : undefined;
    if (err instanceof AppError && typeof tag === "string") {
      throw new AppError(err.code, err.message + await alreadyExistsHint(db, tag), {
        cause: err.cause,
        extra: err.extra,
      });
    }
    throw err;
  }
}

async function migrateUnderLock(
  db: Database,
  root: URL | undefined,
  options: UpOptions,
): Promise<MigrateResult> {
  const files = await readMigrations(db, root);
  return await underLock(db, async (tx) => {
    const status = compare(files, await readApplied(db, tx));
    const applied: string[] = [];
    for (const m of planUp(files, status, options)) {
      await runStatements(db, tx, m, "up");
      await record(db, tx, files.find((f) => f.idx === m.idx)!);
      applied.push(m.tag);
    }
    return { applied, head: files.length ? files[files.length - 1].tag : null };
  }, (r) => r.applied.length > 0);
}

/** What an up run would apply (for `--sql` and the CLI's summary); reads, changes nothing. */
export async function planMigrate(
  db: Database,
  root?: URL,
  options: UpOptions = {},
): Promise<PlannedMigration[]> {
  const files = await readMigrations(db, root);
  return planUp(files, compare(files, await readApplied(db)), options);
}

function targetAfter(
  status: MigrationStatus[],
  steps: PlannedMigration[],
): string | null {
  const reverted = new Set(steps.map((s) => s.idx));
  const left = status.filter((s) => s.state === "applied" && !reverted.has(s.idx));
  return left.length ? left[left.length - 1].tag : null;
}

/**
 * What a down run would revert, and the data it would destroy as the
 * database is now. Reads, changes nothing: the CLI shows it and asks.
 */
export async function planDown(db: Database, root?: URL, options: DownOptions = {}): Promise<DownPlan> {
  const files = await readMigrations(db, root);
  const status = compare(files, await readApplied(db));
  const steps = planDownSteps(files, status, options);
  const losses: DownPlan["losses"] = [];
  for (const s of steps) {
    for (const l of await measureLosses(db, s.statements)) losses.push({ ...l, tag: s.tag });
  }
  return { steps, target: targetAfter(status, steps), losses };
}

/**
 * Reverts applied migrations, newest first, under the lock, running each
 * one's down file and deleting its record. `expect` (the tags a confirmed
 * plan showed) makes the run refuse if the database moved in between.
 */
export async function migrateDown(
  db: Database,
  root?: URL,
  options: DownOptions & { expect?: string[] } = {},
): Promise<{ reverted: string[]; current: string | null }> {
  const files = await readMigrations(db, root);
  return await underLock(db, async (tx) => {
    const status = compare(files, await readApplied(db, tx));
    const steps = planDownSteps(files, status, options);
    if (options.expect && options.expect.join() !== steps.map((s) => s.tag).join()) {
      throw new AppError(
        "CONFLICT",
        `the migrations changed while you were deciding (now: ${
          steps.map((s) => s.tag).join(", ") || "none"
        }); run the command again`,
      );
    }
    for (const m of steps) {
      await runStatements(db, tx, m, "down");
      await db.run(sql`DELETE FROM ${sql.raw(MIGRATIONS_TABLE)} WHERE idx = ${m.idx}`, tx);
    }
    return { reverted: steps.map((s) => s.tag), current: targetAfter(status, steps) };
  }, (r) => r.reverted.length > 0);
}

export interface StampResult {
  before: string | null;
  after: string | null;
  /** Recorded as applied without running them. */
  marked: string[];
  /** Records removed (the database is said to be before them). */
  unmarked: string[];
  /** Records whose hash was replaced by the file's (they had drifted). */
  rehashed: string[];
  /** With `reset`: every record there was, emptied first (then `marked` holds what was recorded again). */
  cleared?: string[];
}

/**
 * Records the database as being at `revision` (`head`, `base`, a tag) without
 * running any migration, as `alembic stamp` does: every migration up to it is
 * recorded as applied (with its file's hash), every later record is removed.
 * For a database whose schema is already there (seed 000's "completely stuck" recipe).
 */
export async function stamp(
  db: Database,
  revision: string,
  root?: URL,
  options: { reset?: boolean } = {},
): Promise<StampResult> {
  const files = await readMigrations(db, root);
  const to = resolveRevision(files, revision);
  return await underLock(db, async (tx) => {
    let cleared: string[] | undefined;
    if (options.reset) {
      // Seed 000's "completely stuck" step 2 (DELETE FROM the history), under the lock, in this transaction.
      cleared = (await readApplied(db, tx)).map((a) => a.tag);
      await db.run(sql`DELETE FROM ${sql.raw(MIGRATIONS_TABLE)}`, tx);
    }
    const applied = await readApplied(db, tx);
    const byIdx = new Map(applied.map((a) => [Number(a.idx), a]));
    const result: StampResult = {
      before: applied.length ? applied[applied.length - 1].tag : null,
      after: files.find((f) => f.idx === to)?.tag ?? null,
      marked: [],
      unmarked: [],
      rehashed: [],
      ...(cleared ? { cleared, before: cleared.length ? cleared[cleared.length - 1] : null } : {}),
    };
    for (const a of applied) {
      if (Number(a.idx) > to || !files.some((f) => f.idx === Number(a.idx))) {
        await db.run(sql`DELETE FROM ${sql.raw(MIGRATIONS_TABLE)} WHERE idx = ${Number(a.idx)}`, tx);
        result.unmarked.push(a.tag);
        byIdx.delete(Number(a.idx));
      }
    }
    for (const f of files.filter((f) => f.idx <= to)) {
      const a = byIdx.get(f.idx);
      if (a && a.hash === f.hash && a.tag === f.tag) continue;
      if (a) {
        await db.run(sql`DELETE FROM ${sql.raw(MIGRATIONS_TABLE)} WHERE idx = ${f.idx}`, tx);
        result.rehashed.push(f.tag);
      } else result.marked.push(f.tag);
      await record(db, tx, f);
    }
    return result;
  }, () => false); // stamp runs no migration SQL
}

/** Drops every table (application, bookkeeping and migrations). Used by tests and `reset --hard`. */
export async function dropAllTables(db: Database): Promise<void> {
  const tables = await listTables(db);
  if (db.dialect === "sqlite") {
    await db.run("PRAGMA foreign_keys = OFF");
    for (const t of tables) await db.run(`DROP TABLE IF EXISTS "${t}"`);
    await db.run("PRAGMA foreign_keys = ON");
    return;
  }
  for (const t of tables) {
    await db.run(`DROP TABLE IF EXISTS "${t}" CASCADE`);
  }
}
