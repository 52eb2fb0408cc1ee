/**
 * Security regression tests: JSON nesting depth (outside attack 2026-12-03, A11/A12). A body thousands of
 * levels deep overflowed the stack of the recursive NUL walk (500) and stalled the event loop for seconds
 * per request — an executive's token was enough (AuthZEN `context` / `properties`). Now one linear walk,
 * no recursion, and anything nested deeper than JSON_MAX_DEPTH (32) is refused naming the field: 400 on
 * AuthZEN (router and evaluation fast path alike), 422 elsewhere — as U+0000 is.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "@hono/zod-openapi";
import { createRoute } from "@hono/zod-openapi";
import { singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { createRouter, jsonBody } from "../../src/http/openapi.ts";
import { renderError } from "../../src/http/errors.ts";
import { inputRuleViolations, jsonTextTooDeep } from "../../src/http/input_rules.ts";
import { jsonValue } from "../helpers/json_values.ts";

/** `{"a":{"a":…1…}}`, `depth` objects deep. */
const nested = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
/** The executive asks about himself (createWorld's executive). */
let me = "0";
const evaluation = (context: string, where: "context" | "subject" = "context") =>
  where === "context"
    ? `{"subject":{"type":"user","id":"${me}"},"action":{"name":"crm.read"},"resource":{"type":"module","id":"crm"},"context":${context}}`
    : `{"subject":{"type":"user","id":"${me}","properties":${context}},"action":{"name":"crm.read"},"resource":{"type":"module","id":"crm"}}`;

singleDialectTest(
  "input (A11/A12): JSON nested deeper than JSON_MAX_DEPTH is a 400 on AuthZEN naming the field, at once",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const exec = await login(app, "exec@acme.test");
    const post = (path: string, body: string) =>
      app.request(path, {
        method: "POST",
        headers: { ...bearer(exec), "content-type": "application/json" },
        body,
      });
    me = String(w.executive.id);
    // The top-level body is level 1, context level 2: 31 levels from context on are fine, 32 one too many.
    let res = await post("/access/v1/evaluation", evaluation(nested(31)));
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
    for (const depth of [32, 100, 9_000, 100_000]) {
      for (
        const [path, body] of [
          ["/access/v1/evaluation", evaluation(nested(depth))], // the fast path (and the router behind it)
          ["/access/v1/evaluation", evaluation(nested(depth), "subject")],
          ["/access/v1/evaluations", `{"evaluations":[${evaluation(nested(depth))}]}`],
          ["/access/v1/search/resource", evaluation(nested(depth)).replace('"id":"crm"', '"id":""')],
        ] as const
      ) {
        const started = performance.now();
        res = await post(path, body);
        const ms = performance.now() - started;
        const b = await json(res);
        assert.equal(res.status, 400, `${path} depth ${depth}: ${JSON.stringify(b).slice(0, 300)}`);
        assert.match(String(b.detail), /must not nest objects or arrays more than 32 levels deep/);
        assert.match(String(b.detail), /(context|properties)\.a\.a/, String(b.detail).slice(0, 200));
        assert.ok(String(b.detail).length < 600, "the path is named, not echoed whole");
        assert.ok(ms < 2_000, `${path} depth ${depth}: ${ms} ms`);
      }
    }
  },
);

singleDialectTest(
  "input: JSON_MAX_DEPTH is configurable; the same rule on REST answers 422 naming the field",
  async (db) => {
    me = String((await createWorld(db)).executive.id);
    const { app } = await testApp(db, { env: { JSON_MAX_DEPTH: "8" } });
    const exec = await login(app, "exec@acme.test");
    const post = (body: string) =>
      app.request("/access/v1/evaluation", {
        method: "POST",
        headers: { ...bearer(exec), "content-type": "application/json" },
        body,
      });
    let res = await post(evaluation(nested(7)));
    assert.equal(res.status, 200);
    await res.body?.cancel();
    res = await post(evaluation(nested(8)));
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).detail), /more than 8 levels deep/);
    // A REST router with a free-form body (as a module's json field is): 422, the field named.
    const router = createRouter();
    router.use("*", async (c, next) => {
      c.set("maxJsonDepth", 8);
      await next();
    });
    router.onError((err, c) => renderError(c, err));
    router.openapi(
      createRoute({
        method: "post",
        path: "/x",
        request: { body: jsonBody(z.object({ data: z.record(z.string(), z.unknown()) })) },
        responses: { 200: { description: "ok" } },
      }),
      (c) => c.json({ ok: true }, 200),
    );
    const rest = (body: string) =>
      router.request("/x", { method: "POST", headers: { "content-type": "application/json" }, body });
    res = await rest(`{"data":${nested(7)}}`);
    assert.equal(res.status, 200);
    for (const depth of [8, 50_000]) {
      res = await rest(`{"data":${nested(depth)}}`);
      const b = await json<{ code: string; errors: { field: string; message: string }[] }>(res);
      assert.equal(res.status, 422, JSON.stringify(b).slice(0, 200));
      assert.equal(b.code, "VALIDATION_ERROR");
      assert.equal(b.errors[0].field, "data" + ".a".repeat(7));
      assert.match(b.errors[0].message, /more than 8 levels deep/);
    }
  },
);

/** The reference: recursive, obviously right (for small values). */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depthOf));
}
function nulPaths(v: unknown, path: string[] = [], out: string[] = []): string[] {
  if (typeof v === "string") {
    if (v.includes("\u0000")) out.push(path.join("."));
  } else if (Array.isArray(v)) v.forEach((x, i) => nulPaths(x, [...path, String(i)], out));
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k.includes("\u0000")) out.push([...path, k.replaceAll("\u0000", "\\u0000")].join("."));
      nulPaths(x, [...path, k], out);
    }
  }
  return out;
}

Deno.test("input (property): the linear walk finds what the recursive one finds; the text check agrees on depth", () => {
  const str = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("\u0000", "a\u0000b", '{"[', "\\"));
  const value = jsonValue(str);
  fc.assert(
    fc.property(value, fc.integer({ min: 1, max: 8 }), (v, max) => {
      const found = inputRuleViolations(v, max);
      const deep = depthOf(v) > max;
      assert.equal(found.tooDeep !== null, deep);
      assert.equal(jsonTextTooDeep(JSON.stringify(v), max), deep);
      // The same fields (keys are reported before the values under them).
      const sorted = (a: string[]) => [...a].sort();
      if (!deep) assert.deepEqual(sorted(found.nul), sorted(nulPaths(v)));
      assert.deepEqual(sorted(inputRuleViolations(v, Infinity).nul), sorted(nulPaths(v)));
    }),
    { numRuns: 2000 },
  );
});
