/**
 * Login, current user and password change.
 *
 * Login gives the same answer — 401 "Incorrect email or password" — for an
 * unknown email, a wrong password, a deactivated user and a user of a
 * deactivated organization, and takes about the same time in each case: an
 * unknown email is verified against a dummy argon2id hash.
 * Story: docs/access.md ("Authentication").
 */
import type { Database } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { AuditService } from "../audit/audit.ts";
import type { AccessService } from "../access/access_service.ts";
import type { UserSnapshot } from "../access/loader.ts";
import { UsersRepository } from "../users/users_repository.ts";
import { OrganizationsRepository } from "../tenants/organizations_repository.ts";
import { dummyHash, hashPassword, needsRehash, verifyPassword } from "./passwords.ts";
import { passwordProblems } from "./password_policy.ts";
import { type LoginThrottle, type ThrottleKeys, throttleKeys } from "./login_throttle.ts";
import type { TokenClaims, TokenService } from "./tokens.ts";
import { loadTokenState, revokeAllTokens, revokeToken } from "./revocation.ts";
import { recordCredentialFloor } from "../backups/credentials.ts";

export interface TokenResponse {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
}

export const LOGIN_FAILED_MESSAGE = "Incorrect email or password";

const rateLimited = (what: string, wait: number) =>
  new AppError("RATE_LIMITED", `${what}; retry in ${wait} seconds`, {
    headers: { "Retry-After": String(wait) },
    extra: { retry_after: wait },
  });

export interface RequestMeta {
  requestId?: string;
  address: string | null;
}

/** Throttled keys whose stored refusal is remembered (a flood of new keys still costs one row each). */
const REFUSALS_REMEMBERED = 10_000;

export class AuthService {
  readonly users: UsersRepository;
  readonly organizations: OrganizationsRepository;

  constructor(
    private readonly deps: {
      db: Database;
      tokens: TokenService;
      access: AccessService;
      audit: AuditService;
      throttle: LoginThrottle;
    },
  ) {
    this.users = new UsersRepository(deps.db);
    this.organizations = new OrganizationsRepository(deps.db);
  }

  /** Throttled key → until when its refusal is already in the audit table (bounded, oldest first out). */
  readonly #refusalsStored = new Map<string, number>();

