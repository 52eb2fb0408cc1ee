/**
 * Stream plumbing for backups: gzip on the producer side (GzipSink), a gunzip
 * transform with backpressure, a SHA-256 + byte
 * counter computed while the bytes pass, a bounded channel between a
 * producer (a database transaction) and a consumer (the S3 upload), and a
 * line splitter.
 *
 * Compression uses node:zlib rather than CompressionStream: CompressionStream
 * has no level setting and runs at zlib's default (6), which on this data is
 * about five times slower than level 1–3 for a few percent of size — the
 * difference between meeting and missing the backup speed target (see
 * docs/backups.md). The output is ordinary gzip either way.
 * Story: docs/backups.md.
 */
import { createGunzip, createGzip } from "node:zlib";
import { createHash } from "node:crypto";

type ZStream = ReturnType<typeof createGzip>;

function zlibTransform(z: ZStream): TransformStream<Uint8Array, Uint8Array> {
  const breather = new Breather();
  let failed: Error | null = null;
  // Output is handed on from inside transform()/flush(), never from the 'data' event itself, so
  // the TransformStream's backpressure holds: a slow reader stops the writer (a 10× gunzip
  // expansion would otherwise pile up in memory).
  let pending: Uint8Array[] = [];
  z.on("data", (c: Uint8Array) => pending.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
  z.on("error", (e: Error) => (failed ??= e));
  const handOn = (c: TransformStreamDefaultController<Uint8Array>) => {
    const out = pending;
    pending = [];
    for (const chunk of out) c.enqueue(chunk);
  };
  return new TransformStream({
    async transform(chunk, c) {
      if (failed) throw failed;
      await new Promise<void>((resolve, reject) => {
        z.write(chunk, (err) => {
          if (err || failed) return reject(err ?? failed);
          handOn(c);
          resolve();
        });
      });
      // As in GzipSink.write: node:zlib calls back without the event loop turning.
      await breather.breathe();
    },
    flush(c) {
      if (failed) throw failed;
      return new Promise<void>((resolve, reject) => {
        z.once("end", () => {
          if (failed) return reject(failed);
          handOn(c);
          resolve();
        });
        z.once("error", reject);
        z.end();
      });
    },
  });
}

/** gunzip; a truncated or corrupt input errors the stream. */
export function gunzipStream(): TransformStream<Uint8Array, Uint8Array> {
  return zlibTransform(createGunzip({ chunkSize: 128 * 1024 }));
}

/** Where a producer writes bytes; `write` resolves once the bytes are consumed (the buffer may be reused). */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>;
}

/**
 * gzip on the producer's side of a channel: `write` compresses (the input
 * buffer is free again when it resolves), the compressed chunks go into
 * `out` with its backpressure (sealed first when encrypting, encryption.ts),
 * and the SHA-256 and size of the stored bytes are computed on the way. Only compressed data — a tenth of the JSON —
 * crosses to the uploader.
 */
export class GzipSink implements ByteSink {
  #z: ZStream;
  #hash = createHash("sha256");
  #size = 0;
  #pending: Uint8Array[] = [];
  #error: Error | null = null;
  #hex: string | null = null;
  #breather = new Breather();

