/** The seeds' curl examples: JSON sent without a JSON content type, and POSTs with no body at all. */
import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, jsonBody } from "../../src/http/openapi.ts";
import { renderError } from "../../src/http/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { requestContext } from "../../src/http/middleware.ts";
import { lenientJson } from "../../src/http/lenient_json.ts";

/** A request with credentials (their check is the route's, not this middleware's). */
const AUTH = { authorization: "Bearer t" };

function app() {
  const a = createRouter();
  a.use("*", requestContext(silentLogger));
  a.use("*", lenientJson());
  a.onError((err, c) => renderError(c, err));
  a.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/optional",
      request: { body: jsonBody(z.object({ create_backup: z.boolean().optional() }), false) },
      responses: { 200: { description: "ok" } },
    }),
    (c) => c.json({ got: c.req.valid("json") ?? null }),
  );
  return a;
}

Deno.test("lenient JSON: a POST with no body and no content type (curl -X POST) reaches an optional-body route", async () => {
  const res = await app().request("/api/v1/optional", { method: "POST", headers: AUTH });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { got: {} });
  const empty = await app().request("/api/v1/optional", {
    method: "POST",
    headers: AUTH,
    body: new Uint8Array(0),
  });
  assert.equal(empty.status, 200, await empty.clone().text());
});

Deno.test("lenient JSON: curl -d '{…}' without -H Content-Type is read as JSON", async () => {
  const res = await app().request("/api/v1/optional", {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/x-www-form-urlencoded" },
    body: '{"create_backup": true}',
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { got: { create_backup: true } });
});

Deno.test("lenient JSON: a real form body is left alone (and refused by a JSON route)", async () => {
  const res = await app().request("/api/v1/optional", {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/x-www-form-urlencoded" },
    body: "create_backup=true",
  });
  assert.equal(res.status, 415);
  const body = await res.json();
  assert.equal(body.code, "UNSUPPORTED_MEDIA_TYPE");
  assert.match(body.detail, /must be JSON: send it with Content-Type: application\/json/);
});

Deno.test("lenient JSON: broken JSON without a content type is 422 malformed JSON, not a media-type error", async () => {
  const variants: Record<string, string>[] = [
    AUTH,
    { ...AUTH, "content-type": "application/x-www-form-urlencoded" },
    { ...AUTH, "content-type": "text/plain" },
  ];
  for (const headers of variants) {
    const res = await app().request("/api/v1/optional", {
      method: "POST",
      headers,
      body: '{"create_backup": tru',
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.code, "VALIDATION_ERROR");
    assert.deepEqual(body.errors, [{ field: "body", message: "malformed JSON" }]);
  }
});

Deno.test("lenient JSON: an anonymous body is never read, but on the login route (its 401 needs none)", async () => {
  for (const [path, read] of [["/api/v1/optional", false], ["/api/v1/auth/login", true]] as const) {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode("{"));
        if (pulled > 3) controller.close();
      },
    }, { highWaterMark: 0 });
    const seen = createRouter();
    seen.use("*", lenientJson({ publicBodies: ["/api/v1/auth/login"] }));
    seen.post(path, (c) => c.json({ type: c.req.header("content-type") ?? null }));
    // @ts-ignore: a streamed request body needs duplex in Deno's fetch types
    const res = await seen.request(path, { method: "POST", body, duplex: "half" });
    assert.equal(pulled > 0, read, path);
    assert.deepEqual(await res.json(), { type: read ? "application/json" : null }, path);
  }
});
