/**
 * Postgres `COPY … TO STDOUT` text format → the backup's row JSON, byte for
 * byte, without decoding to strings: the fast path of a Postgres backup.
 *
 * COPY's text escaping is almost JSON's: `\\`, `\n`, `\t`, `\r`, `\b`, `\f`
 * mean the same in both; only `"`, `\v` and raw control bytes need
 * rewriting. So a text value is copied with a handful of byte checks, UTF-8
 * passes through untouched, and the output goes straight to gzip. Session
 * settings (TimeZone UTC, DateStyle ISO) fix the timestamp shape
 * `2025-01-15 12:00:00.123456+00`, written as `"2025-01-15T12:00:00.123456Z"`.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import type { BackupTable, ColumnKind } from "../tables.ts";

const enc = new TextEncoder();
const TAB = 9, NL = 10, BS = 92, QUOTE = 34;
const HEX = enc.encode("0123456789abcdef");
const TRUE = enc.encode("true"), FALSE = enc.encode("false"), NULL = enc.encode("null");
const ROW_SEP = enc.encode(",\n");

/** Converts COPY rows of one table into `{…}` objects separated by ",\n", in output chunks. */
export class CopyRowEncoder {
  #kinds: ColumnKind[];
  #prefixes: Uint8Array[];
  #prefixBytes: number;
  #out: Uint8Array;
  #o = 0;
  #carry: Uint8Array | null = null;
  #pool: ArrayBuffer[] = [];
  /** Rows converted so far. */
  rows = 0;

