/**
 * Security regression tests: login throttling (review 2026-12-02, F4 concurrency and F15 lockout as a
 * weapon). Real parallel requests over HTTP to two replicas; the SQL throttle checked against its pure
 * model with random sequences; IPv6 keyed by /64. Both databases.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { createOrg, createUser, PASSWORD } from "../helpers/fixtures.ts";
import { openDatabase } from "../../src/db/client.ts";
import type { Database } from "../../src/db/client.ts";
import {
  addressKey,
  admissionModel,
  DEFAULT_THROTTLE,
  delayAfter,
  type KeyState,
  LoginThrottle,
  throttleKeys,
  type ThrottleRule,
} from "../../src/auth/login_throttle.ts";

const loginInit = (email: string, password: string, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify({ email, password }),
});

/** Two replicas of the app on real sockets over one database; returns their base URLs. */
async function twoReplicas(db: Database, url: string, env: Record<string, string> = {}) {
  const second = await openDatabase(url, { maxConnections: 4 });
  const apps = [(await testApp(db, { env })).app, (await testApp(second, { env })).app];
  const servers = apps.map((app) => Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch));
  return {
    urls: servers.map((s) => `http://127.0.0.1:${s.addr.port}`),
    async close() {
      for (const s of servers) await s.shutdown();
      await second.close();
    },
  };
}

async function burst(
  urls: string[],
  passwords: string[],
  email: string,
  headers: (i: number) => Record<string, string>,
) {
  const started = performance.now();
  const statuses = await Promise.all(passwords.map(async (password, i) => {
    const res = await fetch(
      `${urls[i % urls.length]}/api/v1/auth/login`,
      loginInit(email, password, headers(i)),
    );
    await res.body?.cancel();
    return res.status;
  }));
  const count = (s: number) => statuses.filter((x) => x === s).length;
  const elapsedMs = performance.now() - started;
  return { statuses, ok: count(200), wrong: count(401), throttled: count(429), elapsedMs };
}

/**
 * The most attempts a rule admits within `ms`: its free ones, then one per delay that has fully passed
 * (a burst slowed by a loaded machine may outlast the first delays; that is the rule working).
 */
function admittedWithin(rule: ThrottleRule, ms: number): number {
  let n = rule.free;
  let waited = 0;
  while ((waited += delayAfter(rule, n)) <= ms) n++;
  return n;
}

dbTest(
  "throttling: 30 parallel guesses on two replicas get at most 5 passwords checked; a success inside the burst erases nothing",
  async (db, { url }) => {
    const org = await createOrg(db, { name: "Acme" });
    await createUser(db, { email: "victim@acme.test", role: "admin", organizationId: org.id });
    const r = await twoReplicas(db, url);
    try {
      // The 12th guess is the right one.
      const guesses = Array.from({ length: 30 }, (_, i) => (i === 11 ? PASSWORD : `wrong-${i}`));
      const b = await burst(r.urls, guesses, "victim@acme.test", () => ({}));
      assert.ok(
        b.ok + b.wrong <= admittedWithin(DEFAULT_THROTTLE.pair, b.elapsedMs),
        `checked ${b.ok + b.wrong}: ${b.statuses}`,
      );
      assert.equal(b.ok + b.wrong + b.throttled, 30);
      const failed = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
        e.event === "auth.login_failed"
      );
      assert.equal(failed.length, b.wrong);
      // Whether or not the right guess got through, the burst's failures still count: no fresh five.
      const after = await burst(r.urls, Array(10).fill("wrong-again"), "victim@acme.test", () => ({}));
      assert.ok(after.wrong <= 1, `after the burst: ${after.statuses}`);
    } finally {
      await r.close();
    }
  },
  { needsServer: true },
);

