/**
 * Token revocation and the token epoch: what, besides a password change,
 * makes a token that has not expired unacceptable. Story: docs/access.md
 * ("Tokens, logout and revocation").
 *
 * - Logout revokes one token (its `jti`) until it would have expired.
 * - "Revoke all" refuses every token a user holds: a row whose id is larger
 *   than the `rvk` claim of every token issued before it.
 * - The token epoch (`security_versions`, scope `tokens`) is bumped by every
 *   reset and restore, in the same transaction: tokens carry it as `tep`, and
 *   one from an older epoch is refused — a restore brings back old
 *   `password_changed_at` values and user ids, and must not bring back the
 *   tokens issued against them.
 *
 * Both live in bookkeeping tables (`BOOKKEEPING_TABLES`) that backup,
 * restore and wipe never touch. Every change bumps the security version in
 * its transaction, so every replica, under either freshness mode, reloads the
 * user's snapshot (which carries this state, `loader.ts`) before its next
 * answer. Must never: accept a token of an older epoch, or one revoked.
 */
import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";
import { ACCESS_SCOPE, bumpSecurityVersion } from "../access/version.ts";

/** The `security_versions` row holding the token epoch. */
export const TOKEN_EPOCH_SCOPE = "tokens";
/**
 * The `security_versions` row counting revocations (logouts, "revoke all"): each bumps it and the security
 * version by one in the same transaction, so a replica whose version moved by exactly as much as this
 * counter knows nothing but revocations happened, and refreshes token states instead of emptying its
 * caches (`src/access/cache.ts`).
 */
export const REVOCATIONS_SCOPE = "revocations";
/** How long a "revoke all" row is kept: the longest token lifetime the configuration allows, and a margin. */
const REVOKE_ALL_KEEP_MS = (7 * 24 * 60 + 5) * 60_000;

/** What a user's snapshot says about his tokens. */
export interface TokenState {
  /** The current token epoch: a token must carry exactly this `tep` (0 before the first reset or restore). */
  epoch: number;
  /** A token's `rvk` must be at least this (the id of the user's latest "revoke all", else 0). */
  revokedBefore: number;
  /** Revoked `jti`s of the user's tokens that have not expired yet. */
  revoked: ReadonlySet<string>;
}

/** The token claims the checks look at. */
export interface RevocableClaims {
  jti: string | null;
  epoch: number;
  revocation: number;
}

/** What a reset or restore response says (with `sessions_revoked: true`): the caller's token is gone too. */
export const SESSIONS_REVOKED_WARNING = "every token issued before was revoked: log in again";

/**
 * The 401 detail for a token refused only because a reset or restore moved the token epoch on since it was
 * issued. Says nothing about the user (the epoch is one for the whole database), only why to log in again.
 */
export const SESSIONS_ENDED_MESSAGE =
  "Could not validate credentials: every session was ended by a database restore or reset; log in again";

/** Why a token is refused by its revocation state, or null when it is not. */
export function revocationRefusal(claims: RevocableClaims, state: TokenState): string | null {
  if (claims.epoch !== state.epoch) return "token_epoch";
  if (claims.revocation < state.revokedBefore) return "revoked_all";
  if (claims.jti !== null && state.revoked.has(claims.jti)) return "revoked";
  return null;
}

/** Reads the current token epoch (0 when never bumped). */
export async function readTokenEpoch(db: Database, ex: Executor = db.db): Promise<number> {
  const t = db.t.securityVersions;
  const [row] = await ex.select({ v: t.version }).from(t).where(eq(t.scope, TOKEN_EPOCH_SCOPE));
  return row ? Number(row.v) : 0;
}

/** A user's token state, in `ex`'s transaction. */
export async function loadTokenState(
  db: Database,
  userId: number,
  ex: Executor = db.db,
): Promise<TokenState> {
  const t = db.t.tokenRevocations;
  const rows = await ex.select({ id: t.id, jti: t.jti }).from(t).where(
    and(eq(t.userId, userId), gt(t.expiresAt, new Date())),
  );
  let revokedBefore = 0;
  const revoked = new Set<string>();
  for (const r of rows) {
    if (r.jti === null) revokedBefore = Math.max(revokedBefore, r.id);
    else revoked.add(r.jti);
  }
  return { epoch: await readTokenEpoch(db, ex), revokedBefore, revoked };
}

