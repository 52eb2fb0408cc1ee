/**
 * Password hashing: argon2id at (at least) OWASP's recommended parameters,
 * set explicitly rather than trusting library defaults:
 * m = 19456 KiB (19 MiB), t = 2 passes, p = 1 lane, 32-byte output, 16-byte salt.
 *
 * Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), so the
 * parameters travel with each hash and can be raised later without breaking
 * old ones (`needsRehash` tells when a stored hash is weaker than today's).
 * Story: docs/access.md ("Authentication").
 */
import { hash, verify } from "@node-rs/argon2";

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, so spelled as its value). */
const ARGON2ID = 2;

/** The parameters every new hash uses (OWASP Password Storage Cheat Sheet, argon2id). */
export const ARGON2_PARAMS = {
  algorithm: ARGON2ID,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const;

type Argon2Params = { [K in keyof typeof ARGON2_PARAMS]: number };

/** argon2's minimum cost (RFC 9106: m ≥ 8 KiB per lane, t ≥ 1). Never for a real password. */
const MINIMUM_PARAMS: Argon2Params = { ...ARGON2_PARAMS, memoryCost: 8, timeCost: 1 };

let params: Argon2Params = ARGON2_PARAMS;

/**
 * Test suites only, as Rails' `SecurePassword.min_cost`: new hashes at argon2's minimum cost and `needsRehash`
 * judged against it, so a suite's thousands of logins cost microseconds instead of ~25 ms of CPU each. Called
 * by tests/helpers/db.ts; nothing outside tests/ may call it (tests/auth/password_test.ts checks).
 */
export function hashAtMinimumCostForTests(on: boolean): void {
  params = on ? MINIMUM_PARAMS : ARGON2_PARAMS;
}

/** Longest password accepted (argon2 itself has no practical limit; this bounds work per request). */
export const MAX_PASSWORD_LENGTH = 256;

/** Hashes a password with argon2id at ARGON2_PARAMS (see hashAtMinimumCostForTests); returns a PHC string. */
export async function hashPassword(plain: string): Promise<string> {
  if (plain.length === 0) throw new Error("password must not be empty");
  if (plain.length > MAX_PASSWORD_LENGTH) {
    throw new Error(`password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  // deno-lint-ignore no-explicit-any
  return await hash(plain, params as any);
}

/**
 * Checks a password against a stored hash. Never throws for a wrong password,
 * an empty one or a malformed hash: it answers false.
 */
export async function verifyPassword(storedHash: string, plain: string): Promise<boolean> {
  if (!storedHash || !plain || plain.length > MAX_PASSWORD_LENGTH) return false;
  if (!storedHash.startsWith("$argon2")) return false;
  try {
    return await verify(storedHash, plain);
  } catch {
    return false;
  }
}

/** True when a stored hash uses weaker parameters than ARGON2_PARAMS (rehash on next login). */
export function needsRehash(storedHash: string): boolean {
  const m = /^\$argon2(id|i|d)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
  if (!m) return true;
  return m[1] !== "id" || Number(m[3]) < params.memoryCost || Number(m[4]) < params.timeCost;
}

let dummy: Promise<string> | null = null;

/**
 * A hash of a random password with the same parameters, computed once per
 * process: logins for unknown emails verify against it so that they take the
 * same time as a wrong password for a real account.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomUUID());
  return dummy;
}
