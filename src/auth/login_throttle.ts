/**
 * Login throttling, shared by every replica through the `login_throttles`
 * table. Failures are counted per account (the email as typed, lower-cased —
 * unknown emails count too, so a lockout reveals nothing) and per client
 * address, in a fixed window. Past the limit the key is blocked for the
 * lockout period and login answers 429 with `Retry-After`.
 */
import { eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";

export interface ThrottlePolicy {
  /** Failures per account within the window before it is blocked. */
  accountLimit: number;
  /** Failures per client address within the window before it is blocked. */
  addressLimit: number;
  windowMs: number;
  lockoutMs: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  accountLimit: 5,
  addressLimit: 20,
  windowMs: 15 * 60_000,
  lockoutMs: 15 * 60_000,
};

export interface ThrottleKeys {
  account: string;
  address: string | null;
}

export function throttleKeys(email: string, address: string | null): ThrottleKeys {
  return { account: `account:${email.trim().toLowerCase()}`, address: address ? `address:${address}` : null };
}

export class LoginThrottle {
  constructor(private readonly db: Database, readonly policy: ThrottlePolicy = DEFAULT_THROTTLE) {}

  /** Seconds until the earliest allowed attempt, or 0 when the attempt may proceed. */
  async retryAfter(keys: ThrottleKeys, now = Date.now()): Promise<number> {
    const t = this.db.t.loginThrottles;
    const list = [keys.account, ...(keys.address ? [keys.address] : [])];
    const rows = await this.db.db.select().from(t).where(inArray(t.key, list));
    let until = 0;
    for (const r of rows) {
      if (r.blockedUntil && r.blockedUntil.getTime() > now) until = Math.max(until, r.blockedUntil.getTime());
    }
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  /** Records a failed attempt; returns the seconds of lockout it caused (0 if none). */
  async fail(keys: ThrottleKeys, now = Date.now()): Promise<number> {
    let lockout = 0;
    lockout = Math.max(lockout, await this.#count(keys.account, this.policy.accountLimit, now));
    if (keys.address) {
      lockout = Math.max(lockout, await this.#count(keys.address, this.policy.addressLimit, now));
    }
    return lockout;
  }

  /** A successful login clears the account's counter (not the address's). */
  async succeed(keys: ThrottleKeys): Promise<void> {
    const t = this.db.t.loginThrottles;
    await this.db.db.delete(t).where(eq(t.key, keys.account));
  }

  async #count(key: string, limit: number, now: number): Promise<number> {
    const t = this.db.t.loginThrottles;
    const nowP = sql.param(new Date(now), t.windowStartedAt);
    const cutoff = sql.param(new Date(now - this.policy.windowMs), t.windowStartedAt);
    const [row] = await this.db.db.insert(t).values({ key, failures: 1, windowStartedAt: new Date(now) })
      .onConflictDoUpdate({
        target: t.key,
        set: {
          failures: sql`CASE WHEN ${t.windowStartedAt} < ${cutoff} THEN 1 ELSE ${t.failures} + 1 END`,
          windowStartedAt:
            sql`CASE WHEN ${t.windowStartedAt} < ${cutoff} THEN ${nowP} ELSE ${t.windowStartedAt} END`,
        },
      }).returning({ failures: t.failures });
    if (row && row.failures >= limit) {
      const until = new Date(now + this.policy.lockoutMs);
      await this.db.db.update(t).set({ blockedUntil: until, failures: 0, windowStartedAt: new Date(now) })
        .where(eq(t.key, key));
      return Math.ceil(this.policy.lockoutMs / 1000);
    }
    return 0;
  }
}
