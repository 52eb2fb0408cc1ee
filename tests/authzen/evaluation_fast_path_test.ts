/**
 * The evaluation fast path answers exactly as the router does: for every
 * request — ordinary, odd or hostile — the two give the same status, body,
 * content type and request id, and the same log line; ordinary requests
 * never reach the router, anything else always does. On libSQL and Postgres.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eq } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { createWorld, login } from "../helpers/fixtures.ts";
import { createApp } from "../../src/app.ts";
import { createLogger } from "../../src/log.ts";
import {
  EVALUATION_PATH,
  evaluationFastPath,
  MAX_BODY_BYTES,
  ParseCache,
  parseEvaluation,
} from "../../src/authzen/evaluation_fast_path.ts";
import type { Database } from "../../src/db/client.ts";

async function twoPaths(db: Database) {
  const w = await createWorld(db);
  const lines: string[] = [];
  const { deps } = await testApp(db, {
    logger: createLogger("info", {}, (line) => lines.push(line)),
  });
  const router = createApp(deps, { paths: "generic" });
  let routed = 0;
  const fast = evaluationFastPath(
    deps,
    (req: Request) => {
      routed++;
      return router.fetch(req);
    },
  );
  const lead = (await db.db.insert(db.t.crmLeads).values({
    organizationId: w.acme.id,
    ownerId: w.executive.id,
    name: "exec's",
  }).returning())[0];
  const foreignLead = (await db.db.insert(db.t.crmLeads).values({
    organizationId: w.globex.id,
    ownerId: w.otherAdmin.id,
    name: "globex's",
  }).returning())[0];
  const tokens = {
    root: await login(router, "root@platform.test"),
    admin: await login(router, "admin@acme.test"),
    exec: await login(router, "exec@acme.test"),
    other: await login(router, "admin@globex.test"),
  };
  const url = `http://localhost${EVALUATION_PATH}`;
  /** Sends the same request both ways; returns both answers and whether the fast path routed it. */
  const both = async (init: { headers?: Record<string, string>; body?: string; path?: string }) => {
    const target = init.path ? `http://localhost${init.path}` : url;
    const make = () => new Request(target, { method: "POST", headers: init.headers, body: init.body });
    const before = routed;
    lines.length = 0;
    const a = await fast(make());
    const fastLines = lines.splice(0);
    const b = await router.fetch(make());
    const routerLines = lines.splice(0);
    return {
      fast: a,
      router: b,
      routed: routed > before,
      fastBody: await a.text(),
      routerBody: await b.text(),
      fastLines,
      routerLines,
    };
  };
  return { w, lead, foreignLead, tokens, both, fast };
}

/** Status, body, content type and (when the caller sent one) request id are the same both ways. */
function assertSame(r: Awaited<ReturnType<Awaited<ReturnType<typeof twoPaths>>["both"]>>, label: string) {
  assert.equal(r.fast.status, r.router.status, `${label}: status`);
  // Error bodies carry the request id, generated afresh for each of the two requests.
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  assert.equal(r.fastBody.replace(uuid, "<id>"), r.routerBody.replace(uuid, "<id>"), `${label}: body`);
  assert.equal(r.fast.headers.get("content-type"), r.router.headers.get("content-type"), `${label}: type`);
  assert.ok(r.fast.headers.get("x-request-id"), `${label}: x-request-id`);
}

const json = (token: string | null, extra: Record<string, string> = {}) => ({
  ...(token ? { authorization: `Bearer ${token}` } : {}),
  "content-type": "application/json",
  ...extra,
});

