/**
 * The restore's fast path on Postgres: backup row JSON → `COPY … FROM STDIN`
 * text, byte for byte, without decoding to strings or building objects (the
 * mirror of pg_copy_to_json.ts). The object was already verified in full (every
 * row through JSON.parse and type checks) and its checksum is checked again
 * at the end of the load, so this reads the layout Seedbed writes: keys in
 * column order. A row in any other shape is converted through JSON.parse.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import { parseRow } from "../format.ts";
import type { BackupTable, ColumnKind } from "../tables.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const QUOTE = 34, BS = 92, COMMA = 44, COLON = 58, LBRACE = 123, RBRACE = 125, LBRACK = 91, RBRACK = 93;
const TAB = 9, NL = 10, CR = 13;

/** A growable output buffer. */
export class ByteWriter {
  buf: Uint8Array;
  o = 0;
  constructor(size = 256 * 1024) {
    this.buf = new Uint8Array(size);
  }
  ensure(n: number): void {
    if (this.o + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.o + n));
    next.set(this.buf.subarray(0, this.o));
    this.buf = next;
  }
  /** The bytes so far (a copy), and a reset. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.o);
    this.o = 0;
    return out;
  }
}

const isWs = (b: number) => b === 32 || b === TAB || b === NL || b === CR;

/** Converts rows of one table. */
export class JsonRowToCopy {
  #keys: Uint8Array[];
  #kinds: ColumnKind[];

  constructor(private readonly table: BackupTable) {
    this.#keys = table.columns.map((c) => enc.encode(JSON.stringify(c.name)));
    this.#kinds = table.columns.map((c) => c.kind);
  }

  /** Appends the COPY line of the JSON object in d[s, e) to `w`; `rowNumber` names it in errors. */
  convert(d: Uint8Array, s: number, e: number, w: ByteWriter, rowNumber: number): void {
    // Worst case: every input byte doubles (\\ escapes), plus separators.
    w.ensure((e - s) * 2 + this.#kinds.length + 8);
    const start = w.o;
    if (!this.#fast(d, s, e, w)) {
      w.o = start;
      this.#slow(d, s, e, w, rowNumber);
    }
  }

  /** The common layout; false when the row is shaped otherwise. */
  #fast(d: Uint8Array, s: number, e: number, w: ByteWriter): boolean {
    let p = s;
    while (p < e && isWs(d[p])) p++;
    if (d[p++] !== LBRACE) return false;
    const out = w.buf;
    for (let i = 0; i < this.#kinds.length; i++) {
      while (isWs(d[p])) p++;
      const key = this.#keys[i];
      for (let k = 0; k < key.length; k++) if (d[p + k] !== key[k]) return false;
      p += key.length;
      while (isWs(d[p])) p++;
      if (d[p++] !== COLON) return false;
      while (isWs(d[p])) p++;
      if (i > 0) out[w.o++] = TAB;
      const b = d[p];
      if (b === 110 /* n */) {
        out[w.o++] = BS;
        out[w.o++] = 78; // \N
        p += 4;
      } else {
        switch (this.#kinds[i]) {
          case "bool":
            out[w.o++] = b === 116 ? 116 : 102; // t | f
            p += b === 116 ? 4 : 5;
            break;
          case "int":
          case "bigint":
            while (p < e && d[p] !== COMMA && d[p] !== RBRACE && !isWs(d[p])) out[w.o++] = d[p++];
            break;
          case "text":
          case "ts":
            if (b !== QUOTE) return false;
            p = this.#string(d, p, w);
            break;
          case "json":
            p = this.#json(d, p, e, w);
            break;
        }
      }
      while (isWs(d[p])) p++;
      const sep = d[p++];
      if (sep !== (i === this.#kinds.length - 1 ? RBRACE : COMMA)) return false;
    }
    while (p < e && isWs(d[p])) p++;
    if (p !== e) return false;
    out[w.o++] = NL;
    return true;
  }

  /** A JSON string at d[p] (the opening quote) → COPY text; returns the position after it. */
  #string(d: Uint8Array, p: number, w: ByteWriter): number {
    const out = w.buf;
    p++;
    for (;;) {
      const b = d[p++];
      if (b === QUOTE) return p;
      if (b !== BS) {
        out[w.o++] = b;
        continue;
      }
      const c = d[p++];
      switch (c) {
        case 110: // n
        case 116: // t
        case 114: // r
        case 98: // b
        case 102: // f
          out[w.o++] = BS; // the same escapes in COPY text
          out[w.o++] = c;
          break;
        case BS:
          out[w.o++] = BS;
          out[w.o++] = BS;
          break;
        case 117: { // \uXXXX
          let cp = hex4(d, p);
          p += 4;
          if (cp >= 0xd800 && cp <= 0xdbff && d[p] === BS && d[p + 1] === 117) {
            const lo = hex4(d, p + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
              p += 6;
            }
          }
          // A lone surrogate, as TextEncoder writes it (verification refuses one first: format.ts).
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
          writeCodePoint(out, w, cp);
          break;
        }
        default: // \" and \/
          out[w.o++] = c;
      }
    }
  }

  /** A JSON value for a json column: copied as JSON text, COPY-escaped. */
  #json(d: Uint8Array, p: number, e: number, w: ByteWriter): number {
    const out = w.buf;
    const first = d[p];
    if (first !== LBRACE && first !== LBRACK && first !== QUOTE) {
      // A number, true or false (null was handled by the caller).
      while (p < e && d[p] !== COMMA && d[p] !== RBRACE && !isWs(d[p])) out[w.o++] = d[p++];
      return p;
    }
    let depth = 0;
    let inString = false;
    while (p < e) {
      const b = d[p++];
      if (inString) {
        if (b === BS) {
          // Every backslash of the JSON text is doubled in COPY text.
          out[w.o++] = BS;
          out[w.o++] = BS;
          const c = d[p++];
          if (c === BS) out[w.o++] = BS;
          out[w.o++] = c;
          continue;
        }
        out[w.o++] = b;
        if (b === QUOTE) {
          inString = false;
          if (depth === 0) return p;
        }
        continue;
      }
      if (b === QUOTE) {
        inString = true;
        out[w.o++] = b;
      } else if (b === TAB || b === NL || b === CR) {
        out[w.o++] = 32; // whitespace between tokens
      } else {
        out[w.o++] = b;
        if (b === LBRACE || b === LBRACK) depth++;
        else if ((b === RBRACE || b === RBRACK) && --depth === 0) return p;
      }
    }
    return p;
  }

