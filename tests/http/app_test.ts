import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { createApp } from "../../src/app.ts";
import { buildDeps } from "../../src/deps.ts";
import { memoryLogger, silentLogger } from "../../src/log.ts";
import { createRouter, jsonBody } from "../../src/http/openapi.ts";
import { renderError } from "../../src/http/errors.ts";
import { requestContext } from "../../src/http/middleware.ts";
import { createDrainer } from "../../src/http/drain.ts";
import { singleDialectTest } from "../helpers/db.ts";
import fc from "fast-check";
import { json, testApp, testConfig } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

singleDialectTest("http: /health answers 200 with status and version", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/health");
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.status, "ok");
  assert.equal(typeof body.version, "string");
});

singleDialectTest(
  "http: /ready is 200 when migrated and 503 naming migrations when not",
  async (db) => {
    const { app } = await testApp(db);
    const res = await app.request("/ready");
    assert.equal(res.status, 200);
    assert.deepEqual((await json(res)).checks, {
      database: "ok",
      migrations: "ok",
    });
  },
);

singleDialectTest("http: /ready is 503 naming pending migrations", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/ready");
  assert.equal(res.status, 503);
  const body = await json<{ detail: string; checks: Record<string, string> }>(
    res,
  );
  assert.match(body.detail, /^migrations: .*pending/);
  assert.equal(body.checks.database, "ok");
  // The service's error fields are there too, beside status and checks.
  const full = body as unknown as { code: string; request_id: string };
  assert.equal(full.code, "SERVICE_UNAVAILABLE");
  assert.equal(full.request_id, res.headers.get("x-request-id"));
}, { migrated: false });

singleDialectTest(
  "http: /ready is 503 naming the database when it is gone",
  async (db) => {
    const { app } = await testApp(db);
    await db.close();
    const res = await app.request("/ready");
    assert.equal(res.status, 503);
    assert.match((await json(res)).detail as string, /^database: /);
  },
);

singleDialectTest(
  "http: request ids are honoured when sane, generated otherwise, echoed back",
  async (db) => {
    const { app } = await testApp(db);
    const a = await app.request("/health", {
      headers: { "X-Request-Id": "abc-123" },
    });
    assert.equal(a.headers.get("X-Request-Id"), "abc-123");
    const b = await app.request("/health", {
      headers: { "X-Request-Id": "bad id <script>" },
    });
    assert.match(b.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/);
    const c = await app.request("/health");
    assert.match(c.headers.get("X-Request-Id")!, /^[0-9a-f-]{36}$/);
  },
);

singleDialectTest("http: unknown routes answer 404 in the error shape", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/nope", {
    headers: { "X-Request-Id": "rid-1" },
  });
  assert.equal(res.status, 404);
  const body = await json(res);
  assert.equal(body.code, "NOT_FOUND");
  assert.equal(body.request_id, "rid-1");
  assert.match(body.detail as string, /GET \/nope/);
});

