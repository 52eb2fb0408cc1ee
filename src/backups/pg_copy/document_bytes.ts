/**
 * The document reader of the restore's load pass, over bytes (the text
 * reader is document.ts): row lines come as [start, end) spans into the
 * decompressed chunk, for json_to_pg_copy.ts to convert without decoding. A line
 * cut by a chunk boundary is joined on its own (a small copy). Other lines
 * are decoded and checked as in readDocument.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import { LayoutError, type ReadOptions, tooLong } from "../document.ts";
import { MANIFEST_KEY } from "../format.ts";
import { Breather, concatBytes, DEFAULT_MAX_LINE_BYTES, LineTooLongError } from "../streams.ts";

const dec = new TextDecoder();
const NL = 10, COMMA = 44, LBRACE = 123;

export type ByteEvent =
  | { type: "table"; table: string }
  | { type: "rows"; data: Uint8Array; spans: number[] }
  | { type: "manifest" };

const MANIFEST_PREFIX = `${JSON.stringify(MANIFEST_KEY)}:`;

/** Events of a backup document, rows as byte spans. */
export async function* readDocumentBytes(
  stream: ReadableStream<Uint8Array>,
  options: ReadOptions = {},
): AsyncGenerator<ByteEvent> {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const breather = new Breather();
  // A line cut by chunk boundaries, as pieces joined once (linear, whatever its length).
  let carry: Uint8Array[] = [];
  let carryBytes = 0;
  let lineNo = 0;
  let table: string | null = null;
  const overLimit = () => tooLong(new LineTooLongError(lineNo + 1, max), state === "rows" ? table : null);
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
      table = JSON.parse(text.slice(0, -2)) as string;
      return { type: "table", table };
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
    if (carryBytes) {
      // Only the line cut by the chunk boundary is joined (a small copy), not the chunk.
      const nl = data.indexOf(NL);
      if (nl === -1) {
        if (carryBytes + data.length > max) throw overLimit();
        carry.push(data.slice());
        carryBytes += data.length;
        continue;
      }
      if (carryBytes + nl > max) throw overLimit();
      const joined = concatBytes(carry, data.subarray(0, nl));
      carry = [];
      carryBytes = 0;
      lineNo++;
      const r = line(joined, 0, joined.length);
      if (Array.isArray(r)) yield { type: "rows", data: joined, spans: r };
      else if (r) yield r;
      s = nl + 1;
    }
    let spans: number[] = [];
    for (;;) {
      const nl = data.indexOf(NL, s);
      if (nl === -1) {
        if (s < data.length) {
          if (data.length - s > max) throw overLimit();
          carry = [data.slice(s)];
          carryBytes = data.length - s;
        }
        break;
      }
      if (nl - s > max) throw overLimit();
      lineNo++;
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
    await breather.breathe();
  }
  if (carryBytes) {
    const last = concatBytes(carry);
    const r = line(last, 0, last.length);
    if (Array.isArray(r) || (r && r.type !== "manifest")) {
      throw new LayoutError("the document ends inside a table");
    }
  }
  if (current() !== "done") throw new LayoutError("the document ends early (truncated?)");
}
