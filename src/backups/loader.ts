/**
 * Loading a backup's rows into the database, inside the restore's single
 * transaction — in bulk, never a row at a time:
 *
 * - Postgres (postgres.js): each table streams in through `COPY … FROM
 *   STDIN`, the rows rewritten from JSON to COPY text on the way. As
 *   pg_restore does, foreign keys are dropped for the load and re-added at
 *   the end (one validating pass each); for a large restore the secondary
 *   indexes are rebuilt after the load too (a sort beats a million B-tree
 *   inserts). Then the identity sequences are advanced past the restored ids.
 * - Embedded PGlite: the same, with multi-row `INSERT … SELECT FROM
 *   json_populate_recordset($1)` batches instead of COPY.
 * - libSQL: multi-row Drizzle inserts with foreign-key checks deferred to
 *   the end of the transaction, checked explicitly (`PRAGMA
 *   foreign_key_check`) so a dangling reference is named.
 *
 * Any failure throws, and the caller's transaction rolls everything back —
 * DDL included, on Postgres.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import { rowsPerStatement } from "../db/bulk_insert.ts";
import { sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database, Tx } from "../db/client.ts";
import { parseRow, toDrizzleRow } from "./format.ts";
import { ByteWriter, copyLine, JsonRowToCopy } from "./pg_copy/json_to_pg_copy.ts";
import { type CopyIn, openCopyIn, type PostgresJs, postgresJsOfTx } from "../db/pg_copy.ts";
import { type BackupTable, dialectTable } from "./tables.ts";

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const BATCH_ROWS = 2000;
const BATCH_CHARS = 4 * 1024 * 1024;
/** From this many rows on, secondary indexes are dropped for the load and rebuilt after it. */
export const REBUILD_INDEXES_FROM_ROWS = 50_000;

interface Ddl {
  table: string;
  name: string;
  definition: string;
}

function byTable(items: Ddl[]): Map<string, Ddl[]> {
  const out = new Map<string, Ddl[]>();
  for (const it of items) out.set(it.table, [...(out.get(it.table) ?? []), it]);
  return out;
}

/** One restore's loading session over a transaction. */
export class Loader {
  #fks: Ddl[] = [];
  #indexes: Ddl[] = [];
  #pg: PostgresJs | null;
  #copy: CopyIn | null = null;
  #batch: string[] = [];
  #batchChars = 0;
  #batchFirstRow = 1;
  #table: BackupTable | null = null;
  #converter: JsonRowToCopy | null = null;
  #writer = new ByteWriter();
  #spare: Uint8Array | null = null;
  #inFlight: Promise<void> = Promise.resolve();
  readonly counts: Record<string, number> = {};

  constructor(
    private readonly db: Database,
    private readonly tx: Tx,
    private readonly tables: BackupTable[],
    private readonly expectedRows = 0,
    private readonly rebuildIndexesFromRows = REBUILD_INDEXES_FROM_ROWS,
  ) {
    this.#pg = postgresJsOfTx(db, tx);
  }