  constructor(private readonly table: BackupTable, private readonly chunkSize = 256 * 1024) {
    this.#kinds = table.columns.map((c) => c.kind);
    this.#prefixes = table.columns.map((c, i) =>
      enc.encode((i === 0 ? "{" : ",") + JSON.stringify(c.name) + ":")
    );
    this.#prefixBytes = this.#prefixes.reduce((a, p) => a + p.length, 0);
    this.#out = new Uint8Array(chunkSize);
  }

  /** Feeds COPY output (any chunking); returns the output chunks completed by it. */
  push(chunk: Uint8Array): Uint8Array[] {
    const done: Uint8Array[] = [];
    let data = chunk;
    if (this.#carry) {
      data = new Uint8Array(this.#carry.length + chunk.length);
      data.set(this.#carry);
      data.set(chunk, this.#carry.length);
      this.#carry = null;
    }
    let start = 0;
    while (start < data.length) {
      const end = data.indexOf(NL, start);
      if (end === -1) {
        this.#carry = data.slice(start);
        break;
      }
      // Worst case a byte becomes 6 (\u00XX); plus keys and separators.
      const need = (end - start) * 6 + this.#prefixBytes + 16;
      if (this.#o + need > this.#out.length) {
        if (this.#o > 0) done.push(this.#take());
        if (need > this.#out.length) this.#out = new Uint8Array(need);
      }
      this.#row(data, start, end);
      start = end + 1;
    }
    return done;
  }

  /** The remaining output (call once COPY ends). */
  finish(): Uint8Array | null {
    if (this.#carry) throw new Error(`backup of ${this.table.name}: COPY output ended inside a row`);
    return this.#o > 0 ? this.#take() : null;
  }

  #take(): Uint8Array {
    // Hand the buffer over (no copy) and continue in another: the consumer holds it until `recycle`.
    const chunk = this.#out.subarray(0, this.#o);
    const spare = this.#pool.pop();
    this.#out = spare ? new Uint8Array(spare) : new Uint8Array(this.chunkSize);
    this.#o = 0;
    return chunk;
  }

  /** Returns an output chunk's buffer once the consumer is done with it (fewer allocations, flat memory). */
  recycle(chunk: Uint8Array): void {
    const buf = chunk.buffer as ArrayBuffer;
    if (buf.byteLength === this.chunkSize && this.#pool.length < 4) this.#pool.push(buf);
  }

  #put(bytes: Uint8Array): void {
    this.#out.set(bytes, this.#o);
    this.#o += bytes.length;
  }

  #row(d: Uint8Array, start: number, end: number): void {
    if (this.rows > 0) this.#put(ROW_SEP);
    this.rows++;
    const out = this.#out;
    let p = start;
    const n = this.#kinds.length;
    for (let i = 0; i < n; i++) {
      const tab = d.indexOf(TAB, p);
      const last = i === n - 1;
      if (last ? tab !== -1 && tab < end : tab === -1 || tab > end) throw this.#shape(i);
      const fEnd = last ? end : tab;
      this.#put(this.#prefixes[i]);
      if (fEnd - p === 2 && d[p] === BS && d[p + 1] === 78 /* N */) {
        this.#put(NULL);
      } else {
        switch (this.#kinds[i]) {
          case "int":
          case "bigint":
            out.set(d.subarray(p, fEnd), this.#o);
            this.#o += fEnd - p;
            break;
          case "bool":
            this.#put(d[p] === 116 /* t */ ? TRUE : FALSE);
            break;
          case "ts":
            this.#timestamp(d, p, fEnd, i);
            break;
          case "json":
            this.#json(d, p, fEnd);
            break;
          case "text":
            this.#text(d, p, fEnd);
            break;
        }
      }
      p = fEnd + 1;
    }
    out[this.#o++] = 125; // }
  }

  /** `2025-01-15 12:00:00[.ffffff]+00` → `"2025-01-15T12:00:00[.ffffff]Z"`. */
  #timestamp(d: Uint8Array, p: number, e: number, col: number): void {
    const len = e - p;
    if (
      len < 22 || d[p + 10] !== 32 || d[e - 3] !== 43 || d[e - 2] !== 48 || d[e - 1] !== 48 || d[p + 4] !== 45
    ) {
      const value = new TextDecoder().decode(d.subarray(p, e));
      throw new Error(
        `cannot back up ${this.table.name}.${
          this.table.columns[col].name
        } = "${value}": not an ISO timestamp between years 0001 and 9999`,
      );
    }
    const out = this.#out;
    let o = this.#o;
    out[o++] = QUOTE;
    out.set(d.subarray(p, e - 3), o);
    out[o + 10] = 84; // T
    o += len - 3;
    out[o++] = 90; // Z
    out[o++] = QUOTE;
    this.#o = o;
  }

  /** jsonb text: undo COPY's backslash escaping (jsonb output has no raw line breaks). */
  #json(d: Uint8Array, p: number, e: number): void {
    const out = this.#out;
    let o = this.#o;
    for (let j = p; j < e; j++) {
      const b = d[j];
      if (b === BS) {
        const c = d[++j];
        out[o++] = c === 110 || c === 114 || c === 116 ? 32 : c; // \n \r \t → space (whitespace between tokens)
      } else out[o++] = b;
    }
    this.#o = o;
  }

  /** text: COPY escapes → JSON escapes; `"` and control bytes escaped; UTF-8 copied. */
  #text(d: Uint8Array, p: number, e: number): void {
    const out = this.#out;
    let o = this.#o;
    out[o++] = QUOTE;
    for (let j = p; j < e; j++) {
      const b = d[j];
      if (b >= 0x20 && b !== QUOTE && b !== BS) {
        out[o++] = b;
      } else if (b === BS) {
        const c = d[++j];
        if (c === 118 /* v */) {
          o = this.#unicode(out, o, 11);
        } else {
          // \\ \n \t \r \b \f are the same escapes in JSON.
          out[o++] = BS;
          out[o++] = c;
        }
      } else if (b === QUOTE) {
        out[o++] = BS;
        out[o++] = QUOTE;
      } else {
        o = this.#unicode(out, o, b);
      }
    }
    out[o++] = QUOTE;
    this.#o = o;
  }

  #unicode(out: Uint8Array, o: number, b: number): number {
    out[o++] = BS;
    out[o++] = 117; // u
    out[o++] = 48;
    out[o++] = 48;
    out[o++] = HEX[b >> 4];
    out[o++] = HEX[b & 15];
    return o;
  }

  #shape(col: number): Error {
    return new Error(
      `backup of ${this.table.name}: a COPY row does not have one field per column (${this.#kinds.length}; at ${
        this.table.columns[col].name
      })`,
    );
  }
}
