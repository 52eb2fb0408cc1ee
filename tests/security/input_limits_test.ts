/**
 * Security regression tests: input limits (review 2026-12-02, F2 body size; F9 NUL bytes: U+0000 is
 * refused with 422 on both databases alike, AuthZEN's 400 aside, and nothing reaches the error log).
 * A body over MAX_BODY_BYTES answers 413 before more than the limit is pulled from the client, on every
 * route (unauthenticated login, REST, AuthZEN and its evaluation fast path); uploads keep MAX_UPLOAD_BYTES.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest, singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { limitStream, readAtMost } from "../../src/http/body_limit.ts";
import { memoryLogger } from "../../src/log.ts";
import { translateDbError } from "../../src/db/errors.ts";
import { AppError } from "../../src/errors.ts";
import { eq } from "drizzle-orm";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * A client body of `total` bytes (a JSON object opening, then padding), produced only as it is pulled:
 * `pulled` says how much the server took, `cancelled` whether it hung up on it.
 */
function streamedBody(total: number, chunk = CHUNK) {
  const state = { pulled: 0, cancelled: false };
  const head = new TextEncoder().encode('{"email":"a@b.c","password":"');
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (state.pulled >= total) return c.close();
      const n = Math.min(chunk, total - state.pulled);
      const bytes = new Uint8Array(n).fill(0x41);
      if (state.pulled === 0) bytes.set(head.subarray(0, Math.min(head.length, n)));
      state.pulled += n;
      c.enqueue(bytes);
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

type Fetcher = { fetch: (req: Request) => Response | Promise<Response> };

async function send(
  app: Fetcher,
  path: string,
  body: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
) {
  return await app.fetch(
    new Request(`http://localhost${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    }),
  );
}

singleDialectTest(
  "limits: a 150 MiB streamed body answers 413 having pulled at most the limit, on every route",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const token = await login(app, "admin@acme.test");
    const routes: [string, Record<string, string>][] = [
      ["/api/v1/auth/login", {}], // unauthenticated
      ["/api/v1/crm/leads", bearer(token)],
      ["/access/v1/evaluation", bearer(token)], // the fast path
      ["/access/v1/evaluations", bearer(token)],
      ["/access/v1/search/action", bearer(token)],
    ];
    for (const [path, headers] of routes) {
      const { stream, state } = streamedBody(150 * MiB);
      const res = await send(app, path, stream, headers);
      assert.equal(res.status, 413, path);
      const body = await json(res);
      assert.equal(body.code, "PAYLOAD_TOO_LARGE", path);
      assert.match(body.detail as string, /MAX_BODY_BYTES/);
      assert.ok(state.pulled <= MiB + 2 * CHUNK, `${path}: pulled ${state.pulled} bytes`);
      assert.ok(state.cancelled, `${path}: the client's stream is cancelled`);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    }
  },
);

singleDialectTest("limits: a declared Content-Length over the limit is refused unread", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db);
  const token = await login(app, "admin@acme.test");
  for (
    const [path, headers] of [["/api/v1/auth/login", {}], ["/access/v1/evaluation", bearer(token)]] as const
  ) {
    const { stream, state } = streamedBody(150 * MiB);
    const res = await send(app, path, stream, { ...headers, "content-length": String(150 * MiB) });
    assert.equal(res.status, 413, path);
    assert.equal(state.pulled, 0, `${path}: nothing pulled`);
  }
});

