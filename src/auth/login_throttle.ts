/**
 * Login throttling with growing delays, shared by every replica through the
 * `login_throttles` table. Story: docs/access.md ("Login throttling").
 *
 * Every attempt is counted BEFORE its password is verified, by one statement
 * that increments the key's counter and reads it back, and only when the
 * key's delay has passed (`attempt`): concurrent guesses cannot all slip
 * through while the first is being verified. Three keys are counted, in this
 * order, and an attempt proceeds only when all admit it:
 *
 * - `address:` the client address (IPv6 by its /64, which one host controls);
 * - `pair:` this account from this address — the tight limit a single
 *   attacker meets;
 * - `account:` this account from anywhere — a loose limit with a short
 *   maximum delay, so that nobody can lock the owner out for long (the old
 *   hard 15-minute lock after five failures was a weapon), while a guesser
 *   spread over many addresses still gets about one guess a minute.
 *
 * A key admits `free` attempts, then each further one only after a delay that
 * doubles from `baseDelayMs` up to `maxDelayMs`; a key unused for `quietMs`
 * starts over. A refused attempt is not counted (it was never verified).
 * A success refunds only its own count: it never erases failures counted
 * around it, so a correct guess inside a burst does not reopen the burst.
 * Unknown e-mails are counted like known ones, so a delay reveals nothing.
 *
 * The invariant (`admissionModel` states it; the tests check the SQL against
 * it with random sequences): on each key, the n-th admitted attempt after the
 * first `free` comes at least `delayAfter(n - 1)` after the one before it.
 */
import { eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { timestampParam } from "../db/time.ts";

export interface ThrottleRule {
  /** Attempts admitted without delay. */
  free: number;
  /** The delay after the first attempt beyond `free`; doubled for each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A key with no admitted attempt for this long starts over (must exceed maxDelayMs). */
  quietMs: number;
}

export interface ThrottlePolicy {
  address: ThrottleRule;
  pair: ThrottleRule;
  account: ThrottleRule;
}

const MINUTE = 60_000;
/**
 * Conflicts on e-mail or username per actor (user creation and changes): a few are mistakes, many are a
 * probe of which addresses exist in other organizations (docs/access.md, "The e-mail oracle").
 */
export const CONFLICT_RULE: ThrottleRule = {
  free: 10,
  baseDelayMs: 60_000,
  maxDelayMs: 60 * 60_000,
  quietMs: 24 * 60 * 60_000,
};

/** Failed re-authentications (the current password of a self e-mail change) per user. */
export const REAUTH_RULE: ThrottleRule = {
  free: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  quietMs: 60 * 60_000,
};

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  address: { free: 20, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE, quietMs: 60 * MINUTE },
  pair: { free: 5, baseDelayMs: 1000, maxDelayMs: 15 * MINUTE, quietMs: 60 * MINUTE },
  account: { free: 10, baseDelayMs: 1000, maxDelayMs: MINUTE, quietMs: 15 * MINUTE },
};

/** The delay a key imposes after `n` admitted attempts (0 while n < free). */
export function delayAfter(rule: ThrottleRule, n: number): number {
  if (n < rule.free) return 0;
  const doublings = n - rule.free;
  return doublings >= 40 ? rule.maxDelayMs : Math.min(rule.maxDelayMs, rule.baseDelayMs * 2 ** doublings);
}

/** One key's state, as the table holds it. */
export interface KeyState {
  failures: number;
  /** The last admitted attempt (ms). */
  lastAt: number;
  /** No attempt before this (ms), or null. */
  blockedUntil: number | null;
}

/**
 * The rule for one key as a pure function (the SQL in `attempt` is its twin): whether an attempt at
 * `now` is admitted, and the state after it.
 */
export function admissionModel(
  rule: ThrottleRule,
  state: KeyState | null,
  now: number,
): { admitted: boolean; state: KeyState | null } {
  if (state && state.blockedUntil !== null && state.blockedUntil > now) return { admitted: false, state };
  const n = !state || state.lastAt < now - rule.quietMs ? 1 : state.failures + 1;
  const delay = delayAfter(rule, n);
  return {
    admitted: true,
    state: { failures: n, lastAt: now, blockedUntil: delay > 0 ? now + delay : null },
  };
}

export interface ThrottleKeys {
  account: string;
  pair: string;
  address: string;
}

/**
 * The throttle key of a client address: IPv4 as is, IPv6 by its /64 (an IPv4-mapped IPv6 address is
 * its IPv4 address). Anything unparseable is kept as given (lower-cased).
 */
export function addressKey(address: string): string {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!a.includes(":")) return a;
  const groups = ipv6Groups(a);
  if (!groups) return a;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a trailing dotted quad), or null. */
