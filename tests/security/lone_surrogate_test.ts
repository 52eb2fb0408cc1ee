/**
 * Security regression tests: lone UTF-16 surrogates (security review, found on the demo data). A JSON
 * string holding `\ud800` or `\udc00abc` — not well-formed Unicode — answered 500 on Postgres for any JSON
 * column ("invalid input syntax for type json": menu items, file metadata, a role's audit details, an
 * organization's) and 201 on libSQL, and text columns on both silently stored U+FFFD instead. Now it is a
 * 422 naming the field on both databases alike (AuthZEN's 400, router and fast path agreeing), as U+0000
 * is (src/http/input_rules.ts); well-formed strings, surrogate pairs (emoji) included, are untouched.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { memoryLogger } from "../../src/log.ts";
import { translateDbError } from "../../src/db/errors.ts";
import { AppError } from "../../src/errors.ts";
import { inputRuleViolations } from "../../src/http/input_rules.ts";
import { ParseCache } from "../../src/authzen/evaluation_fast_path.ts";
import { evaluationFastPath } from "../../src/authzen/evaluation_fast_path.ts";
import { createApp } from "../../src/app.ts";
import { eq, sql } from "drizzle-orm";
import { jsonValue } from "../helpers/json_values.ts";

/** JSON text spelling a lone surrogate (a JS string literal holding one would be the same thing). */
const LONE = "\\ud800";

type Errors = { code: string; detail: string; errors?: { field: string; message: string }[] };

/** The 422 the input rules give, naming `field`. */
async function assertRefused(res: Response, field: string, label: string) {
  const body = await json<Errors>(res);
  assert.equal(res.status, 422, `${label}: ${JSON.stringify(body)}`);
  assert.equal(body.code, "VALIDATION_ERROR", label);
  assert.ok(body.errors?.some((e) => e.field === field), `${label}: ${JSON.stringify(body)}`);
  assert.match(body.detail, /well-formed Unicode/, label);
}

dbTest(
  "input: a lone surrogate in any input string is a 422 naming the field, on both databases alike",
  async (db) => {
    const w = await createWorld(db);
    const s3 = await startTestS3();
    const logger = memoryLogger();
    try {
      const { app } = await testApp(db, { env: s3.env, logger });
      const admin = await login(app, "admin@acme.test");
      const globex = await login(app, "admin@globex.test");
      const root = await login(app, "root@platform.test");
      /** Sends `text` (JSON text, escapes kept as written) as the body. */
      const send = (method: string, path: string, token: string, text: string) =>
        app.request(path, {
          method,
          headers: { ...bearer(token), "content-type": "application/json" },
          body: text,
        });

      // A module's JSON column (menus.items): Globex is on the enterprise tier that licenses menus.
      const restaurant = await send("POST", "/api/v1/restaurants", globex, '{"name":"Pizza"}');
      assert.equal(restaurant.status, 201, await restaurant.clone().text());
      const restaurantId = (await json<{ id: number }>(restaurant)).id;
      const menu = (name: string) =>
        `{"restaurant_id":${restaurantId},"name":"m","items":[{"name":"${name}","price_cents":1}]}`;
      await assertRefused(
        await send("POST", "/api/v1/menus", globex, menu(LONE)),
        "items.0.name",
        "menu item",
      );
      await assertRefused(
        await send("POST", "/api/v1/menus", globex, menu(`\\udc00abc`)),
        "items.0.name",
        "menu item (low surrogate first)",
      );
      // A text column (crm lead name): was stored as U+FFFD, silently.
      await assertRefused(
        await send("POST", "/api/v1/crm/leads", admin, `{"name":"${LONE}abc"}`),
        "name",
        "lead",
      );
      // A role's description (its audit details are JSON).
      await assertRefused(
        await send("PATCH", `/api/v1/roles/${w.auditorRole.id}`, admin, `{"description":"${LONE}"}`),
        "description",
        "role description",
      );
      // An organization's name, by the super admin.
      await assertRefused(
        await send("PATCH", `/api/v1/organizations/${w.globex.id}`, root, `{"name":"Globex ${LONE}"}`),
        "name",
        "organization name",
      );
      // The files upload's metadata field (a multipart field, read without the router's hook).
      const upload = (metadata: string) => {
        const f = new FormData();
        f.append("metadata", metadata);
        f.append("file", new File(["hello"], "a.txt", { type: "text/plain" }));
        return app.request("/api/v1/files", { method: "POST", headers: bearer(admin), body: f });
      };
      await assertRefused(await upload(`{"k":"${LONE}"}`), "metadata.k", "files metadata");
      await assertRefused(await upload(`{"k\\udfffx":"v"}`), "metadata.k\\udfffx", "files metadata key");

      // Query strings and path parameters are percent-decoded UTF-8: the bytes a surrogate would take
      // (CESU-8, ED A0 80) are not UTF-8, so they never decode to a lone surrogate — and were they to, the
      // router's hook would refuse it as it refuses a NUL there. Headers are byte strings (no surrogate).
      for (const q of ["search=%ED%A0%80", "search=a%ED%B0%80b", "search=%ED%A0"]) {
        const res = await app.request(`/api/v1/crm/leads?${q}`, { headers: bearer(admin) });
        assert.equal(res.status, 200, q);
        await res.body?.cancel();
      }
      assert.throws(() => new Headers({ "x-a": "\ud800" }), TypeError);

      // Nothing was stored, nothing failed: no 500, no error log line.
      assert.equal((await db.db.select().from(db.t.menus)).length, 0);
      assert.equal((await db.db.select().from(db.t.crmLeads)).length, 0);
      assert.equal((await db.db.select().from(db.t.files)).length, 0);
      assert.equal(
        (await db.db.select().from(db.t.organizations).where(eq(db.t.organizations.id, w.globex.id)))[0].name,
        "Globex",
      );
      assert.ok(!logger.records.some((r) => r.event === "request_failed" || r.level === "error"));

      // Well-formed strings, a surrogate pair (escaped or not) included, are stored as sent.
      const emoji = await send("POST", "/api/v1/menus", globex, menu("Pizza \\ud83d\\ude00 😀"));
      assert.equal(emoji.status, 201, await emoji.clone().text());
      assert.equal((await json<{ items: { name: string }[] }>(emoji)).items[0].name, "Pizza 😀 😀");
      const lead = await send("POST", "/api/v1/crm/leads", admin, '{"name":"\\ud83d\\ude00abc"}');
      assert.equal(lead.status, 201);
      assert.equal((await json<{ name: string }>(lead)).name, "😀abc");
      const file = await upload('{"k":"\\ud83d\\ude00"}');
      assert.equal(file.status, 201, await file.clone().text());
      const stored = await json<{ id: number; metadata: unknown }>(file);
      assert.deepEqual(stored.metadata, { k: "😀" });
      // An object key, in a JSON body (a free-form record): named with the surrogate escaped.
      await assertRefused(
        await send("PATCH", `/api/v1/files/${stored.id}`, admin, `{"metadata":{"a\\ud800":"v"}}`),
        "metadata.a\\ud800",
        "a key",
      );
      const after = await app.request(`/api/v1/files/${stored.id}`, { headers: bearer(admin) });
      assert.deepEqual((await json<{ metadata: unknown }>(after)).metadata, { k: "😀" });
    } finally {
      await s3.close();
    }
  },
);