singleDialectTest("http: a known path with another method answers 405 with Allow", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/api/v1/auth/login");
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
  const body = await json(res);
  assert.equal(body.code, "METHOD_NOT_ALLOWED");
  assert.match(body.detail as string, /method GET not allowed on \/api\/v1\/auth\/login/);
  // Path parameters match any value; every method of the path is listed.
  const del = await app.request("/api/v1/backups/12", { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, HEAD");
  const users = await app.request("/api/v1/users/5", { method: "POST" });
  assert.deepEqual(users.headers.get("allow")?.split(", "), ["DELETE", "GET", "HEAD", "PATCH", "PUT"]);
  // A path nobody serves stays 404.
  assert.equal((await app.request("/api/v1/nothing/here", { method: "DELETE" })).status, 404);
  // One trailing slash names the same route (the router is not strict), for the 405 too.
  const slash = await app.request("/api/v1/auth/login/", { method: "GET" });
  assert.equal(slash.status, 405);
  assert.equal(slash.headers.get("allow"), "POST");
  assert.equal((await app.request("/api/v1/users/5/", { method: "POST" })).status, 405);
  assert.equal((await app.request("/api/v1/nothing/here/", { method: "DELETE" })).status, 404);
});

singleDialectTest("http: one JSON log line per request, without secrets", async (db) => {
  const logger = memoryLogger();
  const { app } = await testApp(db, { logger });
  await app.request("/health?token=supersecret", {
    headers: { Authorization: "Bearer supersecret", "X-Request-Id": "r-9" },
  });
  const lines = logger.records.filter((r) => r.event === "http_request");
  assert.equal(lines.length, 1);
  const l = lines[0];
  assert.equal(l.method, "GET");
  assert.equal(l.path, "/health");
  assert.equal(l.status, 200);
  assert.equal(l.request_id, "r-9");
  assert.equal(typeof l.duration_ms, "number");
  assert.ok(!JSON.stringify(logger.records).includes("supersecret"));
});

Deno.test("http: malformed JSON and failed validation answer 422 naming the field", async () => {
  const app = createRouter();
  app.use("*", requestContext(silentLogger));
  app.onError((err, c) => renderError(c, err));
  app.openapi(
    createRoute({
      method: "post",
      path: "/echo",
      request: {
        body: jsonBody(z.object({ email: z.email(), age: z.number().int() })),
      },
      responses: { 200: { description: "ok" } },
    }),
    (c) => c.json(c.req.valid("json")),
  );
  const bad = await app.request("/echo", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{not json",
  });
  assert.equal(bad.status, 422);
  const b1 = await json(bad);
  assert.equal(b1.code, "VALIDATION_ERROR");
  assert.match(b1.detail as string, /not valid JSON/);

  const invalid = await app.request("/echo", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: "nope", age: 3 }),
  });
  assert.equal(invalid.status, 422);
  const b2 = await json<{ detail: string; errors: { field: string }[] }>(
    invalid,
  );
  assert.match(b2.detail, /^invalid request body: email: /);
  assert.deepEqual(b2.errors.map((e) => e.field), ["email"]);
});

singleDialectTest("http: unexpected errors answer 500 without internals", async (db) => {
  const config = testConfig();
  const app = createApp(await buildDeps({ config, db, logger: memoryLogger() }));
  app.get("/boom", () => {
    throw new Error("secret internal detail");
  });
  const res = await app.request("/boom");
  assert.equal(res.status, 500);
  const body = await json(res);
  assert.equal(body.code, "INTERNAL_ERROR");
  assert.ok(!JSON.stringify(body).includes("secret internal detail"));
});

singleDialectTest(
  "http (property): one trailing slash names the same route — every GET answers alike with and without it",
  async (db) => {
    const { app } = await testApp(db);
    const w = await createWorld(db);
    const tokens = [await login(app, w.superAdmin.email), await login(app, w.admin.email)];
    const gets = [
      ...new Set(
        (app.routes as { method: string; path: string }[])
          .filter((r) => r.method === "GET" && !r.path.includes("*") && r.path !== "/")
          .map((r) => r.path),
      ),
    ];
    // Endpoints whose answer changes from one call to the next (a clock, a counter, a stream).
    const varying = /^\/(metrics|health|ready|docs)|\/jwks|\/events|\/download/;
    const answer = async (path: string, token: string) => {
      const res = await app.request(path, { headers: bearer(token, w.acme.id) });
      const body = await res.text();
      return { status: res.status, body: body.replace(/"request_id":"[^"]*"/g, "") };
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...gets),
        fc.constantFrom("1", "2", "999", "abc"),
        fc.constantFrom(0, 1),
        async (pattern, id, who) => {
          const path = pattern.replace(/:\w+(\{[^}]*\})?\??/g, id);
          const [plain, slash] = [await answer(path, tokens[who]), await answer(`${path}/`, tokens[who])];
          assert.equal(slash.status, plain.status, `${path}/`);
          if (!varying.test(path)) assert.equal(slash.body, plain.body, `${path}/`);
        },
      ),
      { numRuns: 120 },
    );
  },
);

singleDialectTest(
  "http: an upload to /api/v1/files/ streams under MAX_UPLOAD_BYTES, as without the slash",
  async (db) => {
    const { app } = await testApp(db, { env: { MAX_BODY_BYTES: "1024" } });
    const w = await createWorld(db);
    const token = await login(app, w.admin.email);
    const form = () => {
      const f = new FormData();
      f.append("file", new File([new Uint8Array(4096)], "big.bin", { type: "application/octet-stream" }));
      return f;
    };
    for (const path of ["/api/v1/files", "/api/v1/files/"]) {
      const res = await app.request(path, { method: "POST", headers: bearer(token), body: form() });
      // No S3 in this test: past the body limit it would be 413; exempt, it reaches the upload (503 or 502).
      assert.notEqual(res.status, 413, `${path}: ${await res.text()}`);
    }
  },
);