  #firstRefusal(by: keyof ThrottleKeys, keys: ThrottleKeys, waitSeconds: number): boolean {
    const key = `${by}|${keys[by]}`;
    const now = Date.now();
    const until = this.#refusalsStored.get(key);
    if (until !== undefined && until > now) return false;
    this.#refusalsStored.delete(key);
    if (this.#refusalsStored.size >= REFUSALS_REMEMBERED) {
      this.#refusalsStored.delete(this.#refusalsStored.keys().next().value!);
    }
    this.#refusalsStored.set(key, now + Math.max(1, waitSeconds) * 1000);
    return true;
  }

  /** Verifies credentials and issues a token; 401 on any failure, 429 while throttled. */
  async login(email: string, password: string, meta: RequestMeta): Promise<TokenResponse> {
    const { audit, throttle } = this.deps;
    const normalized = email.trim().toLowerCase();
    const keys = throttleKeys(normalized, meta.address);
    // Counted before the password is verified: concurrent guesses cannot all pass a check made first.
    const attempt = await throttle.attempt(keys);
    if (!attempt.admitted) {
      const wait = attempt.retryAfter;
      const event = {
        event: "auth.login_throttled",
        target: normalized,
        requestId: meta.requestId,
        details: { address: meta.address, retry_after: wait, key: attempt.by },
      };
      // One row per throttled key and block (per replica); the repeats are logged and counted only.
      if (this.#firstRefusal(attempt.by, keys, wait)) await audit.recordSafely(event);
      else audit.logOnly(event);
      throw rateLimited("too many failed login attempts", wait);
    }

    const user = await this.users.findByEmail(normalized);
    // Always run one argon2id verification, whether or not the email exists.
    const ok = await verifyPassword(user?.passwordHash ?? await dummyHash(), password);
    let reason: string | null = null;
    if (!user) reason = "unknown_email";
    else if (!ok) reason = "wrong_password";
    else if (!user.isActive) reason = "user_inactive";
    else if (user.organizationId !== null) {
      if (!(await this.organizations.isActive(user.organizationId))) reason = "organization_inactive";
    }
    if (reason !== null || !user) {
      // The attempt stays counted.
      const delay = throttle.nextDelaySeconds(attempt);
      await audit.recordSafely({
        event: "auth.login_failed",
        actorUserId: user?.id ?? null,
        organizationId: user?.organizationId ?? null,
        target: normalized,
        requestId: meta.requestId,
        details: { reason, address: meta.address, ...(delay ? { next_attempt_in_seconds: delay } : {}) },
      });
      throw new AppError("UNAUTHORIZED", LOGIN_FAILED_MESSAGE);
    }

    // A success takes back its own count only: failures counted around it (a burst) stay.
    await throttle.refund(attempt);
    const patch: Record<string, unknown> = { lastLoginAt: new Date() };
    if (needsRehash(user.passwordHash)) {
      patch.passwordHash = await hashPassword(password);
      // The floor keeps the hash a restore gives back (src/backups/credentials.ts).
      await this.deps.db.transaction(async (tx) => {
        await this.users.updateSelf(user.id, patch, tx);
        await recordCredentialFloor(this.deps.db, tx, user.id, "changed");
      });
    } else await this.users.updateSelf(user.id, patch);
    await audit.record({
      event: "auth.login_succeeded",
      actorUserId: user.id,
      organizationId: user.organizationId,
      target: `user:${user.id}`,
      requestId: meta.requestId,
      details: { address: meta.address, must_change_password: user.mustChangePassword },
    });
    const issued = await this.deps.tokens.issue(user, await loadTokenState(this.deps.db, user.id));
    return { access_token: issued.token, token_type: "bearer", expires_in: issued.expiresIn };
  }

  /**
   * Logout: revokes the token the request was made with (`everywhere`: every token of the caller) on every
   * replica before it returns. The token is refused on every path from then on.
   */
  async logout(claims: TokenClaims, everywhere: boolean, meta: RequestMeta): Promise<void> {
    const { db, audit, access } = this.deps;
    if (everywhere || claims.jti === null) await revokeAllTokens(db, claims.userId);
    else {await revokeToken(db, {
        userId: claims.userId,
        jti: claims.jti,
        expiresAt: new Date(claims.expiresAt * 1000),
      });}
    await access.revoked();
    await audit.recordSafely({
      event: "auth.logout",
      actorUserId: claims.userId,
      organizationId: claims.organizationId,
      target: `user:${claims.userId}`,
      requestId: meta.requestId,
      details: { everywhere },
    });
  }

  /**
   * Changes the caller's password: checks the current one and the strength
   * rule, clears must_change_password, and moves password_changed_at so every
   * older token is refused. Returns a fresh token.
   */
  async changePassword(
    caller: UserSnapshot,
    currentPassword: string,
    newPassword: string,
    meta: RequestMeta,
  ): Promise<TokenResponse & { detail: string }> {
    const { db, audit, throttle } = this.deps;
    const user = await this.users.findAnyById(caller.access.id);
    if (!user) throw new AppError("UNAUTHORIZED", "Could not validate credentials");
    const keys = throttleKeys(user.email, meta.address);
    const attempt = await throttle.attempt(keys);
    if (!attempt.admitted) throw rateLimited("too many failed attempts", attempt.retryAfter);
    if (!(await verifyPassword(user.passwordHash, currentPassword))) {
      await audit.recordSafely({
        event: "auth.password_change_failed",
        actorUserId: user.id,
        organizationId: user.organizationId,
        target: `user:${user.id}`,
        requestId: meta.requestId,
        details: { reason: "wrong_current_password" },
      });
      throw new AppError("BAD_REQUEST", "current_password is incorrect");
    }
    const problems = passwordProblems(newPassword, user.email);
    if (newPassword === currentPassword) problems.push("must differ from the current password");
    if (problems.length) {
      // The current password was right: not a failed guess.
      await throttle.refund(attempt);
      throw new AppError("VALIDATION_ERROR", `new_password: ${problems.join("; ")}`, {
        extra: { errors: problems.map((message) => ({ field: "new_password", message })) },
      });
    }
    const hash = await hashPassword(newPassword);
    // Strictly later than the previous change, so tokens issued in the same millisecond are refused too.
    const changedAt = new Date(Math.max(Date.now(), user.passwordChangedAt.getTime() + 1));
    const updated = await db.transaction(async (tx) => {
      const row = await this.users.updateSelf(user.id, {
        passwordHash: hash,
        passwordChangedAt: changedAt,
        mustChangePassword: false,
      }, tx);
      // A restore of an older backup never brings the retired password back (src/backups/credentials.ts).
      await recordCredentialFloor(db, tx, user.id, "changed");
      await audit.record({
        event: "auth.password_changed",
        actorUserId: user.id,
        organizationId: user.organizationId,
        target: `user:${user.id}`,
        requestId: meta.requestId,
        details: { was_required: user.mustChangePassword },
      }, tx);
      return row!;
    });
    await this.deps.access.changed();
    await throttle.refund(attempt);
    const issued = await this.deps.tokens.issue(updated, await loadTokenState(db, updated.id));
    return {
      detail: "password changed; tokens issued before now are no longer accepted",
      access_token: issued.token,
      token_type: "bearer",
      expires_in: issued.expiresIn,
    };
  }
}