dbTest(
  "fast path: ordinary evaluations are answered without the router, as the router answers them",
  async (db) => {
    const { w, lead, foreignLead, tokens, both } = await twoPaths(db);
    const user = (id: string | number, extra = {}) => ({ type: "user", id: String(id), ...extra });
    const module = (id: string, extra = {}) => ({ type: "module", id, ...extra });
    const ask = (subject: unknown, action: string | object, resource: unknown, extra = {}) => ({
      subject,
      action: typeof action === "string" ? { name: action } : action,
      resource,
      ...extra,
    });
    const ordinary: [string, string, unknown][] = [
      ["admin, module, allowed", tokens.admin, ask(user(w.admin.id), "crm.read", module("crm"))],
      [
        "admin, module not entitled (denied, with trace)",
        tokens.admin,
        ask(user(w.admin.id), "manufacturing.read", module("manufacturing")),
      ],
      [
        "admin about the executive, by email, his lead",
        tokens.admin,
        ask(user("exec@acme.test"), "crm_leads_read", { type: "crm_lead", id: String(lead.id) }),
      ],
      [
        "executive about himself, another org's lead (tenant denial)",
        tokens.exec,
        ask(user(w.executive.id), "crm.read", { type: "crm_lead", id: String(foreignLead.id) }),
      ],
      [
        "executive, hypothetical record owned by another",
        tokens.exec,
        ask(user(w.executive.id, { properties: { x: 1 } }), { name: "crm.update", properties: {} }, {
          type: "crm_lead",
          properties: { organization_id: w.acme.id, owner_id: w.admin.id },
          id: "0",
        }, { context: { trace: true } }),
      ],
      [
        "super admin, trace on an allow, unknown keys dropped",
        tokens.root,
        ask(
          user(w.superAdmin.id, { extra: [1, 2] }),
          "crm.read",
          module("crm", { properties: { organization_id: w.acme.id } }),
          { context: { trace: true }, unknown: "ignored" },
        ),
      ],
      [
        "unknown subject type (denial)",
        tokens.admin,
        ask({ type: "service", id: "billing" }, "crm.read", module("crm")),
      ],
      ["unknown action (denial)", tokens.admin, ask(user(w.admin.id), "crm-read", module("crm"))],
      [
        "Globex admin about an Acme user (subject not found)",
        tokens.other,
        ask(user(w.admin.id), "crm.read", module("crm")),
      ],
    ];
    for (const [label, token, body] of ordinary) {
      const r = await both({
        headers: json(token, { "x-request-id": "not sane: echoed verbatim" }),
        body: JSON.stringify(body),
      });
      assertSame(r, label);
      assert.equal(r.fast.status, 200, label);
      assert.equal(r.routed, false, `${label}: served by the fast path`);
      assert.equal(r.fast.headers.get("x-request-id"), "not sane: echoed verbatim", label);
      // The same log line, but for its timestamp, duration and (generated) request id.
      const norm = (l: string[]) =>
        l.map((s) =>
          s.replace(/"ts":"[^"]+"/, "").replace(/"duration_ms":[\d.]+/, "").replace(
            /"request_id":"[^"]+"/,
            "",
          )
        );
      assert.deepEqual(norm(r.fastLines), norm(r.routerLines), `${label}: log line`);
      assert.equal(r.fastLines.length, 1, label);
      // Asked again (its parse now cached): the same answer, still without the router.
      const again = await both({
        headers: json(token, { "x-request-id": "again" }),
        body: JSON.stringify(body),
      });
      assert.equal(again.fastBody, r.fastBody, `${label}: asked again`);
      assert.equal(again.routed, false, label);
    }
    // A sane request id is both the log's and the response's; without one, a fresh id is made.
    const body = JSON.stringify(ordinary[0][2]);
    const sane = await both({ headers: json(tokens.admin, { "x-request-id": "req-42" }), body });
    assert.equal(sane.fast.headers.get("x-request-id"), "req-42");
    assert.match(sane.fastLines[0], /"request_id":"req-42"/);
    // As over the wire, with a declared length: still the fast path.
    const declared = await both({
      headers: json(tokens.admin, { "content-length": String(body.length) }),
      body,
    });
    assert.equal(declared.routed, false);
    assertSame(declared, "declared length");
    const none = await both({ headers: json(tokens.admin), body });
    assert.match(none.fast.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
    assert.ok(none.fastLines[0].includes(`"request_id":"${none.fast.headers.get("x-request-id")}"`));
  },
);

