/**
 * Optional client-side encryption of backups (BACKUP_ENCRYPTION_KEY; like
 * pgBackRest's repo-cipher-type), docs/backups.md "Encryption". The gzip
 * stream is cut into chunks of 64 KiB, each sealed with AES-256-GCM:
 *
 *   header:  "SEEDBENC" | version 1 | key id (16 hex chars) | nonce prefix (8 random bytes)
 *   chunk:   length (4 bytes, big-endian, ≤ 64 KiB) | ciphertext | tag (16 bytes)
 *
 * nonce = prefix ‖ chunk counter (4 bytes); the additional data of every
 * chunk is the header, its counter and a "last chunk" flag, so chunks
 * cannot be reordered, dropped, truncated or moved to another object.
 * Memory stays bounded (one chunk) in both directions.
 *
 * What it must never break: a byte changed anywhere is refused, never
 * turned into rows; without the right key the message says so, never
 * garbage; the key never appears in a message (only its fingerprint).
 * Story: docs/backups.md ("Encryption").
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";

const MAGIC = new TextEncoder().encode("SEEDBENC");
const VERSION = 1;
const HEADER_BYTES = MAGIC.length + 1 + 16 + 8;
export const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
export const ENCRYPTION_ALGORITHM = "aes-256-gcm-chunked" as const;

export interface EncryptionKey {
  id: string;
  key: Uint8Array;
}

/** The keys backups are encrypted with (current) and can be decrypted with (all). */
export interface EncryptionKeys {
  current: EncryptionKey | null;
  all: Map<string, EncryptionKey>;
}

function deriveKey(secret: string): EncryptionKey {
  const key = new Uint8Array(
    createHmac("sha256", secret).update("seedbed backup encryption key v1").digest(),
  );
  const id = createHash("sha256").update("seedbed-backup-enc-key-id\0").update(key).digest("hex").slice(
    0,
    16,
  );
  return { id, key };
}

/** From BACKUP_ENCRYPTION_KEY and BACKUP_ENCRYPTION_KEYS_PREVIOUS. */
export function encryptionKeys(current: string | undefined, previous: string[] = []): EncryptionKeys {
  const cur = current ? deriveKey(current) : null;
  const all = new Map<string, EncryptionKey>();
  for (const k of [...(cur ? [cur] : []), ...previous.map(deriveKey)]) all.set(k.id, k);
  return { current: cur, all };
}

/** Decryption failed: wrong or missing key, or the object was changed. */
export class DecryptError extends Error {}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

function aad(header: Uint8Array, counter: number, last: boolean): Uint8Array {
  const out = new Uint8Array(header.length + 5);
  out.set(header);
  out.set(u32(counter), header.length);
  out[header.length + 4] = last ? 1 : 0;
  return out;
}

function nonce(prefix: Uint8Array, counter: number): Uint8Array {
  const n = new Uint8Array(12);
  n.set(prefix);
  n.set(u32(counter), 8);
  return n;
}

/** Seals a byte stream chunk by chunk: feed `update`, then `final`; each returns bytes to store. */
export class Encryptor {
  readonly header: Uint8Array;
  #prefix: Uint8Array;
  #counter = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #headerSent = false;

