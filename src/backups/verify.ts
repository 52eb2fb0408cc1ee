/**
 * Reading a backup object back: `scanObject` streams it from S3 through a
 * SHA-256 counter, gunzip and the document reader; `verifyBackup` checks it
 * against what the catalog recorded — checksum and size, the manifest, and
 * every row parsed and type-checked against the current schema — without
 * touching the database.
 */
import { AppError } from "../errors.ts";
import type { ObjectStore } from "../storage/object_store.ts";
import { type DocumentEvent, LayoutError, readDocument } from "./document.ts";
import { FORMAT_NAME, FORMAT_VERSION, type Manifest, parseRow } from "./format.ts";
import { DigestStream, gunzipStream } from "./streams.ts";
import type { BackupTable } from "./tables.ts";

export interface ScanResult {
  sha256: string;
  size: number;
  /** The first problem with the content (layout, gzip, a row, or the callback's own error). */
  contentError: unknown;
}

/**
 * Streams `key` and hands every document event to `onEvent`. The checksum
 * always covers the whole object: after a content error the rest is still
 * read (unless `drain` is false), so a tampered object is reported as a
 * checksum mismatch rather than as whatever broke first.
 */
export async function scanObject<E = DocumentEvent>(
  store: ObjectStore,
  key: string,
  onEvent: (ev: E) => Promise<void> | void,
  options: { drain?: boolean; reader?: (s: ReadableStream<Uint8Array>) => AsyncGenerator<E> } = {},
): Promise<ScanResult> {
  const read = options.reader ??
    (readDocument as unknown as (s: ReadableStream<Uint8Array>) => AsyncGenerator<E>);
  const object = await store.download(key);
  const digest = new DigestStream();
  const raw = object.body.pipeThrough(digest).getReader();
  const gunzip = gunzipStream();
  const writer = gunzip.writable.getWriter();
  let contentError: unknown = null;
  let stop = false;
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
    for await (const ev of read(gunzip.readable)) await onEvent(ev);
  } catch (err) {
    stop = options.drain === false;
    fail(err);
  }
  const complete = await pump;
  return { sha256: complete ? digest.digest() : "", size: digest.size, contentError };
}

export interface Expected {
  /** Checksum and size the catalog (or, for an import, the object metadata) recorded. */
  sha256: string;
  sizeBytes: number | null;
  /** The catalog's copy of the manifest, compared with the object's. */
  manifest: Manifest | null;
}

/** JSON with sorted keys, so that jsonb's key order does not matter. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(",")
    }}`;
  }
  return JSON.stringify(v);
}

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
): Promise<{ manifest: Manifest; sha256: string; size: number }> {
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
    } else {
      manifest = ev.manifest;
    }
  });
  if (scan.sha256 !== expected.sha256) {
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
    const why = e instanceof LayoutError || e instanceof Error ? e.message : String(e);
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
  return { manifest: m as unknown as Manifest, sha256: scan.sha256, size: scan.size };
}

/** For an object not in the catalog: its recorded checksum and size, or NOT_FOUND / BACKUP_INVALID. */
export async function uncataloguedExpectation(store: ObjectStore, key: string): Promise<Expected> {
  const head = await store.head(key);
  if (!head) {
    throw new AppError(
      "NOT_FOUND",
      `backup "${key}" not found: it is not in the catalog and bucket "${store.bucket}" has no such object`,
      { extra: { s3_key: key } },
    );
  }
  const sha = head.metadata.sha256;
  if (!sha || !/^[0-9a-f]{64}$/.test(sha)) {
    throw new AppError(
      "BACKUP_INVALID",
      `backup "${key}" is not in the catalog and its object carries no sha256 metadata, so it cannot be verified`,
      { extra: { s3_key: key } },
    );
  }
  const size = Number(head.metadata["seedbed-size"]);
  return { sha256: sha, sizeBytes: Number.isFinite(size) && size > 0 ? size : null, manifest: null };
}