dbTest("fast path: anything but the ordinary case is handed to the router, body intact", async (db) => {
  const { w, tokens, both } = await twoPaths(db);
  const good = JSON.stringify({
    subject: { type: "user", id: String(w.admin.id) },
    action: { name: "crm.read" },
    resource: { type: "module", id: "crm" },
  });
  const big = good.replace(/}$/, `,"context":{"pad":"${"x".repeat(MAX_BODY_BYTES)}"}}`);
  const odd: [string, { headers?: Record<string, string>; body?: string; path?: string }, number][] = [
    ["no token", { headers: json(null), body: good }, 401],
    ["a bad token", { headers: json("not.a.token"), body: good }, 401],
    ["a Basic header", {
      headers: { authorization: "Basic YTpi", "content-type": "application/json" },
      body: good,
    }, 401],
    ["text/plain", { headers: { ...json(tokens.admin), "content-type": "text/plain" }, body: good }, 400],
    ["no content type", { headers: { authorization: `Bearer ${tokens.admin}` }, body: good }, 400],
    ["JSON with a parameter the fast path does not take", {
      headers: json(tokens.admin, { "content-type": "application/json;charset=UTF-8" }),
      body: good,
    }, 200],
    ["no body", { headers: json(tokens.admin) }, 400],
    ["broken JSON", { headers: json(tokens.admin), body: "{" }, 400],
    ["an array", { headers: json(tokens.admin), body: "[]" }, 400],
    ["subject.id a number", {
      headers: json(tokens.admin),
      body: good.replace(`"id":"${w.admin.id}"`, `"id":${w.admin.id}`),
    }, 400],
    ["no action", { headers: json(tokens.admin), body: JSON.stringify({ subject: {}, resource: {} }) }, 400],
    ["properties an array", {
      headers: json(tokens.admin),
      body: good.replace(`"crm.read"}`, `"crm.read","properties":[]}`),
    }, 400],
    ["context a string", { headers: json(tokens.admin), body: good.replace(/}$/, `,"context":"x"}`) }, 400],
    ["empty subject id", {
      headers: json(tokens.admin),
      body: good.replace(`"id":"${w.admin.id}"`, `"id":""`),
    }, 400],
    ["an executive asking about his admin", {
      headers: json(tokens.exec),
      body: good,
    }, 403],
    ["a query string", { headers: json(tokens.admin), body: good, path: `${EVALUATION_PATH}?x=1` }, 200],
    // One trailing slash names the same route (the router is not strict): answered by the router alike.
    ["a trailing slash", { headers: json(tokens.admin), body: good, path: `${EVALUATION_PATH}/` }, 200],
    ["a body declared larger than 64 KiB", {
      headers: json(tokens.admin, { "content-length": String(big.length) }),
      body: big,
    }, 200],
  ];
  for (const [label, init, status] of odd) {
    const r = await both(init);
    assertSame(r, label);
    assert.equal(r.fast.status, status, `${label}: ${r.fastBody}`);
    assert.equal(r.routed, true, `${label}: handed to the router`);
  }

  // An account that must change its password: the router's 403, not a decision.
  await db.db.update(db.t.users).set({ mustChangePassword: true }).where(eq(db.t.users.id, w.admin.id));
  const r = await both({ headers: json(tokens.admin), body: good });
  assertSame(r, "must change password");
  assert.ok(r.routed);
  assert.equal(r.fast.status, 403);
  assert.match(r.fastBody, /PASSWORD_CHANGE_REQUIRED/);
});

