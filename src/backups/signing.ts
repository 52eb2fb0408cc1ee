/**
 * Signed backup manifests (docs/backups.md, "Trust"). Next to every backup
 * object `K` lies `K.manifest.json`: the backup's manifest (format, schema
 * version, dialect, row counts, data size), the SHA-256 and size of the
 * object, its encryption, and its own key — signed with HMAC-SHA256 under a
 * server-side key, whose id it names.
 *
 * What it must never break: a backup that is not in the catalog is trusted
 * only through a valid signature by a key this server holds (current or
 * previous); the signed s3_key must be the object's own key (a signed
 * manifest copied next to another object proves nothing); a key is named by
 * a fingerprint, never by its value. Story: docs/backups.md ("Trust").
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { canonical, type Manifest } from "./format.ts";

export const SIGNATURE_FORMAT = "seedbed-backup-manifest";
export const SIGNATURE_VERSION = 1;
/** Where the signed manifest of `key` lives. */
export const signedManifestKey = (key: string) => `${key}.manifest.json`;
/** Largest signed manifest read (a planted huge one is refused, not buffered). */
export const MAX_SIGNED_MANIFEST_BYTES = 1024 * 1024;

/** A development-only signing key, used when SECRET_KEY is generated per process (never in production). */
const DEVELOPMENT_SECRET = "seedbed-development-only-backup-signing-key (not secret)";

export interface EncryptionInfo {
  algorithm: "aes-256-gcm-chunked";
  key_id: string;
}

/** The signed manifest, as stored in `K.manifest.json`. */
export interface SignedManifest {
  format: typeof SIGNATURE_FORMAT;
  version: number;
  s3_key: string;
  sha256: string;
  size_bytes: number;
  encryption: EncryptionInfo | null;
  manifest: Manifest;
  signed_at: string;
  key_id: string;
  signature: string;
}

interface Key {
  id: string;
  secret: Uint8Array;
}

const enc = new TextEncoder();

/** The HMAC key derived from a SECRET_KEY (domain-separated, so it is never the JWT key itself). */
function derive(secret: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", secret).update("seedbed backup signing key v1").digest());
}

/** A key's public name: a fingerprint of it, safe to print. */
export function keyId(secret: Uint8Array): string {
  return createHash("sha256").update("seedbed-backup-key-id\0").update(secret).digest("hex").slice(0, 16);
}

const key = (secret: Uint8Array): Key => ({ id: keyId(secret), secret });

export interface SigningConfig {
  signingKey?: string;
  signingKeysPrevious: string[];
  signingSecretGenerated: boolean;
}

/** Why a signed manifest is not trusted, for the message. */
export type SignatureProblem =
  | { kind: "missing" }
  | { kind: "malformed"; why: string }
  | { kind: "unknown-key"; keyId: string }
  | { kind: "bad-signature"; keyId: string }
  | { kind: "other-object"; signedFor: string };

/** The keys this server signs with and accepts. */
export class Keyring {
  readonly current: Key;
  readonly #all: Map<string, Key>;

  constructor(current: Uint8Array, previous: Uint8Array[] = []) {
    this.current = key(current);
    this.#all = new Map([this.current, ...previous.map(key)].map((k) => [k.id, k]));
  }

  /**
   * From the configuration: BACKUP_SIGNING_KEY, else a key derived from
   * SECRET_KEY (a generated one — development and tests — gives a fixed
   * development key, so backups stay verifiable across restarts there).
   * Each previous entry is accepted as a signing key and as an old SECRET_KEY.
   */
  static fromConfig(c: SigningConfig, secretKey: string): Keyring {
    const current = c.signingKey !== undefined
      ? enc.encode(c.signingKey)
      : derive(c.signingSecretGenerated ? DEVELOPMENT_SECRET : secretKey);
    const previous = c.signingKeysPrevious.flatMap((p) => [enc.encode(p), derive(p)]);
    if (c.signingKey !== undefined) {
      previous.push(derive(c.signingSecretGenerated ? DEVELOPMENT_SECRET : secretKey));
    }
    return new Keyring(current, previous);
  }

  /** Signs `body` (everything but `key_id` and `signature`) with the current key. */
  sign(body: Omit<SignedManifest, "key_id" | "signature">): SignedManifest {
    const unsigned = { ...body, key_id: this.current.id };
    return { ...unsigned, signature: mac(this.current.secret, unsigned) };
  }

  /**
   * Parses and checks a signed manifest for object `s3Key`: the manifest, or
   * the reason it is not trusted.
   */
  check(bytes: Uint8Array | null, s3Key: string): { ok: SignedManifest } | { problem: SignatureProblem } {
    if (bytes === null) return { problem: { kind: "missing" } };
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      return { problem: { kind: "malformed", why: "it is not valid JSON" } };
    }
    const d = doc as Partial<SignedManifest>;
    if (!d || typeof d !== "object" || d.format !== SIGNATURE_FORMAT) {
      return { problem: { kind: "malformed", why: "it is not a Seedbed signed manifest" } };
    }
    if (typeof d.key_id !== "string" || typeof d.signature !== "string") {
      return { problem: { kind: "malformed", why: "it carries no key id or signature" } };
    }
    const k = this.#all.get(d.key_id);
    if (!k) return { problem: { kind: "unknown-key", keyId: d.key_id.slice(0, 32) } };
    const { signature, ...unsigned } = d;
    const expected = enc.encode(mac(k.secret, unsigned));
    const given = enc.encode(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { problem: { kind: "bad-signature", keyId: k.id } };
    }
    // Signed, so the fields are the server's own; still, check what is used.
    if (d.s3_key !== s3Key) return { problem: { kind: "other-object", signedFor: String(d.s3_key) } };
    if (
      typeof d.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(d.sha256) ||
      !Number.isSafeInteger(d.size_bytes) ||
      !d.manifest || typeof d.manifest !== "object"
    ) {
      return { problem: { kind: "malformed", why: "its fields are incomplete" } };
    }
    return { ok: d as SignedManifest };
  }
}

function mac(secret: Uint8Array, body: unknown): string {
  return createHmac("sha256", secret).update(canonical(body)).digest("hex");
}

/** The sentence explaining a problem (no secret, no key material). */
export function describeProblem(p: SignatureProblem): string {
  switch (p.kind) {
    case "missing":
      return "it has no signed manifest";
    case "malformed":
      return `its signed manifest is unusable (${p.why})`;
    case "unknown-key":
      return `it is signed with key ${p.keyId}, which this server does not hold (after a key rotation, list the old key in BACKUP_SIGNING_KEYS_PREVIOUS)`;
    case "bad-signature":
      return `its signed manifest does not match its signature (key ${p.keyId}): it was changed after signing`;
    case "other-object":
      return `its signed manifest was signed for another object ("${p.signedFor}")`;
  }
}