dbTest("input: AuthZEN answers a lone surrogate with 400, its fast path and router alike", async (db) => {
  const w = await createWorld(db);
  const { deps } = await testApp(db);
  const router = createApp(deps, { paths: "generic" });
  let routed = 0;
  const fast = evaluationFastPath(deps, (req: Request) => {
    routed++;
    return router.fetch(req);
  });
  const token = await login(router, "admin@acme.test");
  const me = String(w.admin.id);
  const bodies = [
    `{"subject":{"type":"user","id":"${me}${LONE}"},"action":{"name":"crm.read"},"resource":{"type":"module","id":"crm"}}`,
    `{"subject":{"type":"user","id":"${me}"},"action":{"name":"crm.read"},"resource":{"type":"module","id":"crm"},"context":{"a":[{"b":"\\udc00"}]}}`,
    `{"subject":{"type":"user","id":"${me}","properties":{"k\\ud800":1}},"action":{"name":"crm.read"},"resource":{"type":"module","id":"crm"}}`,
  ];
  const make = (body: string, path = "/access/v1/evaluation") =>
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body,
    });
  for (const body of bodies) {
    const before = routed;
    const a = await fast(make(body));
    const b = await router.fetch(make(body));
    const [ta, tb] = [await a.text(), await b.text()];
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
    assert.equal(a.status, 400, `${body}: ${ta}`);
    assert.equal(b.status, 400, `${body}: ${tb}`);
    assert.equal(ta.replace(uuid, ""), tb.replace(uuid, ""));
    assert.match(ta, /well-formed Unicode/);
    assert.ok(routed > before, "handed to the router");
    // The batch route too.
    const batch = await fast(make(`{"evaluations":[${body}]}`, "/access/v1/evaluations"));
    assert.equal(batch.status, 400, await batch.clone().text());
    await batch.body?.cancel();
  }
  // A surrogate pair, escaped: the fast path may hand it on, the answer is the router's 200 either way.
  const pair = bodies[1].replace('"\\udc00"', '"\\ud83d\\ude00"');
  const a = await fast(make(pair));
  const b = await router.fetch(make(pair));
  assert.equal(a.status, 200, await a.clone().text());
  assert.equal(b.status, 200);
  assert.equal(await a.text(), await b.text());
  // The parse cache never holds a body spelling a surrogate escape.
  const cache = new ParseCache();
  assert.equal(cache.get(bodies[0]), null);
  assert.equal(cache.get(bodies[0].replace(LONE, "\\uD800")), null);
});

