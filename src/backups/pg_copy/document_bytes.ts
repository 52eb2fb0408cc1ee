/**
 * The document reader of the restore's load pass, over bytes (the text
 * reader is document.ts): row lines come as [start, end) spans into the
 * decompressed chunk, for json_to_pg_copy.ts to convert without decoding. A line
 * cut by a chunk boundary is joined on its own (a small copy). Other lines
 * are decoded and checked as in readDocument.
 */
import { LayoutError } from "../document.ts";
import { MANIFEST_KEY } from "../format.ts";

const dec = new TextDecoder();
const NL = 10, COMMA = 44, LBRACE = 123;

export type ByteEvent =
  | { type: "table"; table: string }
  | { type: "rows"; data: Uint8Array; spans: number[] }
  | { type: "manifest" };

const MANIFEST_PREFIX = `${JSON.stringify(MANIFEST_KEY)}:`;

/** Events of a backup document, rows as byte spans. */
export async function* readDocumentBytes(stream: ReadableStream<Uint8Array>): AsyncGenerator<ByteEvent> {
  let carry: Uint8Array | null = null;
  type State = "start" | "between" | "rows" | "after" | "done";
  let state = "start" as State;
  const current = (): State => state;
  /** Handles one complete line d[s, e); returns a row span or null. */
  const line = (d: Uint8Array, s: number, e: number): ByteEvent | [number, number] | null => {
    if (state === "rows" && d[s] === LBRACE) return [s, d[e - 1] === COMMA ? e - 1 : e];
    const text = dec.decode(d.subarray(s, e)).trim();
    if (state === "start") {
      if (text !== "{") throw new LayoutError('expected "{" to open the backup document');
      state = "between";
    } else if (state === "between" && text.endsWith(":[") && text.startsWith('"')) {
      state = "rows";
      return { type: "table", table: JSON.parse(text.slice(0, -2)) };
    } else if (state === "between" && text.startsWith(MANIFEST_PREFIX)) {
      state = "after";
      return { type: "manifest" };
    } else if (state === "rows" && (text === "]," || text === "]")) {
      state = "between";
    } else if (state === "after" && text === "}") {
      state = "done";
    } else if (!(state === "done" && text === "")) {
      throw new LayoutError(`unexpected line in the backup document: ${text.slice(0, 60)}`);
    }
    return null;
  };
  for await (const data of stream) {
    let s = 0;
    if (carry) {
      // Only the line cut by the chunk boundary is joined (a small copy), not the chunk.
      const nl = data.indexOf(NL);
      if (nl === -1) {
        const more: Uint8Array = new Uint8Array(carry.length + data.length);
        more.set(carry);
        more.set(data, carry.length);
        carry = more;
        continue;
      }
      const joined = new Uint8Array(carry.length + nl);
      joined.set(carry);
      joined.set(data.subarray(0, nl), carry.length);
      carry = null;
      const r = line(joined, 0, joined.length);
      if (Array.isArray(r)) yield { type: "rows", data: joined, spans: r };
      else if (r) yield r;
      s = nl + 1;
    }
    let spans: number[] = [];
    for (;;) {
      const nl = data.indexOf(NL, s);
      if (nl === -1) {
        if (s < data.length) carry = data.slice(s);
        break;
      }
      const r = line(data, s, nl);
      if (Array.isArray(r)) spans.push(r[0], r[1]);
      else if (r) {
        if (spans.length) yield { type: "rows", data, spans };
        spans = [];
        yield r;
      } else if (spans.length && current() !== "rows") {
        yield { type: "rows", data, spans };
        spans = [];
      }
      s = nl + 1;
    }
    if (spans.length) yield { type: "rows", data, spans };
  }
  if (carry) {
    const r = line(carry, 0, carry.length);
    if (Array.isArray(r) || (r && r.type !== "manifest")) {
      throw new LayoutError("the document ends inside a table");
    }
  }
  if (current() !== "done") throw new LayoutError("the document ends early (truncated?)");
}
