/**
 * The libSQL hot reader: plain SELECTs outside a transaction (and the
 * constant single-row queries of `Database.prepareRow`) on a dedicated
 * read-only native connection with a cache of prepared statements. The
 * client prepares every statement on every call and asks twice for its
 * columns — most of a small read's cost. It must never answer differently
 * from `@libsql/client`: results are built exactly as the client builds them
 * (tests/db/libsql_reader_test.ts compares), only in WAL mode, and anything it
 * cannot do returns undefined so the caller asks the client.
 * Story: docs/performance.md.
 */
import { Buffer } from "node:buffer";
import type { InStatement, InValue, ResultSet, Row } from "@libsql/client";
// @ts-types="./libsql_native.d.ts"
import NativeDatabase, { type NativeStatement } from "libsql";

/**
 * Constant queries on hot paths (the security version, read for every batch
 * of requests), prepared once on a dedicated read-only connection: a
 * prepared statement runs in ~3.5 µs where the client, which prepares every
 * time, takes ~20 µs. The database is in WAL mode, so this reader neither
 * waits for nor blocks the writer; each call is its own read transaction and
 * sees everything committed before it, by this process or another.
 */
export class HotReader {
  #db: NativeDatabase | null = null;
  #closed = false;
  /** Prepared SELECTs by SQL text, least recently used first. */
  #selects = new Map<string, CachedSelect>();
  /** The schema cookie the cached statements were prepared under (a migration changes it). */
  #schemaVersion: unknown = undefined;
  #schemaStmt: NativeStatement | null = null;
  /** Only in WAL mode does a reader neither wait for nor block the writer; otherwise SELECTs stay queued. */
  #wal = false;

  constructor(private readonly path: string) {}

  #connection(): NativeDatabase {
    if (!this.#db) {
      const db = new NativeDatabase(this.path);
      db.exec("PRAGMA busy_timeout = 10000");
      db.exec("PRAGMA query_only = ON");
      this.#db = db;
      const mode = (db.prepare("PRAGMA journal_mode").get() as { journal_mode?: string } | undefined)
        ?.journal_mode;
      this.#wal = String(mode).toLowerCase() === "wal";
    }
    return this.#db;
  }

  prepare<T>(query: string): () => T | undefined {
    // Prepared on first use: the table may not exist before migrations run.
    let stmt: NativeStatement | null = null;
    return () => {
      if (this.#closed) throw new Error("the database is closed");
      stmt ??= this.#connection().prepare(query);
      return stmt.get() as T | undefined;
    };
  }

  /**
   * Runs a plain SELECT (positional arguments) on a cached statement and returns the client's result
   * shape; undefined for anything else, or when it fails — the caller then asks the client, which
   * reports errors in its own terms.
   */
  select(stmt: InStatement): ResultSet | undefined {
    const sql = typeof stmt === "string" ? stmt : stmt.sql;
    const args = typeof stmt === "string" ? [] : stmt.args ?? [];
    if (this.#closed || !Array.isArray(args) || !/^\s*select\s/i.test(sql)) return undefined;
    try {
      const db = this.#connection();
      if (!this.#wal) return undefined;
      // A schema change (another connection's migration) leaves cached statements describing the old
      // columns: the cache is dropped whenever the cookie moved.
      this.#schemaStmt ??= db.prepare("PRAGMA schema_version");
      const schema = (this.#schemaStmt.get() as { schema_version?: unknown } | undefined)?.schema_version;
      if (schema !== this.#schemaVersion) {
        this.#selects.clear();
        this.#schemaVersion = schema;
      }
      let c = this.#selects.get(sql);
      if (c) {
        this.#selects.delete(sql); // move to the most recent end
      } else {
        const prepared = db.prepare(sql);
        prepared.safeIntegers(true);
        prepared.raw(true);
        c = { stmt: prepared, columns: null, columnTypes: null };
        if (this.#selects.size >= MAX_CACHED_SELECTS) {
          this.#selects.delete(this.#selects.keys().next().value!);
        }
      }
      this.#selects.set(sql, c);
      const raw = c.stmt.all(args.map(valueToSql)) as unknown[][];
      if (!c.columns || !c.columnTypes) {
        // Asked after the first run: a statement prepared on a connection whose schema was stale is
        // prepared again by SQLite when it runs, and only then describes the current columns.
        const cols = c.stmt.columns();
        c.columns = cols.map((col) => col.name);
        c.columnTypes = cols.map((col) => col.type ?? "");
      }
      const columns = c.columns;
      const rows = raw.map((r) => rowFromSql(r, columns));
      return new ReaderResultSet(columns, c.columnTypes, rows);
    } catch {
      this.#selects.delete(sql);
      return undefined;
    }
  }

  close(): void {
    this.#closed = true;
    this.#selects.clear();
    this.#schemaStmt = null;
    this.#db?.close();
    this.#db = null;
  }
}

const MAX_CACHED_SELECTS = 512;

interface CachedSelect {
  stmt: NativeStatement;
  /** Known after the statement's first run. */
  columns: string[] | null;
  columnTypes: string[] | null;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An argument as @libsql/client (intMode "number") passes it to the driver. */
function valueToSql(value: InValue | unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError("Only finite numbers (not Infinity or NaN) can be passed as arguments");
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value instanceof Date) return value.valueOf();
  if (value === undefined) throw new TypeError("undefined cannot be passed as argument to the database");
  return value;
}

/**
 * A row as @libsql/client builds it: values by index (not enumerable), `length`, and by column name (the first
 * of duplicate names wins). The same properties with the same attributes in the same order as the client's,
 * built faster: the named properties by plain assignment (enumerable, writable, configurable — what the client
 * defines them as) rather than one `Object.defineProperty` each, which was most of a page's row building.
 */
function rowFromSql(sqlRow: unknown[], columns: string[]): Row {
  const row = {} as Record<string | number, unknown>;
  Object.defineProperty(row, "length", { value: sqlRow.length });
  const n = sqlRow.length;
  const values = new Array<unknown>(n);
  for (let i = 0; i < n; ++i) {
    let value = sqlRow[i];
    if (typeof value === "bigint") {
      if (value < MIN_SAFE || value > MAX_SAFE) {
        throw new RangeError("Received integer which cannot be safely represented as a JavaScript number");
      }
      value = Number(value);
    } else if (value instanceof Uint8Array) {
      value = value.buffer;
    }
    values[i] = value;
    const column = columns[i];
    if (!Object.hasOwn(row, column)) row[column] = value;
  }
  for (let i = 0; i < n; ++i) Object.defineProperty(row, i, { value: values[i] });
  return row as unknown as Row;
}

/** The client's ResultSet for a SELECT. */
class ReaderResultSet implements ResultSet {
  readonly rowsAffected = 0;
  readonly lastInsertRowid = undefined;
  constructor(readonly columns: string[], readonly columnTypes: string[], readonly rows: Row[]) {}
  toJSON() {
    return {
      columns: this.columns,
      columnTypes: this.columnTypes,
      rows: this.rows.map((r) =>
        Array.prototype.map.call(
          r,
          (v) =>
            typeof v === "bigint" ? `${v}` : v instanceof ArrayBuffer ? Buffer.from(v).toString("base64") : v,
        )
      ),
      rowsAffected: 0,
      lastInsertRowid: null,
    };
  }
}