dbTest(
  "throttling: guesses spread over many addresses meet the account's limit; the owner is delayed, never locked",
  async (db, { url }) => {
    const org = await createOrg(db, { name: "Acme" });
    await createUser(db, { email: "victim@acme.test", role: "admin", organizationId: org.id });
    const r = await twoReplicas(db, url, { TRUST_PROXY: "true" });
    try {
      // One attacker address: only its own five guesses are checked; the owner, elsewhere, logs in.
      const one = await burst(r.urls, Array(30).fill("nope"), "victim@acme.test", () => ({
        "x-forwarded-for": "203.0.113.9",
      }));
      assert.ok(one.wrong <= admittedWithin(DEFAULT_THROTTLE.pair, one.elapsedMs), `${one.statuses}`);
      const owner = await fetch(
        `${r.urls[0]}/api/v1/auth/login`,
        loginInit("victim@acme.test", PASSWORD, { "x-forwarded-for": "198.51.100.7" }),
      );
      assert.equal(owner.status, 200, "the owner is not locked out by one attacker");
      await owner.body?.cancel();
      // Thirty addresses (different /64s): the account's own limit holds them to about ten checks.
      const many = await burst(r.urls, Array(30).fill("nope"), "victim@acme.test", (i) => ({
        "x-forwarded-for": `2001:db8:${i.toString(16)}::1`,
      }));
      assert.ok(many.wrong <= admittedWithin(DEFAULT_THROTTLE.account, many.elapsedMs), `${many.statuses}`);
      // The owner now waits at most the account's longest delay (a minute), not a 15-minute lock.
      const waiting = await fetch(
        `${r.urls[1]}/api/v1/auth/login`,
        loginInit("victim@acme.test", PASSWORD, { "x-forwarded-for": "198.51.100.7" }),
      );
      if (waiting.status === 429) {
        assert.ok(Number(waiting.headers.get("retry-after")) <= DEFAULT_THROTTLE.account.maxDelayMs / 1000);
      } else assert.equal(waiting.status, 200);
      await waiting.body?.cancel();
    } finally {
      await r.close();
    }
  },
  { needsServer: true },
);

dbTest("throttling: IPv6 clients are one address per /64", async (db) => {
  const org = await createOrg(db, { name: "Acme" });
  await createUser(db, { email: "victim@acme.test", role: "admin", organizationId: org.id });
  const { app } = await testApp(db, { env: { TRUST_PROXY: "true" } });
  // Twenty failures, each from another address of one /64 and on another account.
  for (let i = 0; i < DEFAULT_THROTTLE.address.free; i++) {
    const res = await app.request(
      "/api/v1/auth/login",
      loginInit(`u${i}@x.test`, "nope", {
        "x-forwarded-for": `2001:db8:1:2:${(i + 1).toString(16)}::${i + 1}`,
      }),
    );
    assert.equal(res.status, 401);
  }
  const same = await app.request(
    "/api/v1/auth/login",
    loginInit("victim@acme.test", PASSWORD, { "x-forwarded-for": "2001:DB8:1:2:FFFF:0:0:1" }),
  );
  assert.equal(same.status, 429, "another address of the same /64");
  const other = await app.request(
    "/api/v1/auth/login",
    loginInit("victim@acme.test", PASSWORD, { "x-forwarded-for": "2001:db8:1:3::1" }),
  );
  assert.equal(other.status, 200, "the next /64 is another client");
});

