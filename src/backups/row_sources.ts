/**
 * Reading every application table from one consistent snapshot, as row
 * JSON text (see format.ts), page by page — never a whole table in memory.
 *
 * Two readers produce the same format:
 * - Postgres through postgres.js (production): one REPEATABLE READ, READ ONLY
 *   transaction (the same snapshot pg_dump uses); each table streams with
 *   `COPY … TO STDOUT` — the same cheap server path pg_dump uses — and
 *   pg_copy/pg_copy_to_json.ts rewrites the COPY text into row JSON byte for byte. This is
 *   what keeps a backup within reach of `pg_dump` (docs/backups.md).
 * - Everything else (libSQL, embedded PGlite): Drizzle pages by primary key
 *   inside one snapshot transaction (`snapshotTransaction`, src/db/client.ts),
 *   values encoded in JS.
 *
 * Story: docs/backups.md ("Design decisions, and why").
 */
import { asc, getTableColumns, gt } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import { type Database, liftStatementTimeout, snapshotTransaction, type Tx } from "../db/client.ts";
import { CopyRowEncoder } from "./pg_copy/pg_copy_to_json.ts";
import { type PostgresJs, postgresJsOf } from "../db/pg_copy.ts";
import { LIFT_STATEMENT_TIMEOUT } from "../db/pg_socket.ts";
import { encodeValue, rowPrefixes } from "./format.ts";
import { type BackupTable, dialectTable } from "./tables.ts";
import type { Paths } from "../paths.ts";

/**
 * Receives the next part of one table's row list: UTF-8 JSON objects with
 * their ",\n" separators (the first row of a table has none), and how many
 * rows it holds. The bytes may be reused once the returned promise resolves.
 */
export type EmitRows = (data: Uint8Array, count: number) => Promise<void>;
/** Reads one table into `emit`. */
export type TableReader = (table: BackupTable, emit: EmitRows) => Promise<void>;

export interface SnapshotOptions {
  /** Rows per page (generic reader). */
  pageSize?: number;
  /** "generic": the Drizzle reader even on postgres.js (tests compare both). */
  paths?: Paths;
}

/**
 * Runs `fn` with a reader bound to one read-only snapshot of the database;
 * the snapshot (transaction) ends when `fn` returns.
 */
export async function withSnapshot<T>(
  db: Database,
  fn: (read: TableReader) => Promise<T>,
  options: SnapshotOptions = {},
): Promise<T> {
  const pg = options.paths === "generic" ? null : postgresJsOf(db);
  if (pg) {
    return await pg.begin("isolation level repeatable read read only", async (tx) => {
      await tx.unsafe(LIFT_STATEMENT_TIMEOUT); // a large table's COPY may outlast it
      await tx.unsafe("SET LOCAL TimeZone = 'UTC'");
      await tx.unsafe("SET LOCAL DateStyle = 'ISO, YMD'");
      return await fn((t, emit) => copyTable(tx, t, emit));
    });
  }
  const pageSize = options.pageSize ?? 2000;
  return await snapshotTransaction(db, async (tx) => {
    await liftStatementTimeout(db, tx);
    return await fn((t, emit) => pageTable(db, tx, t, emit, pageSize));
  });
}

const enc = new TextEncoder();
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function copyTable(tx: PostgresJs, t: BackupTable, emit: EmitRows): Promise<void> {
  const encoder = new CopyRowEncoder(t);
  const columns = t.columns.map((c) => quote(c.name)).join(", ");
  const stream = await tx.unsafe(`COPY ${quote(t.name)} (${columns}) TO STDOUT`).readable();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    let emitted = 0;
    // Emits run one after another, in order, even if a data event slips in while paused.
    let chain: Promise<void> = Promise.resolve();
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      stream.destroy(err);
      reject(err);
    };
    const send = (chunks: Uint8Array[]) => {
      if (chunks.length === 0) return;
      const rows = encoder.rows - emitted;
      emitted = encoder.rows;
      stream.pause();
      chain = chain.then(async () => {
        for (let i = 0; i < chunks.length; i++) {
          await emit(chunks[i], i === chunks.length - 1 ? rows : 0);
          encoder.recycle(chunks[i]);
        }
      }).then(() => stream.resume());
      chain.catch(fail);
    };
    stream.on("data", (chunk) => {
      if (failed) return;
      try {
        send(encoder.push(chunk));
      } catch (err) {
        fail(err as Error);
      }
    });
    stream.on("error", fail);
    stream.on("end", () => {
      // postgres.js pauses its socket when a COPY chunk finds the stream's buffer full, and
      // resumes it from the stream's read(). If that was the last chunk, read() is never
      // called again and the connection would stay paused for the next query: resume it.
      stream._read?.(0);
      if (failed) return;
      try {
        const last = encoder.finish();
        if (last) send([last]);
        chain.then(resolve, fail);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
}

async function pageTable(
  db: Database,
  tx: Tx,
  t: BackupTable,
  emit: EmitRows,
  pageSize: number,
): Promise<void> {
  const table = dialectTable(db, t) as unknown as PgTable;
  const cols = getTableColumns(table) as Record<string, PgColumn>;
  const pk = cols[t.primaryKey.prop];
  const prefixes = rowPrefixes(t.columns);
  let last: unknown = null;
  let first = true;
  for (;;) {
    const q = tx.select().from(table);
    const rows = await (last === null ? q : q.where(gt(pk, last))).orderBy(asc(pk)).limit(pageSize) as Record<
      string,
      unknown
    >[];
    if (rows.length === 0) return;
    const out: string[] = new Array(rows.length);
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j];
      let s = "";
      for (let i = 0; i < t.columns.length; i++) {
        const c = t.columns[i];
        s += prefixes[i] +
          encodeValue(c.kind, r[c.prop], () => `${t.name}.${c.name} (id ${r[t.primaryKey.prop]})`);
      }
      out[j] = s + "}";
    }
    last = rows[rows.length - 1][t.primaryKey.prop];
    await emit(enc.encode((first ? "" : ",\n") + out.join(",\n")), rows.length);
    first = false;
    if (rows.length < pageSize) return;
  }
}