singleDialectTest(
  "limits: over real HTTP, a streamed oversized login gets 413 and the server stops reading",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    try {
      const { stream, state } = streamedBody(150 * MiB);
      let status = 0;
      try {
        const res = await fetch(`http://127.0.0.1:${server.addr.port}/api/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: stream,
        });
        status = res.status;
        await res.body?.cancel();
      } catch {
        // The server may close the connection while the client is still sending: also a refusal.
        status = -1;
      }
      assert.ok(status === 413 || status === -1, `status ${status}`);
      // Far less than the body was ever sent: the server stopped reading at about the limit.
      assert.ok(state.pulled < 16 * MiB, `client sent ${state.pulled} bytes`);
      // The server is alive and answers the next request.
      const ok = await fetch(`http://127.0.0.1:${server.addr.port}/health`);
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
    } finally {
      await server.shutdown();
    }
  },
);

singleDialectTest("limits: MAX_BODY_BYTES is configurable; a body within it is read as usual", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db, { env: { MAX_BODY_BYTES: "4096" } });
  const small = JSON.stringify({ email: "admin@acme.test", password: "Fixture-Passw0rd!" });
  const ok = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: small,
  });
  assert.equal(ok.status, 200);
  const big = JSON.stringify({ email: "admin@acme.test", password: "x".repeat(5000) });
  const res = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: big,
  });
  assert.equal(res.status, 413);
  assert.equal((await json(res)).max_bytes, 4096);
  // Without a JSON content type (the lenient sniff reads it): the same limit.
  const sniffed = await app.request("/api/v1/auth/login", { method: "POST", body: big });
  assert.equal(sniffed.status, 413);
});

singleDialectTest("limits: uploads keep MAX_UPLOAD_BYTES, above the body limit", async (db) => {
  const s3 = await startTestS3();
  try {
    await createWorld(db);
    const { app } = await testApp(db, {
      env: { ...s3.env, MAX_BODY_BYTES: "4096", MAX_UPLOAD_BYTES: "65536" },
    });
    const token = await login(app, "admin@acme.test");
    const upload = (size: number) => {
      const f = new FormData();
      f.append("file", new File([new Uint8Array(size).fill(0x61)], "a.txt", { type: "text/plain" }));
      return app.request("/api/v1/files", { method: "POST", headers: bearer(token), body: f });
    };
    const ok = await upload(32 * 1024);
    assert.equal(ok.status, 201, await ok.clone().text());
    await ok.body?.cancel();
    const tooBig = await upload(128 * 1024);
    assert.equal(tooBig.status, 413);
    assert.match((await json(tooBig)).detail as string, /MAX_UPLOAD_BYTES/);
  } finally {
    await s3.close();
  }
});

Deno.test("limits: the counting stream refuses exactly the bodies over the limit and pulls at most one chunk past it", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4096 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 0, maxLength: 30 }),
      async (limit, sizes) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        let pulled = 0;
        let i = 0;
        const source = new ReadableStream<Uint8Array>({
          pull(c) {
            if (i >= sizes.length) return c.close();
            pulled += sizes[i];
            c.enqueue(new Uint8Array(sizes[i++]));
          },
        }, { highWaterMark: 0 });
        let exceeded = false;
        const limited = limitStream(source, limit, () => (exceeded = true));
        let read = 0;
        let failed = false;
        try {
          const r = limited.getReader();
          for (;;) {
            const { done, value } = await r.read();
            if (done) break;
            read += value.byteLength;
          }
        } catch {
          failed = true;
        }
        // The invariant: refused iff over the limit; never more than the limit handed on; at most one
        // chunk pulled past it.
        assert.equal(failed, total > limit);
        assert.equal(exceeded, total > limit);
        assert.ok(read <= limit);
        assert.ok(pulled <= limit + 700);
        // readAtMost: the bytes within the limit, else a replay of everything.
        let j = 0;
        const again = new ReadableStream<Uint8Array>({
          pull(c) {
            if (j >= sizes.length) return c.close();
            c.enqueue(new Uint8Array(sizes[j++]).fill(j & 0xff));
          },
        }, { highWaterMark: 0 });
        const got = await readAtMost(again, limit);
        if (total <= limit) assert.equal(got.bytes?.byteLength, total);
        else assert.equal((await new Response(got.replay).arrayBuffer()).byteLength, total);
      },
    ),
    { numRuns: 200 },
  );
});

const NUL = "\u0000";