  constructor(
    level: number,
    private readonly out: Channel<Uint8Array>,
    private readonly seal?: { update(b: Uint8Array): Uint8Array[]; final(): Uint8Array[] },
  ) {
    this.#z = createGzip({ level, chunkSize: 64 * 1024 });
    this.#z.on("data", (c: Uint8Array) => {
      const chunk = new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
      if (this.seal) { for (const sealed of this.seal.update(chunk)) this.#emit(sealed); }
      else this.#emit(chunk);
    });
    this.#z.on("error", (e: Error) => (this.#error = e));
  }

  /** Hashes, counts and queues bytes as they will be stored. */
  #emit(chunk: Uint8Array) {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
    this.#pending.push(chunk);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    await new Promise<void>((resolve, reject) =>
      this.#z.write(bytes, (err) => (err ? reject(err) : resolve()))
    );
    await this.#flush();
    // node:zlib calls back without the event loop turning: a writer with data at hand would keep
    // HTTP requests (/health) waiting for as long as it has data — seconds in a large backup.
    await this.#breather.breathe();
  }

  /** Finishes the gzip stream (and the encryption) and closes the channel. */
  async end(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#z.once("end", resolve);
      this.#z.once("error", reject);
      this.#z.end();
    });
    if (this.seal) { for (const sealed of this.seal.final()) this.#emit(sealed); }
    await this.#flush();
    this.out.close();
  }

  async #flush(): Promise<void> {
    while (this.#pending.length) await this.out.push(this.#pending.shift()!);
    if (this.#error) throw this.#error;
  }

  get size(): number {
    return this.#size;
  }

  /** Hex SHA-256 of the compressed bytes; only after `end`. */
  digest(): string {
    this.#hex ??= this.#hash.digest("hex");
    return this.#hex;
  }
}

/** A pass-through that hashes (SHA-256) and counts the bytes it sees. */
export class DigestStream extends TransformStream<Uint8Array, Uint8Array> {
  #hash = createHash("sha256");
  #size = 0;
  #hex: string | null = null;
  constructor() {
    super({
      transform: (chunk, c) => {
        this.#hash.update(chunk);
        this.#size += chunk.byteLength;
        c.enqueue(chunk);
      },
    });
  }
  get size(): number {
    return this.#size;
  }
  /** The hex digest; only once the stream has ended. */
  digest(): string {
    this.#hex ??= this.#hash.digest("hex");
    return this.#hex;
  }
}

/**
 * A bounded queue between an async producer and a consumer: `push` waits
 * while `capacity` items are queued, so a fast database never outruns a
 * slow upload (memory stays bounded).
 */
export class Channel<T> {
  #items: T[] = [];
  #closed = false;
  #error: unknown = null;
  #waitingPush: (() => void)[] = [];
  #waitingPull: (() => void)[] = [];
  constructor(private readonly capacity = 4) {}

