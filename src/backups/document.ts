/**
 * Writing and reading the backup document (format.ts) as a stream of text
 * lines: the writer pushes into a bounded channel from inside the snapshot
 * transaction; the reader turns decompressed lines back into events
 * (table start, batches of row lines, manifest) and refuses anything that is
 * not the layout the writer produces. Story: docs/backups.md ("Format").
 */
import type { Database } from "../db/client.ts";
import { FORMAT_NAME, FORMAT_VERSION, type Manifest, MANIFEST_KEY } from "./format.ts";
import { type SnapshotOptions, withSnapshot } from "./row_sources.ts";
import { type ByteSink, formatBytes, lines, LineTooLongError } from "./streams.ts";
import type { BackupTable } from "./tables.ts";

const enc = new TextEncoder();

/** The manifest fields known before the rows are read. */
export type ManifestHead = Omit<
  Manifest,
  "row_counts" | "total_rows" | "tables" | "format" | "format_version" | "data_bytes"
>;

/**
 * Writes the whole document for `tables` into `out` from one snapshot.
 * Returns the manifest (also written as the last key).
 */
export async function writeDocument(
  db: Database,
  tables: BackupTable[],
  head: ManifestHead,
  out: ByteSink,
  options: SnapshotOptions = {},
  /** Called once per batch read (rows, table): progress. */
  onRows?: (rows: number, table: string) => void,
): Promise<Manifest> {
  const counts: Record<string, number> = {};
  let bytes = 0;
  const write = (b: Uint8Array) => {
    bytes += b.length;
    return out.write(b);
  };
  const text = (s: string) => write(enc.encode(s));
  await withSnapshot(db, async (read) => {
    await text("{\n");
    for (const t of tables) {
      await text(`${JSON.stringify(t.name)}:[\n`);
      let n = 0;
      await read(t, async (data, count) => {
        await write(data);
        n += count;
        onRows?.(count, t.name);
      });
      await text(n > 0 ? "\n],\n" : "],\n");
      counts[t.name] = n;
    }
  }, options);
  const manifest: Manifest = {
    format: FORMAT_NAME,
    format_version: FORMAT_VERSION,
    ...head,
    tables: tables.map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name) })),
    row_counts: counts,
    total_rows: Object.values(counts).reduce((a, b) => a + b, 0),
    data_bytes: bytes,
  };
  await text(`${JSON.stringify(MANIFEST_KEY)}:${JSON.stringify(manifest)}\n}\n`);
  return manifest;
}

/** The document's layout is not Seedbed's backup layout (or is cut short). */
export class LayoutError extends Error {}

export type DocumentEvent =
  | { type: "table"; table: string }
  | { type: "rows"; table: string; lines: string[] }
  | { type: "manifest"; manifest: Record<string, unknown> };

export interface ReadOptions {
  /** Longest line (row) accepted; default DEFAULT_MAX_LINE_BYTES (streams.ts). */
  maxLineBytes?: number;
}

/** The LayoutError for a line over the limit, naming the table it is in (null: outside any table). */
export function tooLong(err: LineTooLongError, table: string | null): LayoutError {
  return new LayoutError(
    `${table === null ? "outside any table" : `table "${table}"`}, line ${err.lineNumber}: ` +
      `the line is longer than ${formatBytes(err.limit)}, the largest row a backup may hold ` +
      "(BACKUP_MAX_ROW_BYTES); reading stopped there",
  );
}

const HEADER = /^"((?:[^"\\]|\\.)*)":\[$/;
const MANIFEST_PREFIX = `${JSON.stringify(MANIFEST_KEY)}:`;

/**
 * Reads a decompressed document. Row lines are yielded as text (without the
 * separating comma) for the caller to parse; batches follow the input's
 * chunks. Throws LayoutError on anything unexpected, including a document
 * that ends before its closing brace.
 */
export async function* readDocument(
  stream: ReadableStream<Uint8Array>,
  options: ReadOptions = {},
): AsyncGenerator<DocumentEvent> {
  type State = "start" | "between" | "rows" | "after-manifest" | "done";
  let state: State = "start";
  let table = "";
  let lineNo = 0;
  let expectMore = false; // the previous row line ended with a comma
  let rowsInTable = 0;
  const source = lines(stream, options);
  for (;;) {
    let next: IteratorResult<string[]>;
    try {
      next = await source.next();
    } catch (err) {
      if (err instanceof LineTooLongError) throw tooLong(err, state === "rows" ? table : null);
      throw err;
    }
    if (next.done) break;
    const batch = next.value;
    let rows: string[] = [];
    for (const raw of batch) {
      lineNo++;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      switch (state) {
        case "start":
          if (line !== "{") throw new LayoutError(`line ${lineNo}: expected "{" to open the backup document`);
          state = "between";
          break;
        case "between": {
          const m = HEADER.exec(line);
          if (m) {
            table = JSON.parse(`"${m[1]}"`);
            state = "rows";
            expectMore = false;
            rowsInTable = 0;
            yield { type: "table", table };
          } else if (line.startsWith(MANIFEST_PREFIX)) {
            let manifest: unknown;
            try {
              manifest = JSON.parse(line.slice(MANIFEST_PREFIX.length));
            } catch {
              throw new LayoutError(`line ${lineNo}: the manifest is not valid JSON`);
            }
            if (!manifest || typeof manifest !== "object" || Array.isArray(manifest)) {
              throw new LayoutError(`line ${lineNo}: the manifest is not an object`);
            }
            yield { type: "manifest", manifest: manifest as Record<string, unknown> };
            state = "after-manifest";
          } else {
            throw new LayoutError(`line ${lineNo}: expected a table ("name":[) or the manifest`);
          }
          break;
        }
        case "rows":
          if (line === "]," || line === "]") {
            if (expectMore) {
              throw new LayoutError(`line ${lineNo}: table "${table}" ends after a trailing comma`);
            }
            if (rows.length) yield { type: "rows", table, lines: rows };
            rows = [];
            if (line === "]") {
              throw new LayoutError(`line ${lineNo}: the manifest is missing after table "${table}"`);
            }
            state = "between";
          } else if (line.startsWith("{")) {
            if (rowsInTable > 0 && !expectMore) {
              throw new LayoutError(`line ${lineNo}: rows of table "${table}" are not separated by a comma`);
            }
            rowsInTable++;
            expectMore = line.endsWith(",");
            rows.push(expectMore ? line.slice(0, -1) : line);
          } else {
            throw new LayoutError(`line ${lineNo}: expected a row of table "${table}"`);
          }
          break;
        case "after-manifest":
          if (line !== "}") throw new LayoutError(`line ${lineNo}: expected "}" after the manifest`);
          state = "done";
          break;
        case "done":
          if (line.trim() !== "") {
            throw new LayoutError(`line ${lineNo}: unexpected content after the document`);
          }
      }
    }
    if (rows.length) yield { type: "rows", table, lines: rows };
  }
  if (state !== "done") {
    throw new LayoutError(
      state === "rows"
        ? `the document ends inside table "${table}" (truncated?)`
        : "the document ends before its manifest and closing brace (truncated?)",
    );
  }
}