dbTest(
  "throttling: delays grow by doubling up to each key's cap; a success refunds only itself",
  async (db) => {
    const throttle = new LoginThrottle(db);
    const t0 = Date.parse("2026-12-02T10:00:00Z");
    const keys = throttleKeys("victim@acme.test", "203.0.113.9");
    let now = t0;
    const admitted: number[] = [];
    // Always retry the moment Retry-After allows: the gaps between checked guesses double.
    for (let i = 0; i < 20; i++) {
      const a = await throttle.attempt(keys, now);
      if (a.admitted) admitted.push(now);
      else now += a.retryAfter * 1000;
      if (a.admitted) continue;
      const again = await throttle.attempt(keys, now);
      assert.ok(again.admitted, `admitted once Retry-After has passed (${i})`);
      admitted.push(now);
    }
    const gaps = admitted.slice(1).map((t, i) => t - admitted[i]);
    assert.deepEqual(gaps.slice(0, 4), [0, 0, 0, 0]);
    assert.deepEqual(gaps.slice(4, 9), [1000, 2000, 4000, 8000, 16000]);
    // From one address the pair's cap holds: 15 minutes.
    assert.equal(Math.max(...gaps), DEFAULT_THROTTLE.pair.maxDelayMs);
    // From ever new addresses (a botnet), the account's cap: a minute — the owner is never locked long.
    let spread = t0 + 2 * 3_600_000;
    let last = spread;
    const spreadGaps: number[] = [];
    for (let i = 0; i < 40; i++) {
      const k = throttleKeys("owner2@acme.test", `2001:db8:${i.toString(16)}::1`);
      let a = await throttle.attempt(k, spread);
      if (!a.admitted) {
        assert.equal(a.by, "account");
        spread += a.retryAfter * 1000;
        a = await throttle.attempt(k, spread);
        assert.ok(a.admitted);
      }
      spreadGaps.push(spread - last);
      last = spread;
    }
    assert.equal(Math.max(...spreadGaps), DEFAULT_THROTTLE.account.maxDelayMs, `${spreadGaps}`);
    assert.equal(spreadGaps.filter((g) => g === 0).length, DEFAULT_THROTTLE.account.free);
    // A success takes back its own count only.
    const fresh = throttleKeys("owner@acme.test", "198.51.100.1");
    for (let i = 0; i < 4; i++) assert.ok((await throttle.attempt(fresh, t0)).admitted);
    const ok = await throttle.attempt(fresh, t0);
    assert.ok(ok.admitted);
    if (ok.admitted) await throttle.refund(ok);
    assert.equal((await throttle.state(fresh.pair))?.failures, 4);
    assert.ok((await throttle.attempt(fresh, t0)).admitted, "the fifth failure");
    assert.equal((await throttle.attempt(fresh, t0)).admitted, false, "the sixth waits: nothing was erased");
  },
);

dbTest(
  "throttling: the SQL throttle is its model, and no key checks more than `free` guesses a second",
  async (db) => {
    const throttle = new LoginThrottle(db);
    const t = db.t.loginThrottles;
    const event = fc.record({
      account: fc.constantFrom("a@x.test", "b@x.test"),
      address: fc.constantFrom("203.0.113.1", "203.0.113.2", "2001:db8::1"),
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2500 })),
      success: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 40 }), async (events) => {
        await db.db.delete(t);
        const model = new Map<string, KeyState | null>();
        const checked = new Map<string, number[]>();
        let now = Date.parse("2026-12-02T10:00:00Z");
        for (const e of events) {
          now += e.dt;
          const keys = throttleKeys(e.account, e.address);
          // The model: keys in order, each admitting by its rule; a refusal takes back the others' counts.
          const order = [["address", keys.address], ["pair", keys.pair], ["account", keys.account]] as const;
          const taken: [string, typeof DEFAULT_THROTTLE.pair, KeyState | null][] = [];
          let expected = true;
          for (const [kind, key] of order) {
            const rule = DEFAULT_THROTTLE[kind];
            const before = model.get(key) ?? null;
            const r = admissionModel(rule, before, now);
            if (!r.admitted) {
              expected = false;
              for (const [k, rl] of taken) model.set(k, refundModel(rl, model.get(k) ?? null));
              break;
            }
            model.set(key, r.state);
            taken.push([key, rule, before]);
          }
          const got = await throttle.attempt(keys, now);
          assert.equal(got.admitted, expected);
          if (got.admitted) {
            if (!e.success) {
              for (const [, key] of order) checked.set(key, [...(checked.get(key) ?? []), now]);
            }
            if (e.success) {
              await throttle.refund(got);
              for (const [kind, key] of order) {
                model.set(key, refundModel(DEFAULT_THROTTLE[kind], model.get(key)!));
              }
            }
          }
        }
        for (const [key, state] of model) {
          const row = await throttle.state(key);
          assert.deepEqual(row && { ...row }, state && { ...state }, key);
        }
        // The invariant: on every key, no `free + 1` failed guesses were checked within less than the
        // first delay (successes are refunded, so they do not make room for more).
        for (const [key, times] of checked) {
          const kind = key.split(":")[0] as "address" | "pair" | "account";
          const { free, baseDelayMs } = DEFAULT_THROTTLE[kind];
          for (let i = 0; i + free < times.length; i++) {
            assert.ok(times[i + free] - times[i] >= baseDelayMs, `${key}: ${times}`);
          }
        }
      }),
      { numRuns: 25 },
    );
  },
);