  async push(item: T): Promise<void> {
    while (this.#items.length >= this.capacity && !this.#closed) {
      await new Promise<void>((r) => this.#waitingPush.push(r));
    }
    if (this.#closed) throw this.#error ?? new Error("channel closed");
    this.#items.push(item);
    this.#waitingPull.shift()?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Ends the channel with an error: the consumer's next pull throws it. */
  fail(err: unknown): void {
    this.#error = err;
    this.#closed = true;
    this.#wake();
  }

  /** Next item, or undefined once closed and drained. */
  async pull(): Promise<T | undefined> {
    while (this.#items.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#closed) return undefined;
      await new Promise<void>((r) => this.#waitingPull.push(r));
    }
    const item = this.#items.shift()!;
    this.#waitingPush.shift()?.();
    return item;
  }

  #wake() {
    for (const r of this.#waitingPush.splice(0)) r();
    for (const r of this.#waitingPull.splice(0)) r();
  }
}

/** A byte stream of the channel's chunks, pulled on demand. */
export function channelToStream(ch: Channel<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const chunk = await ch.pull();
      if (chunk === undefined) c.close();
      else c.enqueue(chunk);
    },
    cancel(reason) {
      ch.fail(reason instanceof Error ? reason : new Error(`upload cancelled: ${String(reason)}`));
    },
  }, { highWaterMark: 0 });
}

/** Bytes decoded at a time: keeps strings below V8's large-object size, so they die young. */
const DECODE_SLICE = 32 * 1024;
const NL = 10;
const enc = new TextEncoder();

/** The longest line (row) a backup may hold, by default: rows are a few KiB; 8 MiB is generous. */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

/** A line longer than the limit: the reader stops at the limit instead of buffering the rest. */
export class LineTooLongError extends Error {
  constructor(readonly lineNumber: number, readonly limit: number) {
    super(`line ${lineNumber} is longer than ${formatBytes(limit)}`);
  }
}

/** `8 MiB`, `64 KiB`, `12 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** When the process last took a breath, and the breath being taken now (shared by every Breather). */
let lastBreath = performance.now();
let breath: Promise<void> | null = null;

/**
 * Lets timers and I/O run (an HTTP request to /health, a SIGTERM) when the
 * process has been busy for `budgetMs`: a macrotask, not a microtask, so the
 * event loop really turns. Cheap to call often.
 *
 * Breaths are process-wide: a pipeline that calls `breathe()` while another
 * one is breathing waits for the same turn. Two pipelines that each yield on
 * their own clock (a restore verifies while it writes its safety backup)
 * keep the loop busy between them, and HTTP requests wait; yielding together
 * leaves it idle for a moment, and the waiting requests come in.
 */
export class Breather {
  constructor(private readonly budgetMs = 10) {}
  async breathe(): Promise<void> {
    if (breath) return await breath;
    if (performance.now() - lastBreath < this.budgetMs) return;
    breath = new Promise<void>((r) =>
      setTimeout(() => {
        breath = null;
        lastBreath = performance.now();
        r();
      }, 0)
    );
    await breath;
  }
}

/** Joins byte pieces (a line cut by chunk boundaries) into one array. */
export function concatBytes(pieces: Uint8Array[], last?: Uint8Array): Uint8Array {
  if (pieces.length === 1 && !last?.length) return pieces[0];
  let n = last?.length ?? 0;
  for (const p of pieces) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of pieces) {
    out.set(p, o);
    o += p.length;
  }
  if (last) out.set(last, o);
  return out;
}

/**
 * Splits a UTF-8 byte stream into lines (without "\n"), in batches.
 *
 * Linear in the input whatever the line lengths: each byte is scanned once
 * for "\n", a line cut by chunk boundaries is kept as a list of pieces and
 * joined once, and a line longer than `maxLineBytes` throws LineTooLongError
 * as soon as the limit is passed (nothing more of it is buffered). Between
 * chunks it lets the event loop turn (Breather), so a huge object never
 * starves other requests.
 */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
  options: { maxLineBytes?: number } = {},
): AsyncGenerator<string[]> {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const dec = new TextDecoder("utf-8", { fatal: true });
  const breather = new Breather();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  for await (const chunk of stream) {
    for (let i = 0; i < chunk.length; i += DECODE_SLICE) {
      const slice = chunk.subarray(i, Math.min(chunk.length, i + DECODE_SLICE));
      const first = slice.indexOf(NL);
      if (first === -1) {
        if (pendingBytes + slice.length > max) throw new LineTooLongError(lineNo + 1, max);
        pending.push(slice.slice());
        pendingBytes += slice.length;
        continue;
      }
      const out: string[] = [];
      if (pendingBytes + first > max) throw new LineTooLongError(lineNo + 1, max);
      out.push(
        dec.decode(
          pending.length ? concatBytes(pending, slice.subarray(0, first)) : slice.subarray(0, first),
        ),
      );
      pending = [];
      pendingBytes = 0;
      const last = slice.lastIndexOf(NL);
      let over: LineTooLongError | null = null;
      if (last > first) {
        const middle = dec.decode(slice.subarray(first + 1, last)).split("\n");
        // A slice is at most DECODE_SLICE bytes, so only a small limit can be passed here.
        for (const l of middle) {
          // UTF-8 takes at most 3 bytes per UTF-16 unit: only long lines need counting.
          if (l.length * 3 > max && enc.encode(l).length > max) {
            over = new LineTooLongError(lineNo + out.length + 1, max);
            break;
          }
          out.push(l);
        }
      }
      if (!over && last + 1 < slice.length) {
        if (slice.length - last - 1 > max) over = new LineTooLongError(lineNo + out.length + 1, max);
        pending.push(slice.slice(last + 1));
        pendingBytes = slice.length - last - 1;
      }
      lineNo += out.length;
      // The lines before an overlong one are handed on first, so the caller knows where it is.
      yield out;
      if (over) throw over;
    }
    await breather.breathe();
  }
  if (pendingBytes) yield [dec.decode(concatBytes(pending))];
}
