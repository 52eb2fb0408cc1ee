/**
 * Progress for backup, restore and verify in rows: the backup service reports
 * rows per batch (src/backups/row_progress.ts) and each pass gets a progress
 * line — rows done, rows/s, and time left when the total is known (verify and
 * restore: the manifest's total_rows; a backup being written shows rows so
 * far). The bytes moved to or from S3 for that pass's object follow as
 * secondary information (`4.2 MiB read`): the CLI wraps the object store's
 * `upload` and `download` for the length of one command to count them.
 * Story: docs/cli.md ("Output").
 *
 * Must never break: the bytes pass through unchanged (the checksums are
 * computed downstream of this wrapper); the wrapper is removed afterwards.
 */
import type { ObjectStore } from "../storage/object_store.ts";
import type { RowPass, RowProgressFactory } from "../backups/row_progress.ts";
import { createProgress } from "./progress.ts";

/** `12.3`-style amounts of MiB for byte counts. */
export function mebibytes(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)}`;
}

function counted(body: ReadableStream<Uint8Array>, add: (n: number) => void): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        add(chunk.byteLength);
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Counts the bytes of every upload and download of `store`, by key, until the
 * returned function is called.
 */
export function countTransfers(store: ObjectStore, onBytes: (key: string, n: number) => void): () => void {
  const upload = store.upload;
  const download = store.download;
  store.upload = function (key, body, options) {
    return upload.call(this, key, counted(body, (n) => onBytes(key, n)), options);
  };
  store.download = async function (key) {
    const d = await download.call(this, key);
    return { ...d, body: counted(d.body, (n) => onBytes(key, n)) };
  };
  return () => {
    store.upload = upload;
    store.download = download;
  };
}

const LABELS: Record<RowPass["kind"], string> = {
  backup: "Backing up to",
  verify: "Verifying",
  restore: "Restoring",
};

/**
 * A progress line per backup, verify or restore pass (on stderr, via
 * `write`), with the MiB of its object moved so far; the byte counts come
 * from `countTransfers` (`bytes(key)`).
 */
export function rowProgressLines(o: {
  terminal: boolean;
  write: (text: string) => void;
  /** Plain mode: at most one line per this many ms (default 5 s). */
  everyMs?: number;
  bytes: (key: string) => number;
  now?: () => number;
}): RowProgressFactory {
  return (pass) => {
    const from = o.bytes(pass.key);
    const p = createProgress({
      label: `${LABELS[pass.kind]} ${pass.key}`,
      total: pass.totalRows ?? undefined,
      unit: "rows",
      terminal: o.terminal,
      write: o.write,
      everyMs: o.everyMs,
      now: o.now,
      summaryAfterMs: 1000, // small backups go by without a line
      detail: () =>
        `${mebibytes(o.bytes(pass.key) - from)} MiB ${pass.kind === "backup" ? "uploaded" : "read"}`,
    });
    return { rows: (n) => p.add(n), done: () => p.done() };
  };
}
