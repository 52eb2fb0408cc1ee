/**
 * Access tokens (JWS via jose). The accepted algorithm list is exactly
 * `[ALGORITHM]`: a token signed with anything else — `none`, another HMAC
 * size, an asymmetric algorithm when HS256 is configured — is refused.
 *
 * - HS256/384/512: `SECRET_KEY`, imported once as a non-extractable CryptoKey.
 * - RS256/ES256/EdDSA: `JWT_PRIVATE_KEY` (PKCS#8 PEM) signs; `JWT_PUBLIC_KEY`
 *   (SPKI PEM) verifies — derived from the private key when not given — so a
 *   gateway can verify tokens with the public key alone.
 *
 * Asymmetric keys carry a `kid` (JWT_KEY_ID, else the RFC 7638 thumbprint):
 * every token names it, `/.well-known/jwks.json` publishes the public keys,
 * and a rotation keeps the previous public keys (JWT_PREVIOUS_PUBLIC_KEYS)
 * published and accepted until their tokens have expired. A token naming an
 * unknown `kid` is refused. See docs/gateway.md ("JWKS").
 *
 * Claims: `sub` (user id), `org` (organization id or null), `pwv` (the user's
 * password version: `password_changed_at` in ms), `tep` (token epoch) and `rvk`
 * (revocation mark, `src/auth/revocation.ts`), `iat`, `exp`, `iss`, `aud`, `jti`.
 * Verified tokens are cached (bounded) until they expire, so the hot path
 * pays neither a key import nor a signature check per request.
 * Story: docs/access.md ("Authentication").
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  importJWK,
  importPKCS8,
  importSPKI,
  type JWK,
  jwtVerify,
  SignJWT,
} from "jose";
import type { Config, JwtAlgorithm } from "../config.ts";

export interface TokenClaims {
  userId: number;
  organizationId: number | null;
  /** password_changed_at (epoch ms) when the token was issued. */
  passwordVersion: number;
  issuedAt: number;
  expiresAt: number;
  /** The token's id (`jti`): what logout revokes (null in a token without one). */
  jti: string | null;
  /** The token epoch it was issued in (`tep`, 0 when absent): reset and restore move it on. */
  epoch: number;
  /** The id of the user's latest "revoke all" when it was issued (`rvk`, 0 when absent). */
  revocation: number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
}

/** Thrown for every refused token; the HTTP layer answers one identical 401. */
export class InvalidTokenError extends Error {
  constructor(readonly why: string) {
    super("invalid token");
    this.name = "InvalidTokenError";
  }
}

type Key = CryptoKey | Uint8Array;
const HMAC_HASH: Record<string, string> = { HS256: "SHA-256", HS384: "SHA-384", HS512: "SHA-512" };

interface Keys {
  sign: Key;
  /** The signing key's kid (asymmetric only). */
  kid?: string;
  /** HMAC: the one key. Asymmetric: the current key. */
  verify: Key;
  /** Asymmetric: every accepted public key by kid (current and previous). */
  byKid: Map<string, CryptoKey>;
  /** The public JWKS document's keys. */
  jwks: JWK[];
}

const pem = (s: string) => s.replaceAll("\\n", "\n").trim();

async function publicJwk(
  key: CryptoKey,
  alg: string,
  kid: string | undefined,
): Promise<JWK & { kid: string }> {
  const jwk = await exportJWK(key);
  for (const k of ["d", "p", "q", "dp", "dq", "qi"]) delete (jwk as Record<string, unknown>)[k];
  return { ...jwk, kid: kid ?? await calculateJwkThumbprint(jwk), alg, use: "sig" };
}

async function loadKeys(auth: Config["auth"]): Promise<Keys> {
  const alg = auth.algorithm;
  if (alg.startsWith("HS")) {
    const raw = new TextEncoder().encode(auth.secretKey);
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: HMAC_HASH[alg] }, false, [
      "sign",
      "verify",
    ]);
    return { sign: key, verify: key, byKid: new Map(), jwks: [] };
  }
  if (!auth.privateKey) throw new Error(`JWT_PRIVATE_KEY: is required when ALGORITHM is ${alg}`);
  let priv: CryptoKey;
  try {
    priv = await importPKCS8(pem(auth.privateKey), alg, { extractable: true });
  } catch (err) {
    throw new Error(`JWT_PRIVATE_KEY: not a PKCS#8 PEM ${alg} private key (${(err as Error).message})`);
  }
  let pub: CryptoKey;
  if (auth.publicKey) {
    try {
      pub = await importSPKI(pem(auth.publicKey), alg, { extractable: true });
    } catch (err) {
      throw new Error(`JWT_PUBLIC_KEY: not an SPKI PEM ${alg} public key (${(err as Error).message})`);
    }
  } else {
    const jwk = await publicJwk(priv, alg, "x");
    pub = await importJWK(jwk, alg) as CryptoKey;
  }
  const current = await publicJwk(pub, alg, auth.keyId);
  const byKid = new Map<string, CryptoKey>([[current.kid, pub]]);
  const jwks: JWK[] = [current];
  const blocks = auth.previousPublicKeys
    ? pem(auth.previousPublicKeys).match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? []
    : [];
  if (auth.previousPublicKeys && blocks.length === 0) {
    throw new Error("JWT_PREVIOUS_PUBLIC_KEYS: no SPKI PEM block (-----BEGIN PUBLIC KEY-----) found");
  }
  for (const [i, block] of blocks.entries()) {
    let key: CryptoKey;
    try {
      key = await importSPKI(block, alg, { extractable: true });
    } catch (err) {
      throw new Error(
        `JWT_PREVIOUS_PUBLIC_KEYS: key ${i + 1} is not an SPKI PEM ${alg} public key (${
          (err as Error).message
        })`,
      );
    }
    const jwk = await publicJwk(key, alg, undefined);
    if (byKid.has(jwk.kid)) continue;
    byKid.set(jwk.kid, key);
    jwks.push(jwk);
  }
  return { sign: priv, kid: current.kid, verify: pub, byKid, jwks };
}