  /** Removes the application data (and, on Postgres, the foreign keys and maybe indexes until `finish`). */
  async begin(): Promise<void> {
    const names = this.tables.map((t) => t.name);
    if (this.db.dialect === "postgres") {
      const inTables = sql.join(names.map((n) => sql`${n}`), sql`, `);
      this.#fks = await this.db.rows<Ddl>(
        sql`SELECT r.relname AS "table", c.conname AS name, pg_get_constraintdef(c.oid) AS definition
            FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
            WHERE c.contype = 'f' AND r.relnamespace = current_schema()::regnamespace AND r.relname IN (${inTables})
            ORDER BY r.relname, c.conname`,
        this.tx,
      );
      for (const [table, fks] of byTable(this.#fks)) {
        const drops = fks.map((fk) => `DROP CONSTRAINT ${quote(fk.name)}`).join(", ");
        await this.db.run(`ALTER TABLE ${quote(table)} ${drops}`, this.tx);
      }
      if (this.expectedRows >= this.rebuildIndexesFromRows) {
        // Secondary indexes only: those backing a constraint (the primary keys) stay.
        this.#indexes = await this.db.rows<Ddl>(
          sql`SELECT i.tablename AS "table", i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
              WHERE i.schemaname = current_schema() AND i.tablename IN (${inTables})
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = to_regclass(quote_ident(i.indexname)))
              ORDER BY i.tablename, i.indexname`,
          this.tx,
        );
        if (this.#indexes.length) {
          await this.db.run(`DROP INDEX ${this.#indexes.map((ix) => quote(ix.name)).join(", ")}`, this.tx);
        }
      }
      await this.db.run(`TRUNCATE ${names.map(quote).join(", ")}`, this.tx);
    } else {
      await this.db.run("PRAGMA defer_foreign_keys = ON", this.tx);
      for (const t of [...this.tables].reverse()) await this.db.run(`DELETE FROM ${quote(t.name)}`, this.tx);
    }
  }

  /** Starts loading table `t` (ends the previous one). */
  async startTable(t: BackupTable): Promise<void> {
    await this.endTable();
    this.#table = t;
    this.#batchFirstRow = 1;
    this.counts[t.name] = 0;
    if (this.#pg) {
      const columns = t.columns.map((c) => quote(c.name)).join(", ");
      this.#copy = await openCopyIn(this.#pg, `COPY ${quote(t.name)} (${columns}) FROM STDIN`);
      this.#converter = new JsonRowToCopy(t);
    }
  }

  /** True when rows go in through COPY (then prefer `insertBytes`). */
  get copying(): boolean {
    return this.#pg !== null;
  }

  /** Adds rows of the current table given as [start, end) spans of JSON bytes (COPY only). */
  async insertBytes(data: Uint8Array, spans: number[]): Promise<void> {
    const t = this.#table;
    const copy = this.#copy;
    if (!t || !copy || !this.#converter) throw new Error("rows before any table");
    if (copy.error) throw copy.error;
    let n = this.counts[t.name];
    for (let i = 0; i < spans.length; i += 2) {
      this.#converter.convert(data, spans[i], spans[i + 1], this.#writer, ++n);
    }
    this.counts[t.name] = n;
    if (this.#writer.o >= 256 * 1024) await this.#send(copy);
  }

  /**
   * Writes the converted bytes to the COPY stream. Two buffers take turns: one
   * fills while the other is being written, and a buffer is reused only once
   * its write has completed — no allocation per chunk.
   */
  async #send(copy: CopyIn): Promise<void> {
    const w = this.#writer;
    if (w.o === 0) return;
    await this.#inFlight;
    if (copy.error) throw copy.error;
    const full = w.buf;
    const chunk = full.subarray(0, w.o);
    this.#inFlight = new Promise<void>((resolve) => copy.stream.write(chunk, () => resolve()));
    w.buf = this.#spare && this.#spare.length >= full.length ? this.#spare : new Uint8Array(full.length);
    w.o = 0;
    this.#spare = full;
  }

  /** Adds row lines (JSON objects) of the current table. */
  async insert(lines: string[]): Promise<void> {
    const t = this.#table;
    if (!t) throw new Error("rows before any table");
    if (this.#copy) {
      const copy = this.#copy;
      if (copy.error) throw copy.error;
      let text = "";
      let n = this.#batchFirstRow + this.counts[t.name];
      for (const line of lines) text += copyLine(t, parseRow(t, line, n++));
      this.counts[t.name] += lines.length;
      if (!copy.stream.write(text)) {
        await new Promise<void>((resolve) => copy.stream.once("drain", resolve));
      }
      if (copy.error) throw copy.error;
      return;
    }
    for (const line of lines) {
      this.#batch.push(line);
      this.#batchChars += line.length;
      if (this.#batch.length >= BATCH_ROWS || this.#batchChars >= BATCH_CHARS) await this.#flush();
    }
  }

  /** Finishes the current table. */
  async endTable(): Promise<void> {
    if (this.#copy) {
      const copy = this.#copy;
      await this.#send(copy);
      await this.#inFlight;
      this.#copy = null;
      this.#converter = null;
      copy.stream.end();
      await copy.done; // the server's verdict on the whole COPY
    } else {
      await this.#flush();
    }
    this.#table = null;
  }

  /**
   * Abandons a COPY in progress (sends CopyFail) so the connection leaves
   * COPY mode and the transaction can roll back. Call before rethrowing.
   */
  async abort(reason: unknown): Promise<void> {
    const copy = this.#copy;
    this.#copy = null;
    if (!copy) return;
    copy.stream.destroy(reason instanceof Error ? reason : new Error(String(reason)));
    await copy.done.catch(() => {});
  }

  /** One multi-row insert of the buffered lines (PGlite, libSQL). */
  async #flush(): Promise<void> {
    const t = this.#table;
    if (!t || this.#batch.length === 0) return;
    const lines = this.#batch;
    this.#batch = [];
    this.#batchChars = 0;
    const first = this.#batchFirstRow;
    this.#batchFirstRow += lines.length;
    if (this.db.dialect === "postgres") {
      const cols = t.columns.map((c) => quote(c.name)).join(", ");
      for (let i = 0; i < lines.length; i++) parseRow(t, lines[i], first + i);
      await this.db.run(
        sql`INSERT INTO ${sql.raw(quote(t.name))} (${sql.raw(cols)}) SELECT ${
          sql.raw(cols)
        } FROM json_populate_recordset(NULL::${sql.raw(quote(t.name))}, ${
          "[" + lines.join(",") + "]"
        }::json)`,
        this.tx,
      );
    } else {
      const rows = lines.map((l, i) => toDrizzleRow(t, parseRow(t, l, first + i)));
      const table = dialectTable(this.db, t) as unknown as PgTable;
      // Sized for SQLite's limit on either dialect (PGlite takes this path too).
      const per = rowsPerStatement("sqlite", t.columns.length);
      for (let i = 0; i < rows.length; i += per) {
        await this.tx.insert(table).values(rows.slice(i, i + per));
      }
    }
    this.counts[t.name] = (this.counts[t.name] ?? 0) + lines.length;
  }

  /** Rebuilds indexes, restores the foreign keys (validating every reference) and advances the id sequences. */
  async finish(): Promise<void> {
    await this.endTable();
    if (this.db.dialect === "postgres") {
      for (const ix of this.#indexes) await this.db.run(ix.definition, this.tx);
      for (const [table, fks] of byTable(this.#fks)) {
        const adds = fks.map((fk) => `ADD CONSTRAINT ${quote(fk.name)} ${fk.definition}`).join(", ");
        await this.db.run(`ALTER TABLE ${quote(table)} ${adds}`, this.tx);
      }
      await this.#advancePostgresSequences();
    } else {
      const bad = await this.db.rows<{ table: string; rowid: number; parent: string }>(
        sql`PRAGMA foreign_key_check`,
        this.tx,
      );
      if (bad.length) {
        const b = bad[0];
        throw new Error(
          `a restored row of ${b.table} (rowid ${b.rowid}) references a missing row of ${b.parent}` +
            (bad.length > 1 ? ` (and ${bad.length - 1} more dangling references)` : ""),
        );
      }
      for (const t of this.tables) await this.#advanceSqliteSequence(t);
    }
  }

  /** setval past the restored ids (never backwards), every table in one round trip. */
  async #advancePostgresSequences(): Promise<void> {
    const lit = (v: string) => `'${v.replaceAll("'", "''")}'`;
    const pairs = this.tables.map((t) => `(${lit(t.name)}, ${lit(t.primaryKey.name)})`).join(", ");
    await this.db.run(
      `DO $restore$ DECLARE r record; seq text; top bigint; used bigint; BEGIN
         FOR r IN SELECT * FROM (VALUES ${pairs}) AS v(tbl, col) LOOP
           seq := pg_get_serial_sequence(quote_ident(r.tbl), r.col);
           CONTINUE WHEN seq IS NULL;
           EXECUTE format('SELECT max(%I) FROM %I', r.col, r.tbl) INTO top;
           EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM %s', seq) INTO used;
           top := GREATEST(COALESCE(top, 0), used);
           IF top > 0 THEN PERFORM setval(seq, top, true); END IF;
         END LOOP;
       END $restore$`,
      this.tx,
    );
  }

  async #advanceSqliteSequence(t: BackupTable): Promise<void> {
    const pk = quote(t.primaryKey.name);
    const [r] = await this.db.rows<{ max_id: number | null; seq: number | null }>(
      sql`SELECT (SELECT max(${sql.raw(pk)}) FROM ${sql.raw(quote(t.name))}) AS max_id,
                 (SELECT seq FROM sqlite_sequence WHERE name = ${t.name}) AS seq`,
      this.tx,
    );
    const max = Number(r?.max_id ?? 0);
    if (max === 0) return;
    if (r.seq === null) {
      await this.db.run(sql`INSERT INTO sqlite_sequence (name, seq) VALUES (${t.name}, ${max})`, this.tx);
    } else if (Number(r.seq) < max) {
      await this.db.run(sql`UPDATE sqlite_sequence SET seq = ${max} WHERE name = ${t.name}`, this.tx);
    }
  }
}
