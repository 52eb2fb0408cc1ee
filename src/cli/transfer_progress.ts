/**
 * Progress for backup, restore and verify, measured where every one of them
 * passes: the bytes going to and coming from S3. The CLI wraps the object
 * store's `upload` and `download` for the length of one command; each
 * transfer gets a progress line (a bar with size, rate and time left when the
 * size is known: downloads; size and rate for uploads, whose compressed size
 * is known only at the end). See docs/cli.md.
 *
 * Must never break: the bytes pass through unchanged (the checksums are
 * computed downstream of this wrapper); the wrapper is removed afterwards.
 */
import type { ObjectStore } from "../storage/object_store.ts";
import { createProgress, type Progress } from "./progress.ts";

/** `12.3 MiB`-style amounts for byte counts. */
export function mebibytes(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)}`;
}

function counted(body: ReadableStream<Uint8Array>, p: Progress): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        p.add(chunk.byteLength);
        controller.enqueue(chunk);
      },
      flush() {
        p.done();
      },
    }),
  );
}

/**
 * Reports every upload and download of `store` until the returned function is
 * called. `terminal`: redraw in place; `write`: where the lines go (stderr).
 */
export function watchTransfers(
  store: ObjectStore,
  o: { terminal: boolean; write: (text: string) => void },
): () => void {
  const upload = store.upload;
  const download = store.download;
  const progress = (label: string, total?: number) =>
    createProgress({
      label,
      total,
      unit: "MiB",
      amount: mebibytes,
      terminal: o.terminal,
      write: o.write,
      summaryAfterMs: 1000, // small objects go by without a line
    });
  store.upload = function (key, body, options) {
    return upload.call(this, key, counted(body, progress(`Uploading ${key}`)), options);
  };
  store.download = async function (key) {
    const d = await download.call(this, key);
    return { ...d, body: counted(d.body, progress(`Reading ${key}`, d.size || undefined)) };
  };
  return () => {
    store.upload = upload;
    store.download = download;
  };
}