dbTest("input: U+0000 in any input string is a 422 naming the field, on both databases alike", async (db) => {
  const w = await createWorld(db);
  const logger = memoryLogger();
  const { app } = await testApp(db, { logger });
  const admin = await login(app, "admin@acme.test");
  const send = (method: string, path: string, token: string | null, body?: unknown) =>
    app.request(path, {
      method,
      headers: { ...(token ? bearer(token) : {}), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const cases: [string, Response | Promise<Response>, string][] = [
    [
      "login e-mail (unauthenticated)",
      send("POST", "/api/v1/auth/login", null, { email: `a${NUL}@b.c`, password: "x" }),
      "email",
    ],
    [
      "login password",
      send("POST", "/api/v1/auth/login", null, { email: "admin@acme.test", password: `x${NUL}` }),
      "password",
    ],
    ["lead name", send("POST", "/api/v1/crm/leads", admin, { name: `Lead${NUL}` }), "name"],
    [
      "user full_name",
      send("PATCH", `/api/v1/users/${w.executive.id}`, admin, { full_name: `Ex${NUL}ec` }),
      "full_name",
    ],
    ["a query string", send("GET", `/api/v1/users?role=admin${encodeURIComponent(NUL)}`, admin), "role"],
  ];
  for (const [label, pending, field] of cases) {
    const res = await pending;
    assert.equal(res.status, 422, label);
    const body = await json(res);
    assert.equal(body.code, "VALIDATION_ERROR", label);
    assert.ok(
      (body.errors as { field: string }[]).some((e) => e.field === field),
      `${label}: ${JSON.stringify(body)}`,
    );
    assert.match(body.detail as string, /U\+0000/);
  }
  // AuthZEN answers a bad payload with 400, as its binding requires (through its fast path too).
  const subject = { type: "user", id: `${w.admin.id}${NUL}` };
  for (
    const body of [
      { subject, action: { name: "crm.read" }, resource: { type: "module", id: "crm" } },
      {
        subject: { type: "user", id: String(w.admin.id) },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm", properties: { [`k${NUL}`]: 1 } },
      },
    ]
  ) {
    const res = await send("POST", "/access/v1/evaluation", admin, body);
    assert.equal(res.status, 400);
    assert.match((await json(res)).detail as string, /U\+0000/);
  }
  // Nothing failed: no 500, no error log line, no NUL value in any log line.
  assert.ok(!logger.records.some((r) => r.msg === "request_failed" || r.level === "error"));
  assert.ok(!JSON.stringify(logger.records).includes("\\u0000"));
});

dbTest("input: the rule holds for any string, and agrees on both databases (property)", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db);
  const admin = await login(app, "admin@acme.test");
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 40 }), fc.boolean(), fc.nat(40), async (s, withNul, at) => {
      const name = withNul ? s.slice(0, at) + NUL + s.slice(at) : s;
      const res = await app.request("/api/v1/crm/leads", {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ name: `${++n}:${name}` }),
      });
      await res.body?.cancel();
      // The invariant: a NUL anywhere is a 422; without one the lead is created (libSQL and Postgres alike).
      assert.equal(res.status, name.includes(NUL) ? 422 : 201, JSON.stringify(name));
    }),
    { numRuns: 40 },
  );
});

dbTest("input: Postgres's own refusals of U+0000 (22021, 22P05) map to 422, not 500", async (db) => {
  const org = (await db.db.select().from(db.t.organizations))[0] ??
    (await db.db.insert(db.t.organizations).values({ name: "N", slug: "n" }).returning())[0];
  for (
    const write of [
      () =>
        db.db.update(db.t.organizations).set({ name: `a${NUL}b` }).where(eq(db.t.organizations.id, org.id)),
      () =>
        db.db.update(db.t.organizations).set({ enabledModules: { [`x${NUL}`]: true } }).where(
          eq(db.t.organizations.id, org.id),
        ),
    ]
  ) {
    const err = await write().then(() => null, (e) => e);
    assert.ok(err, "Postgres refuses the value");
    const t = translateDbError(err);
    assert.ok(t instanceof AppError, String(err));
    assert.equal(t.status, 422);
    assert.ok(!t.message.includes(NUL));
  }
}, { only: ["postgres"] });
