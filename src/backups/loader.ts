/**
 * Loading a backup's rows into the database, inside the restore's single
 * transaction — in bulk, never a row at a time:
 *
 * - Postgres (postgres.js): each table streams in through `COPY … FROM
 *   STDIN`, the rows rewritten from JSON to COPY text on the way.
 * - Embedded PGlite: multi-row `INSERT … SELECT FROM
 *   json_populate_recordset($1)` batches instead of COPY.
 * - libSQL: multi-row Drizzle inserts.
 *
 * Around the rows, the dialect's own preparation and checks are in
 * src/db/bulk_load.ts (as pg_restore does: foreign keys, and for a large
 * restore the secondary indexes, dropped for the load and re-added at the
 * end; identity counters advanced past the restored ids; on libSQL,
 * foreign-key checks deferred and then run explicitly so a dangling
 * reference is named).
 *
 * Any failure throws, and the caller's transaction rolls everything back —
 * DDL included, on Postgres.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import { rowsPerStatement } from "../db/bulk_insert.ts";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database, Tx } from "../db/client.ts";
import { parseRow, toDrizzleRow } from "./format.ts";
import { ByteWriter, copyLine, JsonRowToCopy } from "./pg_copy/json_to_pg_copy.ts";
import { type CopyIn, openCopyIn, type PostgresJs, postgresJsOfTx } from "../db/pg_copy.ts";
import {
  beginBulkLoad,
  type BulkLoad,
  danglingReferences,
  finishBulkLoad,
  jsonRowsInserter,
} from "../db/bulk_load.ts";
import { type BackupTable, dialectTable } from "./tables.ts";

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const BATCH_ROWS = 2000;
const BATCH_CHARS = 4 * 1024 * 1024;
/** From this many rows on, secondary indexes are dropped for the load and rebuilt after it. */
export const REBUILD_INDEXES_FROM_ROWS = 50_000;

/** One restore's loading session over a transaction. */
export class Loader {
  #load: BulkLoad = { foreignKeys: [], indexes: [] };
  #pg: PostgresJs | null;
  #insertJson: ReturnType<typeof jsonRowsInserter>;
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
    this.#insertJson = jsonRowsInserter(db, tx);
  }

  /** Removes the application data (and, on Postgres, the foreign keys and maybe indexes until `finish`). */
  async begin(): Promise<void> {
    this.#load = await beginBulkLoad(this.db, this.tx, this.tables.map((t) => t.name), {
      dropIndexes: this.expectedRows >= this.rebuildIndexesFromRows,
    });
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
    if (this.#insertJson) {
      for (let i = 0; i < lines.length; i++) parseRow(t, lines[i], first + i);
      await this.#insertJson(t.name, t.columns.map((c) => c.name), lines);
    } else {
      const rows = lines.map((l, i) => toDrizzleRow(t, parseRow(t, l, first + i)));
      const table = dialectTable(this.db, t) as unknown as PgTable;
      const per = rowsPerStatement(this.db.dialect, t.columns.length);
      for (let i = 0; i < rows.length; i += per) {
        await this.tx.insert(table).values(rows.slice(i, i + per));
      }
    }
    this.counts[t.name] = (this.counts[t.name] ?? 0) + lines.length;
  }

  /** Rebuilds indexes, restores the foreign keys (validating every reference) and advances the id sequences. */
  async finish(): Promise<void> {
    await this.endTable();
    const bad = await danglingReferences(this.db, this.tx);
    if (bad.length) {
      const b = bad[0];
      throw new Error(
        `a restored row of ${b.table} (rowid ${b.rowid}) references a missing row of ${b.parent}` +
          (bad.length > 1 ? ` (and ${bad.length - 1} more dangling references)` : ""),
      );
    }
    await finishBulkLoad(this.db, this.tx, this.#load, this.tables);
  }
}