  constructor(private readonly k: EncryptionKey) {
    this.#prefix = new Uint8Array(randomBytes(8));
    this.header = new Uint8Array(HEADER_BYTES);
    this.header.set(MAGIC);
    this.header[MAGIC.length] = VERSION;
    this.header.set(new TextEncoder().encode(k.id), MAGIC.length + 1);
    this.header.set(this.#prefix, MAGIC.length + 17);
  }

  update(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = this.#start();
    this.#pending.push(bytes.slice());
    this.#pendingBytes += bytes.length;
    while (this.#pendingBytes > CHUNK_BYTES) out.push(this.#seal(this.#take(CHUNK_BYTES), false));
    return out;
  }

  final(): Uint8Array[] {
    const out = this.#start();
    out.push(this.#seal(this.#take(this.#pendingBytes), true));
    return out;
  }

  #start(): Uint8Array[] {
    if (this.#headerSent) return [];
    this.#headerSent = true;
    return [this.header];
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const head = this.#pending[0];
      const k = Math.min(head.length, n - o);
      out.set(head.subarray(0, k), o);
      o += k;
      if (k === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(k);
    }
    this.#pendingBytes -= n;
    return out;
  }

  #seal(plain: Uint8Array, last: boolean): Uint8Array {
    const c = createCipheriv("aes-256-gcm", this.k.key, nonce(this.#prefix, this.#counter));
    c.setAAD(aad(this.header, this.#counter, last));
    const body = c.update(plain);
    c.final();
    const tag = c.getAuthTag();
    this.#counter++;
    const out = new Uint8Array(4 + body.length + TAG_BYTES);
    out.set(u32(plain.length));
    out.set(body, 4);
    out.set(tag, 4 + body.length);
    return out;
  }
}

export const isEncrypted = (b: Uint8Array) => b.length >= MAGIC.length && MAGIC.every((m, i) => b[i] === m);

/**
 * A transform that opens an encrypted object, or passes a plain (gzip) one
 * through: the first bytes say which. Errors with DecryptError naming what
 * is wrong (no key, another key, a changed or cut object).
 */
export function decryptStream(keys: EncryptionKeys): TransformStream<Uint8Array, Uint8Array> {
  let mode: "detect" | "plain" | "sealed" | "done" = "detect";
  let buf = new Uint8Array(0);
  let header: Uint8Array | null = null;
  let key: EncryptionKey | null = null;
  let prefix: Uint8Array | null = null;
  let counter = 0;
  const append = (chunk: Uint8Array) => {
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
  };
  const open = (c: TransformStreamDefaultController<Uint8Array>) => {
    for (;;) {
      if (!header) {
        if (buf.length < HEADER_BYTES) return;
        header = buf.slice(0, HEADER_BYTES);
        if (header[MAGIC.length] !== VERSION) {
          throw new DecryptError(
            `it is encrypted with format version ${header[MAGIC.length]}, which this Seedbed does not read`,
          );
        }
        const id = new TextDecoder().decode(header.subarray(MAGIC.length + 1, MAGIC.length + 17));
        key = keys.all.get(id) ?? null;
        if (!key) {
          throw new DecryptError(
            keys.all.size === 0
              ? `it is encrypted (key ${
                id.replace(/[^0-9a-f]/g, "?")
              }) and BACKUP_ENCRYPTION_KEY is not set: set the key it was encrypted with`
              : `it is encrypted with key ${
                id.replace(/[^0-9a-f]/g, "?")
              }, which is neither BACKUP_ENCRYPTION_KEY nor in BACKUP_ENCRYPTION_KEYS_PREVIOUS`,
          );
        }
        prefix = header.slice(MAGIC.length + 17);
        buf = buf.subarray(HEADER_BYTES);
      }
      if (mode === "done") {
        if (buf.length) throw new DecryptError("it has bytes after its last encrypted chunk: it was changed");
        return;
      }
      if (buf.length < 4) return;
      const len = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
      if (len > CHUNK_BYTES) {
        throw new DecryptError(`encrypted chunk ${counter} is malformed: it was changed`);
      }
      if (buf.length < 4 + len + TAG_BYTES) return;
      const body = buf.subarray(4, 4 + len);
      const tag = buf.subarray(4 + len, 4 + len + TAG_BYTES);
      // A chunk shorter than the maximum can only be the last one; try "not last" first.
      let plain: Uint8Array | null = null;
      let last = false;
      for (const candidate of len === CHUNK_BYTES ? [false, true] : [true]) {
        try {
          const d = createDecipheriv("aes-256-gcm", key!.key, nonce(prefix!, counter));
          d.setAAD(aad(header, counter, candidate));
          d.setAuthTag(tag);
          const a = d.update(body);
          d.final();
          plain = new Uint8Array(a);
          last = candidate;
          break;
        } catch { /* try the other flag */ }
      }
      if (!plain) {
        throw new DecryptError(
          `encrypted chunk ${counter} does not authenticate: the object was changed after the backup`,
        );
      }
      counter++;
      buf = buf.subarray(4 + len + TAG_BYTES);
      if (plain.length) c.enqueue(plain);
      if (last) mode = "done";
    }
  };
  return new TransformStream({
    transform(chunk, c) {
      if (mode === "plain") return c.enqueue(chunk);
      append(chunk);
      if (mode === "detect") {
        if (buf.length < MAGIC.length && MAGIC.subarray(0, buf.length).every((m, i) => buf[i] === m)) return;
        if (!isEncrypted(buf)) {
          mode = "plain";
          c.enqueue(buf);
          buf = new Uint8Array(0);
          return;
        }
        mode = "sealed";
      }
      open(c);
    },
    flush(c) {
      if (mode === "plain") return;
      if (mode === "detect") {
        if (buf.length) c.enqueue(buf);
        return;
      }
      open(c);
      if (mode !== "done") throw new DecryptError("it ends before its last encrypted chunk (truncated?)");
    },
  });
}

/** The scan option that decrypts (or passes plain objects through) with `keys`. */
export function decryptingReader(
  keys: EncryptionKeys | undefined,
): () => TransformStream<Uint8Array, Uint8Array> {
  return () => decryptStream(keys ?? { current: null, all: new Map() });
}
