/**
 * Reading a backup object back: `scanObject` streams it from S3 through a
 * SHA-256 counter, gunzip and the document reader; `verifyBackup` checks it
 * against what the catalog recorded — checksum and size, the manifest, and
 * every row parsed and type-checked against the current schema — without
 * touching the database. Story: docs/backups.md.
 */
import { AppError } from "../errors.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { type DocumentEvent, LayoutError, readDocument, type ReadOptions } from "./document.ts";
import { canonical, FORMAT_NAME, FORMAT_VERSION, type Manifest, parseRow } from "./format.ts";
import { DecryptError, isEncrypted } from "./encryption.ts";
import { DEFAULT_MAX_LINE_BYTES, DigestStream, gunzipStream } from "./streams.ts";
import type { BackupTable } from "./tables.ts";

export interface ScanResult {
  sha256: string;
  size: number;
  /** Decompressed bytes read. */
  uncompressed: number;
  /** The object was encrypted (encryption.ts). */
  encrypted: boolean;
  /** The first problem with the content (layout, gzip, a row, a limit, or the callback's own error). */
  contentError: unknown;
}

export interface ScanOptions<E> {
  /** After a content error, read the rest for the checksum (default true). */
  drain?: boolean;
  reader?: (s: ReadableStream<Uint8Array>, o: ReadOptions) => AsyncGenerator<E>;
  /** Stop once the object passes this many bytes (its recorded size): it was changed. */
  maxBytes?: number | null;
  /** Stop once the content decompresses to more than this many bytes (the manifest's size). */
  maxUncompressed?: number | null;
  /** Longest row line accepted. */
  maxLineBytes?: number;
  /** A transform between the stored bytes and gunzip (decryption, encryption.ts). */
  decrypt?: () => TransformStream<Uint8Array, Uint8Array>;
}

/** The object is larger than recorded: reading stopped at the limit. */
export class SizeLimitError extends Error {}

/** Counts bytes passing through and errors the stream past `limit`. */
function limitStream(limit: number | null | undefined, what: () => string) {
  let n = 0;
  const t = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      n += chunk.length;
      if (limit != null && n > limit) throw new SizeLimitError(what());
      c.enqueue(chunk);
    },
  });
  return { stream: t, count: () => n };
}

/**
 * Streams `key` and hands every document event to `onEvent`. The checksum
 * covers the whole object: after a content error the rest is still read
 * (unless `drain` is false), so a tampered object is reported as a checksum
 * mismatch rather than as whatever broke first — but never more than
 * `maxBytes`, and the content never decompresses past `maxUncompressed`.
 */
export async function scanObject<E = DocumentEvent>(
  store: ObjectStore,
  key: string,
  onEvent: (ev: E) => Promise<void> | void,
  options: ScanOptions<E> = {},
): Promise<ScanResult> {
  const read = options.reader ??
    (readDocument as unknown as (s: ReadableStream<Uint8Array>, o: ReadOptions) => AsyncGenerator<E>);
  const object = await store.download(key);
  const digest = new DigestStream();
  const raw = object.body.pipeThrough(digest).getReader();
  const gunzip = gunzipStream();
  const decrypt = options.decrypt?.();
  if (decrypt) decrypt.readable.pipeTo(gunzip.writable).catch(() => {});
  const writer = (decrypt ?? gunzip).writable.getWriter();
  const maxBytes = options.maxBytes ?? null;
  const inflated = limitStream(
    options.maxUncompressed,
    () =>
      `it decompresses to more than the ${options.maxUncompressed} bytes its manifest records; reading stopped there`,
  );
  let contentError: unknown = null;
  let stop = false;
  let oversized: SizeLimitError | null = null;
  let firstBytes: Uint8Array | null = null;
  const fail = (err: unknown) => {
    contentError ??= err;
    gunzip.readable.cancel(err).catch(() => {});
  };
  const pump = (async () => {
    for (;;) {
      let next;
      try {
        next = await raw.read();
      } catch (err) {
        const e = new AppError("STORAGE_UNAVAILABLE", `reading "${key}" from S3 failed midway`, {
          cause: err,
        });
        await writer.abort(e).catch(() => {});
        fail(e);
        throw e;
      }
      const { done, value } = next;
      if (done) break;
      firstBytes ??= value.slice(0, 16);
      if (maxBytes !== null && digest.size > maxBytes) {
        const e = oversized = new SizeLimitError(
          `size mismatch: the object is larger than the recorded ${maxBytes} bytes (reading stopped there) — it was changed or damaged after the backup`,
        );
        await writer.abort(e).catch(() => {});
        fail(e);
        await raw.cancel().catch(() => {});
        return false;
      }
      if (contentError) {
        if (stop) {
          await raw.cancel().catch(() => {});
          return false;
        }
        continue;
      }
      try {
        await writer.write(value);
      } catch (err) {
        fail(err);
      }
    }
    if (!contentError) await writer.close().catch(fail);
    return true;
  })();
  try {
    const source = gunzip.readable.pipeThrough(inflated.stream);
    for await (const ev of read(source, { maxLineBytes: options.maxLineBytes })) await onEvent(ev);
  } catch (err) {
    stop = options.drain === false;
    fail(err);
  }
  const complete = await pump;
  if (oversized) contentError = oversized;
  return {
    sha256: complete ? digest.digest() : "",
    size: digest.size,
    uncompressed: inflated.count(),
    encrypted: firstBytes !== null && isEncrypted(firstBytes),
    contentError,
  };
}