const CACHE_MAX = 20_000;

/** Signs and verifies access tokens; build with `TokenService.create(config)`. */
export class TokenService {
  readonly #cache = new Map<string, TokenClaims>();
  private constructor(
    readonly algorithm: JwtAlgorithm,
    private readonly keys: Keys,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  static async create(config: Config): Promise<TokenService> {
    const keys = await loadKeys(config.auth);
    return new TokenService(
      config.auth.algorithm,
      keys,
      config.auth.issuer,
      config.auth.audience,
      config.auth.accessTokenExpireMinutes * 60,
    );
  }

  /** The public keys as a JWKS document (empty for the HMAC algorithms, which have none to publish). */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.jwks };
  }

  /** The verification key a token's header names: HMAC's one key, or the public key of its kid. */
  #keyFor = (header: { kid?: string }): Key => {
    if (this.keys.byKid.size === 0) return this.keys.verify;
    // A token without kid predates kids: the current key.
    if (header.kid === undefined) return this.keys.verify;
    const key = this.keys.byKid.get(header.kid);
    if (!key) throw new InvalidTokenError("unknown_kid");
    return key;
  };

  /** Issues a token for a user. */
  async issue(
    user: { id: number; organizationId: number | null; passwordChangedAt: Date },
    /** The user's token state (`src/auth/revocation.ts`); a token without it is refused after a reset. */
    state: { epoch: number; revokedBefore: number } = { epoch: 0, revokedBefore: 0 },
  ): Promise<IssuedToken> {
    const token = await new SignJWT({
      org: user.organizationId,
      pwv: user.passwordChangedAt.getTime(),
      tep: state.epoch,
      rvk: state.revokedBefore,
    })
      .setProtectedHeader({
        alg: this.algorithm,
        typ: "JWT",
        ...(this.keys.kid ? { kid: this.keys.kid } : {}),
      })
      .setSubject(String(user.id))
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(crypto.randomUUID())
      .sign(this.keys.sign);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** The audience of identity tokens for upstreams: never this service's own (so never an access token). */
  get identityAudience(): string {
    return `${this.audience}:upstream`;
  }

  /**
   * A short-lived token naming whom a gateway let through (forward-auth's `X-Seedbed-Identity`), for
   * upstreams that verify it with the JWKS. Its audience is `<JWT_AUDIENCE>:upstream` and its type
   * `seedbed-identity+jwt`: `verify` refuses it, so it can never be used as an access token.
   */
  async issueIdentity(subject: string, claims: Record<string, unknown>, ttlSeconds = 60): Promise<string> {
    return await new SignJWT(claims)
      .setProtectedHeader({
        alg: this.algorithm,
        typ: "seedbed-identity+jwt",
        ...(this.keys.kid ? { kid: this.keys.kid } : {}),
      })
      .setSubject(subject)
      .setIssuer(this.issuer)
      .setAudience(this.identityAudience)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .setJti(crypto.randomUUID())
      .sign(this.keys.sign);
  }

  /**
   * The claims of a token verified before and not expired since, without an
   * await (the hot path); undefined when it must go through `verify`.
   */
  cached(token: string, now = Date.now()): TokenClaims | undefined {
    const hit = this.#cache.get(token);
    return hit && hit.expiresAt * 1000 > now ? hit : undefined;
  }

  /** Verifies a token (signature, algorithm, issuer, audience, expiry). Throws InvalidTokenError. */
  async verify(token: string, now = Date.now()): Promise<TokenClaims> {
    const hit = this.cached(token, now);
    if (hit) return hit;
    // Verified before, expired since.
    if (this.#cache.delete(token)) throw new InvalidTokenError("expired");
    if (token.length > 8192 || token.split(".").length !== 3) throw new InvalidTokenError("malformed");
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#keyFor, {
        algorithms: [this.algorithm],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ["sub", "exp", "iat"],
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw new InvalidTokenError((err as { code?: string }).code ?? "invalid");
    }
    const userId = Number(payload.sub);
    const org = payload.org;
    const pwv = payload.pwv;
    const tep = payload.tep ?? 0;
    const rvk = payload.rvk ?? 0;
    const jti = payload.jti ?? null;
    if (
      !Number.isSafeInteger(userId) || userId <= 0 ||
      !(org === null || (typeof org === "number" && Number.isSafeInteger(org))) ||
      typeof pwv !== "number" || typeof tep !== "number" || typeof rvk !== "number" ||
      !(jti === null || typeof jti === "string")
    ) throw new InvalidTokenError("claims");
    const claims: TokenClaims = {
      userId,
      organizationId: org as number | null,
      passwordVersion: pwv,
      issuedAt: payload.iat!,
      expiresAt: payload.exp!,
      jti,
      epoch: tep,
      revocation: rvk,
    };
    if (this.#cache.size >= CACHE_MAX) {
      // Drop the oldest tenth (Map keeps insertion order).
      let n = CACHE_MAX / 10;
      for (const k of this.#cache.keys()) {
        this.#cache.delete(k);
        if (--n <= 0) break;
      }
    }
    this.#cache.set(token, claims);
    return claims;
  }
}