function ipv6Groups(a: string): number[] | null {
  const halves = a.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (i === pieces.length - 1 && p.includes(".")) {
        const q = p.split(".");
        if (q.length !== 4 || !q.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return null;
        const [b0, b1, b2, b3] = q.map(Number);
        out.push((b0 << 8) | b1, (b2 << 8) | b3);
      } else if (/^[0-9a-f]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

/** The keys of an attempt; an unknown client address counts as one address, `unknown`. */
export function throttleKeys(email: string, address: string | null): ThrottleKeys {
  const account = email.trim().toLowerCase();
  const where = address ? addressKey(address) : "unknown";
  return { account: `account:${account}`, pair: `pair:${where}|${account}`, address: `address:${where}` };
}

/** An attempt `attempt` let through: pass it back to `refund` when it turns out not to be a failure. */
export interface Admitted {
  admitted: true;
  keys: { key: string; rule: ThrottleRule; failures: number }[];
}

export interface Refused {
  admitted: false;
  /** Seconds until the key that refused admits again (at least 1). */
  retryAfter: number;
  /** Which key refused: address, pair or account. */
  by: "address" | "pair" | "account";
}

export class LoginThrottle {
  constructor(private readonly db: Database, readonly policy: ThrottlePolicy = DEFAULT_THROTTLE) {}

  /**
   * Counts an attempt on every key before its password is verified; refused (and counted nowhere) when
   * any key's delay has not passed.
   */
  async attempt(keys: ThrottleKeys, now = Date.now()): Promise<Admitted | Refused> {
    const order: ["address" | "pair" | "account", string][] = [
      ["address", keys.address],
      ["pair", keys.pair],
      ["account", keys.account],
    ];
    const counted: Admitted["keys"] = [];
    for (const [kind, key] of order) {
      const rule = this.policy[kind];
      const failures = await this.#count(key, rule, now);
      if (failures === null) {
        // Not verified, so not an attempt on the keys that had counted it.
        await this.refund({ admitted: true, keys: counted });
        return { admitted: false, retryAfter: await this.#retryAfter(key, now), by: kind };
      }
      counted.push({ key, rule, failures });
    }
    return { admitted: true, keys: counted };
  }

  /** Takes back an admitted attempt's own count (a success is not a failure); others' counts stay. */
  async refund(attempt: Admitted): Promise<void> {
    const t = this.db.t.loginThrottles;
    for (const { key, rule } of attempt.keys) {
      await this.db.db.update(t).set({
        failures: sql`${t.failures} - 1`,
        blockedUntil: sql`CASE WHEN ${t.failures} - 1 < ${rule.free} THEN NULL ELSE ${t.blockedUntil} END`,
      }).where(sql`${t.key} = ${key} AND ${t.failures} > 0`);
    }
  }

  /**
   * One key under its own rule (other throttled actions: e-mail conflicts, re-authentication): counted
   * before the action, in the one statement; `refund` takes it back when the action was not what is
   * throttled.
   */
  async attemptKey(key: string, rule: ThrottleRule, now = Date.now()): Promise<Admitted | Refused> {
    const failures = await this.#count(key, rule, now);
    if (failures === null) {
      return { admitted: false, retryAfter: await this.#retryAfter(key, now), by: "account" };
    }
    return { admitted: true, keys: [{ key, rule, failures }] };
  }

  /** Seconds the next attempt must wait after an admitted one that failed (for the audit). */
  nextDelaySeconds(attempt: Admitted): number {
    const ms = Math.max(0, ...attempt.keys.map((k) => delayAfter(k.rule, k.failures)));
    return Math.ceil(ms / 1000);
  }

  /**
   * The one statement: count the attempt and read the count back, only when the key's delay has passed
   * (null: refused). Concurrent statements on one key serialize on its row, each seeing the one before.
   */
  async #count(key: string, rule: ThrottleRule, now: number): Promise<number | null> {
    const t = this.db.t.loginThrottles;
    // Typed (timestampParam): a CASE of untyped parameters would be text on Postgres.
    const at = (ms: number) => timestampParam(this.db, t.blockedUntil, ms);
    const nowP = at(now);
    const first = delayAfter(rule, 1);
    // The block after the n-th attempt, n = the stored count + 1 (a CASE over the doubling steps).
    const steps: SQL[] = [];
    for (let n = rule.free; delayAfter(rule, n) < rule.maxDelayMs; n++) {
      steps.push(sql`WHEN ${t.failures} + 1 = ${n} THEN ${at(now + delayAfter(rule, n))}`);
    }
    const blockAfter = sql`CASE WHEN ${t.failures} + 1 < ${rule.free} THEN NULL ${
      sql.join(steps, sql` `)
    } ELSE ${at(now + rule.maxDelayMs)} END`;
    const quiet = sql`${t.windowStartedAt} < ${sql.param(new Date(now - rule.quietMs), t.windowStartedAt)}`;
    const rows = await this.db.db.insert(t).values({
      key,
      failures: 1,
      windowStartedAt: new Date(now),
      blockedUntil: first > 0 ? new Date(now + first) : null,
    }).onConflictDoUpdate({
      target: t.key,
      set: {
        failures: sql`CASE WHEN ${quiet} THEN 1 ELSE ${t.failures} + 1 END`,
        blockedUntil: sql`CASE WHEN ${quiet} THEN ${
          first > 0 ? at(now + first) : sql`NULL`
        } ELSE ${blockAfter} END`,
        windowStartedAt: new Date(now),
      },
      setWhere: sql`${t.blockedUntil} IS NULL OR ${t.blockedUntil} <= ${nowP}`,
    }).returning({ failures: t.failures });
    return rows.length ? Number(rows[0].failures) : null;
  }

  async #retryAfter(key: string, now: number): Promise<number> {
    const t = this.db.t.loginThrottles;
    const [row] = await this.db.db.select({ until: t.blockedUntil }).from(t).where(eq(t.key, key));
    const until = row?.until ? row.until.getTime() : now;
    return Math.max(1, Math.ceil((until - now) / 1000));
  }

  /** A key's state (tests and the audit). */
  async state(key: string): Promise<KeyState | null> {
    const t = this.db.t.loginThrottles;
    const [row] = await this.db.db.select().from(t).where(eq(t.key, key));
    return row
      ? {
        failures: row.failures,
        lastAt: row.windowStartedAt.getTime(),
        blockedUntil: row.blockedUntil ? row.blockedUntil.getTime() : null,
      }
      : null;
  }
}