/**
 * Bumps the token epoch inside `ex` (the transaction of a reset or a restore): every token issued before
 * it commits is refused from then on, on every replica.
 */
export async function bumpTokenEpoch(db: Database, ex: Executor): Promise<void> {
  const t = db.t.securityVersions;
  await ex.insert(t).values({ scope: TOKEN_EPOCH_SCOPE, version: 1 }).onConflictDoUpdate({
    target: t.scope,
    set: { version: sql`${t.version} + 1` },
  });
  await bumpSecurityVersion(db, ex);
}

/** Revokes one token until it would have expired (logout). Call `access.revoked()` after. */
export async function revokeToken(
  db: Database,
  token: { userId: number; jti: string; expiresAt: Date },
): Promise<void> {
  await db.transaction(async (tx) => {
    await purgeExpired(db, tx);
    await tx.insert(db.t.tokenRevocations).values({
      userId: token.userId,
      jti: token.jti,
      expiresAt: token.expiresAt,
    });
    await bumpSecurityVersion(db, tx);
    await countRevocation(db, tx);
  });
}

/** Refuses every token the user holds now (his next login gets a valid one). Call `access.revoked()` after. */
export async function revokeAllTokens(db: Database, userId: number, ex?: Executor): Promise<void> {
  const run = async (tx: Executor) => {
    await purgeExpired(db, tx);
    await tx.insert(db.t.tokenRevocations).values({
      userId,
      jti: null,
      expiresAt: new Date(Date.now() + REVOKE_ALL_KEEP_MS),
    });
    await bumpSecurityVersion(db, tx);
    await countRevocation(db, tx);
  };
  if (ex) await run(ex);
  else await db.transaction(run);
}

/** Counts a revocation (with the security version bump of the same transaction). */
async function countRevocation(db: Database, ex: Executor): Promise<void> {
  const t = db.t.securityVersions;
  await ex.insert(t).values({ scope: REVOCATIONS_SCOPE, version: 1 }).onConflictDoUpdate({
    target: t.scope,
    set: { version: sql`${t.version} + 1` },
  });
}

/** The security version and the revocation count, read together (one statement, one snapshot). */
export async function readVersions(db: Database): Promise<{ version: number; revocations: number }> {
  const t = db.t.securityVersions;
  const rows = await db.db.select({ scope: t.scope, v: t.version }).from(t).where(
    inArray(t.scope, [ACCESS_SCOPE, REVOCATIONS_SCOPE]),
  );
  const of = (scope: string) => Number(rows.find((r) => r.scope === scope)?.v ?? 0);
  return { version: of(ACCESS_SCOPE), revocations: of(REVOCATIONS_SCOPE) };
}

/**
 * Every user's revocations that still refuse something (`revokedBefore`, `revoked`), in one query: what a
 * replica re-reads when only revocations happened. Users not in the map have none.
 */
export async function loadAllRevocations(
  db: Database,
): Promise<Map<number, { revokedBefore: number; revoked: Set<string> }>> {
  const t = db.t.tokenRevocations;
  const rows = await db.db.select({ userId: t.userId, id: t.id, jti: t.jti }).from(t).where(
    gt(t.expiresAt, new Date()),
  );
  const out = new Map<number, { revokedBefore: number; revoked: Set<string> }>();
  for (const r of rows) {
    let s = out.get(r.userId);
    if (!s) out.set(r.userId, s = { revokedBefore: 0, revoked: new Set() });
    if (r.jti === null) s.revokedBefore = Math.max(s.revokedBefore, r.id);
    else s.revoked.add(r.jti);
  }
  return out;
}

/** Rows whose tokens have all expired refuse nothing any more. */
async function purgeExpired(db: Database, ex: Executor): Promise<void> {
  const t = db.t.tokenRevocations;
  await ex.delete(t).where(lt(t.expiresAt, new Date()));
}