export interface Expected {
  /**
   * Checksum and size recorded by the catalog or a signed manifest; null
   * sha256 for an object imported as untrusted (nothing to compare with: it
   * is still checked row by row).
   */
  sha256: string | null;
  sizeBytes: number | null;
  /** The trusted copy of the manifest (catalog or signed manifest), compared with the object's. */
  manifest: Manifest | null;
}

/** How far `expected`'s object may decompress: its manifest's data size plus a manifest line. */
export function uncompressedLimit(expected: Expected, maxLineBytes: number): number | null {
  const m = expected.manifest;
  if (!m) return null;
  if (typeof m.data_bytes === "number") return m.data_bytes + maxLineBytes + 64;
  // Backups from before data_bytes: every row at its largest, plus table headers.
  return (m.total_rows + 2 * (m.tables?.length ?? 0) + 8) * (maxLineBytes + 2);
}

export { canonical };

/** The reason a manifest is unusable, or null. */
export function manifestProblem(m: Record<string, unknown>): string | null {
  if (m.format !== FORMAT_NAME) return `it is not a Seedbed backup (format ${JSON.stringify(m.format)})`;
  if (typeof m.format_version !== "number") return "its manifest has no format_version";
  if (m.format_version > FORMAT_VERSION) {
    return `it uses format version ${m.format_version}, newer than this Seedbed reads (${FORMAT_VERSION}); upgrade Seedbed`;
  }
  if (!m.row_counts || typeof m.row_counts !== "object") return "its manifest has no row_counts";
  if (!Array.isArray(m.tables)) return "its manifest has no table list";
  return null;
}

const invalid = (key: string, why: string, cause?: unknown) =>
  new AppError("BACKUP_INVALID", `backup "${key}" is invalid: ${why}`, { cause, extra: { s3_key: key } });

/**
 * Re-reads `key` and checks it completely. Returns the object's manifest;
 * throws BACKUP_INVALID naming the key and the first problem found, or a
 * STORAGE_* / NOT_FOUND error when the object cannot be read.
 */
export async function verifyBackup(
  store: ObjectStore,
  key: string,
  tables: BackupTable[],
  expected: Expected,
  options: {
    maxLineBytes?: number;
    decrypt?: () => TransformStream<Uint8Array, Uint8Array>;
    /** Called once per batch of rows checked (rows, table): progress. */
    onRows?: (rows: number, table: string) => void;
  } = {},
): Promise<{ manifest: Manifest; sha256: string; size: number; encrypted: boolean }> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const known = new Map(tables.map((t) => [t.name, t]));
  const seen: string[] = [];
  const counts: Record<string, number> = {};
  let current: BackupTable | null = null;
  let manifest: Record<string, unknown> | null = null;
  const scan = await scanObject(store, key, (ev) => {
    if (ev.type === "table") {
      current = known.get(ev.table) ?? null;
      if (!current) {
        throw new Error(`table "${ev.table}" is not an application table of this database's schema`);
      }
      if (seen.includes(ev.table)) throw new Error(`table "${ev.table}" appears twice`);
      seen.push(ev.table);
      counts[ev.table] = 0;
    } else if (ev.type === "rows") {
      const t = current!;
      for (const line of ev.lines) parseRow(t, line, ++counts[t.name]);
      options.onRows?.(ev.lines.length, t.name);
    } else {
      manifest = ev.manifest;
    }
  }, {
    maxLineBytes,
    decrypt: options.decrypt,
    maxBytes: expected.sizeBytes,
    maxUncompressed: uncompressedLimit(expected, maxLineBytes),
    // Without a recorded checksum there is nothing to read the rest for.
    drain: expected.sha256 !== null,
  });
  if (scan.contentError instanceof SizeLimitError) throw invalid(key, scan.contentError.message);
  if (expected.sha256 !== null && scan.sha256 !== expected.sha256) {
    throw invalid(
      key,
      `checksum mismatch: recorded sha256 ${expected.sha256.slice(0, 16)}…, object ${
        scan.sha256.slice(0, 16) || "(unread)"
      }… — the object was changed or damaged after the backup`,
    );
  }
  if (expected.sizeBytes !== null && scan.size !== expected.sizeBytes) {
    throw invalid(key, `size mismatch: recorded ${expected.sizeBytes} bytes, object ${scan.size}`);
  }
  if (scan.contentError) {
    const e = scan.contentError;
    if (e instanceof AppError) throw e;
    if (e instanceof LayoutError || e instanceof DecryptError) throw invalid(key, e.message, e);
    const why = e instanceof Error ? e.message : String(e);
    throw invalid(
      key,
      /incorrect header|unexpected end|invalid|zlib|gzip/i.test(why) ? `not valid gzip (${why})` : why,
      e,
    );
  }
  const m = manifest as Record<string, unknown> | null;
  if (!m) throw invalid(key, "it has no manifest");
  const problem = manifestProblem(m);
  if (problem) throw invalid(key, problem);
  if (expected.manifest && canonical(expected.manifest) !== canonical(m)) {
    throw invalid(key, "its manifest differs from the one recorded in the catalog");
  }
  const rowCounts = m.row_counts as Record<string, number>;
  for (const name of new Set([...Object.keys(rowCounts), ...seen])) {
    if ((rowCounts[name] ?? -1) !== (counts[name] ?? -1)) {
      throw invalid(
        key,
        `table "${name}" has ${counts[name] ?? 0} rows but the manifest says ${rowCounts[name] ?? 0}`,
      );
    }
  }
  const missing = tables.filter((t) => !seen.includes(t.name)).map((t) => t.name);
  if (missing.length) throw invalid(key, `it lacks table(s) ${missing.join(", ")} of this database's schema`);
  return {
    manifest: m as unknown as Manifest,
    sha256: scan.sha256,
    size: scan.size,
    encrypted: scan.encrypted,
  };
}