  /** Any other row shape: through JSON.parse (and the full checks). */
  #slow(d: Uint8Array, s: number, e: number, w: ByteWriter, rowNumber: number): void {
    const row = parseRow(this.table, dec.decode(d.subarray(s, e)), rowNumber);
    const line = enc.encode(copyLine(this.table, row));
    w.ensure(line.length);
    w.buf.set(line, w.o);
    w.o += line.length;
  }
}

function hex4(d: Uint8Array, p: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const c = d[p + i];
    v = v * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return v;
}

function writeCodePoint(out: Uint8Array, w: ByteWriter, cp: number): void {
  if (cp < 0x20) {
    if (cp === 0) throw new Error("a text value contains U+0000, which Postgres text cannot store");
    const esc = cp === 8
      ? 98
      : cp === 9
      ? 116
      : cp === 10
      ? 110
      : cp === 11
      ? 118
      : cp === 12
      ? 102
      : cp === 13
      ? 114
      : 0;
    if (esc) {
      out[w.o++] = BS;
      out[w.o++] = esc;
    } else out[w.o++] = cp;
  } else if (cp === BS) {
    out[w.o++] = BS;
    out[w.o++] = BS;
  } else if (cp < 0x80) out[w.o++] = cp;
  else if (cp < 0x800) {
    out[w.o++] = 0xc0 | (cp >> 6);
    out[w.o++] = 0x80 | (cp & 63);
  } else if (cp < 0x10000) {
    out[w.o++] = 0xe0 | (cp >> 12);
    out[w.o++] = 0x80 | ((cp >> 6) & 63);
    out[w.o++] = 0x80 | (cp & 63);
  } else {
    out[w.o++] = 0xf0 | (cp >> 18);
    out[w.o++] = 0x80 | ((cp >> 12) & 63);
    out[w.o++] = 0x80 | ((cp >> 6) & 63);
    out[w.o++] = 0x80 | (cp & 63);
  }
}

/** COPY text escaping of one value (backslash, and the row and field separators). */
export function copyEscape(s: string): string {
  return /[\\\n\r\t]/.test(s)
    ? s.replace(/[\\\n\r\t]/g, (c) => (c === "\\" ? "\\\\" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t"))
    : s;
}

/** One checked JSON row → one line of COPY text. */
export function copyLine(t: BackupTable, row: Record<string, unknown>): string {
  let s = "";
  for (let i = 0; i < t.columns.length; i++) {
    const c = t.columns[i];
    const v = row[c.name];
    if (i > 0) s += "\t";
    if (v === null) s += "\\N";
    else if (c.kind === "bool") s += v ? "t" : "f";
    else if (c.kind === "text") s += copyEscape(v as string);
    else if (c.kind === "json") s += copyEscape(JSON.stringify(v));
    else s += String(v); // int, bigint, ts (ISO 8601)
  }
  return s + "\n";
}