dbTest(
  "fast path: no body is read before the caller is authenticated, and an unreadable body is the router's",
  async (db) => {
    const { tokens, fast } = await twoPaths(db);
    // A body that would never end: with a bad token the answer (the router's 401) comes without reading it.
    let pulled = 0;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(c) {
          pulled++;
          c.enqueue(new TextEncoder().encode("[".repeat(1024)));
        },
      });
    const bad = await fast(
      new Request(`http://localhost${EVALUATION_PATH}`, {
        method: "POST",
        headers: json("not.a.token"),
        body: endless(),
      }),
    );
    assert.equal(bad.status, 401);
    assert.equal((await bad.json()).code, "UNAUTHORIZED");
    assert.ok(pulled < 4, `read ${pulled} chunks of an unauthenticated body`);
    // A body that fails half-way: the router's answer for a body it cannot parse, not an escaped exception.
    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"subject":'));
        c.error(new Error("client went away"));
      },
    });
    const res = await fast(
      new Request(`http://localhost${EVALUATION_PATH}`, {
        method: "POST",
        headers: json(tokens.admin),
        body: failing,
      }),
    );
    assert.equal(res.status, 400);
    assert.equal((await res.json()).code, "BAD_REQUEST");
    assert.ok(res.headers.get("x-request-id"));
  },
);

dbTest("fast path: arbitrary bodies get the router's answer (property)", async (db) => {
  const { w, tokens, both } = await twoPaths(db);
  const str = fc.oneof(
    fc.constantFrom(
      "user",
      "USER",
      "module",
      "crm_lead",
      "organization",
      "crm",
      "crm.read",
      "crm_leads_read",
      "",
      // A lone surrogate (JSON.stringify spells it `\ud800`: the router refuses it) and a pair.
      "\ud800",
      "x\udfff",
      "😀",
    ),
    fc.constant(String(w.admin.id)),
    fc.constant(String(w.executive.id)),
    fc.string({ maxLength: 6 }),
  );
  const value = fc.oneof(
    str,
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 2 }),
  );
  const props = fc.option(
    fc.oneof(fc.dictionary(fc.constantFrom("organization_id", "owner_id", "trace", "x"), value), value),
    {
      nil: undefined,
    },
  );
  const entity = fc.oneof(
    fc.record({ type: fc.oneof(str, value), id: fc.oneof(str, value), properties: props }, {
      requiredKeys: [],
    }),
    value,
  );
  const body = fc.record({
    subject: entity,
    action: fc.oneof(
      fc.record({ name: fc.oneof(str, value), properties: props }, { requiredKeys: [] }),
      value,
    ),
    resource: entity,
    context: props,
  }, { requiredKeys: [] });
  await fc.assert(
    fc.asyncProperty(body, fc.constantFrom(tokens.admin, tokens.exec, tokens.root), async (b, token) => {
      const r = await both({ headers: json(token), body: JSON.stringify(b) });
      assertSame(r, JSON.stringify(b));
      // The fast path serves a request exactly when it is well formed and answered with a decision.
      assert.equal(r.routed, !(parseEvaluation(b) && r.fast.status === 200), JSON.stringify(b));
    }),
    { numRuns: 150 },
  );
});

Deno.test("fast path: the parse cache keeps only well-formed requests, frozen, within its bounds", () => {
  const cache = new ParseCache(3, 200);
  const body = (i: number) =>
    JSON.stringify({
      subject: { type: "user", id: String(i) },
      action: { name: "crm.read" },
      resource: { type: "module", id: "crm" },
    });
  const a = cache.get(body(1))!;
  assert.equal(a.subject.id, "1");
  assert.equal(cache.get(body(1)), a, "the second ask is the cached object");
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.subject) && Object.isFrozen(a.action));
  assert.throws(() => {
    (a.subject as { id: string }).id = "2";
  }, TypeError);
  // Not the schema's shape, or not JSON: null, and nothing kept.
  assert.equal(cache.get("{"), null);
  assert.equal(cache.get(JSON.stringify({ subject: { type: "user", id: 1 } })), null);
  assert.equal(cache.size, 1);
  // Bodies over the size bound are parsed but not kept.
  const long = JSON.stringify({ ...JSON.parse(body(9)), context: { pad: "x".repeat(300) } });
  assert.equal(cache.get(long)?.subject.id, "9");
  assert.equal(cache.size, 1);
  // At most maxEntries: the oldest goes first.
  for (let i = 2; i <= 5; i++) cache.get(body(i));
  assert.equal(cache.size, 3);
  assert.notEqual(cache.get(body(1)), a, "evicted, parsed afresh");
});