dbTest("input: Postgres's refusal of a lone surrogate in JSON (22P02) maps to 422, not 500", async (db) => {
  const org = (await db.db.insert(db.t.organizations).values({ name: "N", slug: "n" }).returning())[0];
  const err = await db.db.update(db.t.organizations).set({ enabledModules: { ["x\ud800"]: true } }).where(
    eq(db.t.organizations.id, org.id),
  ).then(() => null, (e) => e);
  assert.ok(err, "Postgres refuses the value");
  const t = translateDbError(err);
  assert.ok(t instanceof AppError, String(err));
  assert.equal(t.status, 422);
  assert.match(t.message, /surrogate/);
  // Other invalid JSON input (not the input's fault here: a query's own text) stays an internal error.
  const other = await db.rows(sql`SELECT '{'::jsonb AS j`).then(() => null, (e) => e);
  assert.ok(other);
  assert.ok(!(translateDbError(other) instanceof AppError), String(other));
}, { only: ["postgres"] });

/** A lone surrogate, or a string holding one somewhere. */
const lone = fc.tuple(
  fc.string({ maxLength: 3 }),
  fc.integer({ min: 0xd800, max: 0xdfff }),
  fc.string({ maxLength: 3 }),
  fc.boolean(),
).map(([a, cp, b, pairAfter]) => {
  const s = String.fromCharCode(cp);
  // A high surrogate must not be followed by a low one, nor a low one preceded by a high one.
  const before = a.length && /[\ud800-\udbff]$/.test(a) ? a + "x" : a;
  const after = /^[\udc00-\udfff]/.test(b) ? "x" + b : b;
  return before + s + (pairAfter ? "😀" : "") + after;
});
const wellFormed = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom("😀", "a😀b", "\ud83d\ude00", "𝄞", ""),
);

/** The reference: recursive, obviously right (for small values). */
function lonePaths(v: unknown, path: string[] = [], out: string[] = []): string[] {
  if (typeof v === "string") {
    if (!v.isWellFormed()) out.push(path.join("."));
  } else if (Array.isArray(v)) v.forEach((x, i) => lonePaths(x, [...path, String(i)], out));
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (!k.isWellFormed()) out.push([...path, k].join("."));
      lonePaths(x, [...path, k], out);
    }
  }
  return out;
}

Deno.test("input (property): the rules name the path of every lone surrogate, in values or keys at any depth, and nothing else", () => {
  const sorted = (a: string[]) => [...a].sort();
  // Anything, lone surrogates here and there: every one named, by its path (keys escaped as \uXXXX).
  fc.assert(
    fc.property(jsonValue(fc.oneof(wellFormed, lone)), (v) => {
      const found = inputRuleViolations(v, Infinity);
      const expected = lonePaths(v).map((p) =>
        p.replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
      );
      assert.deepEqual(sorted(found.surrogate), sorted(expected));
    }),
    { numRuns: 2000 },
  );
  // Well-formed strings only (surrogate pairs, emoji, any script): no violation.
  fc.assert(
    fc.property(jsonValue(wellFormed), (v) => {
      assert.deepEqual(inputRuleViolations(v, Infinity).surrogate, []);
    }),
    { numRuns: 1000 },
  );
  // A lone surrogate buried anywhere in a tree: its path is named.
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.nat(3).map(String), fc.string({ minLength: 1, maxLength: 3 })), { maxLength: 20 }),
      lone,
      fc.boolean(),
      (path, s, asKey) => {
        let v: unknown = asKey ? { [s]: 1 } : s;
        for (const k of [...path].reverse()) v = { [k]: v };
        const escaped = s.replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
        const expected = [...path, ...(asKey ? [escaped] : [])].join(".");
        const found = inputRuleViolations(v, Infinity).surrogate;
        assert.deepEqual(found, [expected.length > 200 ? `${expected.slice(0, 200)}…` : expected]);
      },
    ),
    { numRuns: 500 },
  );
  // A long path is cut before a surrogate pair, never inside it: the field named stays well-formed.
  const [cut] = inputRuleViolations({ ["a".repeat(199) + "😀\ud800"]: 1 }, Infinity).surrogate;
  assert.equal(cut, "a".repeat(199) + "…");
});