singleDialectTest(
  "http: the drainer's 503 and the 501 for an unknown method have every error's body and headers",
  async (db) => {
    const drainer = createDrainer();
    const served = drainer.wrap(() => new Response("ok"));
    await drainer.drain(0);
    const { app } = await testApp(db);
    const cases: [string, Response, string][] = [
      [
        "draining",
        await served(new Request("http://x/health", { headers: { "x-request-id": "r-1" } })),
        "r-1",
      ],
      [
        "draining, an id that is not sane",
        await served(new Request("http://x/", { headers: { "x-request-id": "a b" } })),
        "",
      ],
      [
        "unknown method",
        await app.fetch(
          new Request("http://x/health", { method: "BREW", headers: { "x-request-id": "r-2" } }),
        ),
        "r-2",
      ],
    ];
    for (const [label, res, id] of cases) {
      const body = await json<{ detail: string; code: string; request_id: string }>(res);
      assert.deepEqual(Object.keys(body).sort(), ["code", "detail", "request_id"], label);
      if (id) assert.equal(body.request_id, id, label);
      else assert.match(body.request_id, /^[0-9a-f-]{36}$/, label);
      assert.equal(res.headers.get("x-request-id"), body.request_id, label);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", label);
      assert.equal(res.headers.get("cache-control"), "no-store", label);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/, label);
    }
    assert.equal(cases[0][1].status, 503);
    assert.equal(cases[0][1].headers.get("retry-after"), "1");
    assert.equal(cases[0][1].headers.get("connection"), "close");
    assert.equal(cases[2][1].status, 501);
    // On the AuthZEN paths the incoming id comes back verbatim, as requestContext and the fast path answer there.
    for (
      const res of [
        await served(
          new Request("http://x/access/v1/evaluation", {
            method: "POST",
            headers: { "x-request-id": "a b" },
          }),
        ),
        await app.fetch(
          new Request("http://x/access/v1/evaluation", {
            method: "BREW",
            headers: { "x-request-id": "a b" },
          }),
        ),
      ]
    ) {
      assert.equal(res.headers.get("x-request-id"), "a b");
      assert.match((await json<{ request_id: string }>(res)).request_id, /^[0-9a-f-]{36}$/);
    }
  },
);

/** A body of `total` bytes of `a` in 64 KiB chunks, counting what the server pulled of it. */
function countedBody(total: number) {
  const chunk = new Uint8Array(64 * 1024).fill(97);
  const seen = { pulled: 0 };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled >= total) return controller.close();
      seen.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
  return { body, seen };
}

singleDialectTest(
  "http: no body is read whole before the guard — an anonymous chunked POST of 64 MiB to the upload route, with any slashes and content type",
  async (db) => {
    const { app } = await testApp(db, { env: { MAX_BODY_BYTES: "1048576" } });
    for (const path of ["/api/v1/files", "/api/v1/files/", "/api/v1/files//", "/api/v1/users"]) {
      for (const type of [null, "text/plain", "application/x-www-form-urlencoded"]) {
        const { body, seen } = countedBody(64 * 1024 * 1024);
        const res = await app.request(path, {
          method: "POST",
          headers: type ? { "content-type": type } : {},
          body,
          // @ts-ignore: a streamed request body needs duplex in Deno's fetch types
          duplex: "half",
        });
        await res.body?.cancel();
        assert.ok([401, 404, 413].includes(res.status), `${path} ${type}: ${res.status}`);
        assert.ok(seen.pulled <= 3 * 1024 * 1024, `${path} ${type}: ${seen.pulled} bytes read`);
      }
    }
    // Two trailing slashes are no route (the router drops one): 404, not a 405 for a neighbour's methods.
    assert.equal((await app.request("/api/v1/users//")).status, 404);
    assert.equal((await app.request("/api/v1/auth/login//", { method: "GET" })).status, 404);
  },
);