/** `refund` as a pure function. */
function refundModel(rule: typeof DEFAULT_THROTTLE.pair, s: KeyState | null): KeyState | null {
  if (!s || s.failures <= 0) return s;
  const failures = s.failures - 1;
  return { ...s, failures, blockedUntil: failures < rule.free ? null : s.blockedUntil };
}

Deno.test("throttling: the address key is the /64 for IPv6, the address itself for IPv4", () => {
  const group = fc.integer({ min: 0, max: 0xffff });
  const groups = fc.array(group, { minLength: 8, maxLength: 8 });
  const full = (g: number[]) => g.map((x) => x.toString(16).padStart(4, "0")).join(":").toUpperCase();
  const compressed = (g: number[]) => {
    // The longest run of zero groups as `::`.
    let best = [-1, 0];
    for (let i = 0; i < 8;) {
      if (g[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && g[j] === 0) j++;
      if (j - i > best[1]) best = [i, j - i];
      i = j;
    }
    const hex = g.map((x) => x.toString(16));
    if (best[1] < 2) return hex.join(":");
    return `${hex.slice(0, best[0]).join(":")}::${hex.slice(best[0] + best[1]).join(":")}`;
  };
  fc.assert(
    fc.property(groups, groups, (a, b) => {
      if (a.slice(0, 5).every((x) => x === 0) && a[5] === 0xffff) return; // IPv4-mapped: below
      // Any spelling of one address is one key; the same /64 is one key; another /64 another key.
      assert.equal(addressKey(full(a)), addressKey(compressed(a)));
      const sameNet = [...a.slice(0, 4), ...b.slice(4)];
      assert.equal(addressKey(compressed(sameNet)), addressKey(full(a)));
      const otherNet = [...b.slice(0, 4), ...a.slice(4)];
      const differ = b.slice(0, 4).some((x, i) => x !== a[i]);
      if (differ && !(otherNet.slice(0, 5).every((x) => x === 0) && otherNet[5] === 0xffff)) {
        assert.notEqual(addressKey(compressed(otherNet)), addressKey(full(a)));
      }
    }),
    { numRuns: 500 },
  );
  assert.equal(addressKey("203.0.113.9"), "203.0.113.9");
  assert.equal(addressKey("::ffff:203.0.113.9"), "203.0.113.9");
  assert.equal(addressKey("[2001:db8::1%eth0]"), "2001:db8:0:0::/64");
  assert.equal(addressKey("not an address"), "not an address");
  assert.equal(delayAfter(DEFAULT_THROTTLE.pair, 4), 0);
  assert.equal(delayAfter(DEFAULT_THROTTLE.pair, 5), 1000);
  assert.equal(delayAfter(DEFAULT_THROTTLE.pair, 100), 15 * 60_000);
});

dbTest(
  "throttling: a flood of throttled logins is one audit row per key and block, every refusal still counted (attack report 2026-12-03, finding 9)",
  async (db) => {
    const { app } = await testApp(db, { env: { TRUST_PROXY: "true", METRICS_TOKEN: "m".repeat(32) } });
    const headers = { "x-forwarded-for": "203.0.113.50" };
    let throttled = 0;
    // Random e-mails from one address: the address key throttles them, as a scanner's would be.
    for (let i = 0; i < 60; i++) {
      const res = await app.request("/api/v1/auth/login", loginInit(`scan${i}@nowhere.test`, "x", headers));
      if (res.status === 429) throttled++;
      await res.body?.cancel();
    }
    assert.ok(throttled >= 30, `${throttled} throttled`);
    const rows = (await db.db.select().from(db.t.auditLogs)).filter((e) =>
      e.event === "auth.login_throttled"
    );
    assert.ok(
      rows.length >= 1 && rows.length <= 3,
      `${rows.length} throttled rows for ${throttled} refusals`,
    );
    const metrics = await (await app.request("/metrics", {
      headers: { authorization: `Bearer ${"m".repeat(32)}` },
    })).text();
    const counted = Number(/^seedbed_login_throttled_total (\d+)/m.exec(metrics)?.[1]);
    assert.equal(counted, throttled, "every refusal is counted");
  },
);
