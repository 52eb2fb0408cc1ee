/**
 * Forward-auth path canonicalization, over real HTTP (the app served by Deno.serve, requests written on a
 * socket byte for byte so that no client normalises the path first): the 2026-12-03 outside attack (A7) —
 * `;` path parameters, Envoy's path read from a parsed URL (`%2e%2e` already resolved), double encoding —
 * then a fast-check property over random paths; the password-change gate on `authenticated` routes; and
 * the default route table against every REST route's guard (docs/gateway.md).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { singleDialectTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { createRole, createUser, createWorld, login } from "../helpers/fixtures.ts";
import { defaultRouteTable } from "../../src/gateway/default_routes.ts";
import { canonicalPath, matchRoute } from "../../src/gateway/route_table.ts";

const FA = "/access/v1/forward-auth";

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** One HTTP/1.1 request written as is (`target` verbatim on the request line). */
async function raw(port: number, method: string, target: string, headers: Record<string, string> = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [`${method} ${target} HTTP/1.1`, "Host: seedbed.test", "Connection: close"];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    const [head, ...rest] = text.split("\r\n\r\n");
    const [status, ...hs] = head.split("\r\n");
    const out = new Headers();
    for (const h of hs) {
      const i = h.indexOf(":");
      out.append(h.slice(0, i).trim(), h.slice(i + 1).trim());
    }
    return { status: Number(status.split(" ")[1]), headers: out, body: rest.join("\r\n\r\n") } as Answer;
  } finally {
    conn.close();
  }
}

/** The app on a real port for the test's duration. */
async function served<T>(
  app: { fetch: (r: Request) => Response | Promise<Response> },
  f: (port: number) => Promise<T>,
) {
  const ac = new AbortController();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} }, app.fetch);
  try {
    return await f(server.addr.port);
  } finally {
    ac.abort();
    await server.finished;
  }
}

const reason = (a: Answer) => {
  try {
    return (JSON.parse(a.body) as { reason?: string }).reason;
  } catch {
    return undefined;
  }
};
/** What a gateway acts on: status, reason, who. */
const verdict = (a: Answer) => `${a.status} ${reason(a) ?? ""} ${a.headers.get("x-user-id") ?? ""}`;

const auth = (token?: string): Record<string, string> => token ? { Authorization: `Bearer ${token}` } : {};
const nginx = (port: number, method: string, uri: string, token?: string) =>
  raw(port, "GET", FA, { ...auth(token), "X-Original-Method": method, "X-Original-URI": uri });
const traefik = (port: number, method: string, uri: string, token?: string) =>
  raw(port, "GET", FA, { ...auth(token), "X-Forwarded-Method": method, "X-Forwarded-Uri": uri });
const envoy = (port: number, method: string, uri: string, token?: string) =>
  raw(port, method, FA + uri, auth(token));

singleDialectTest(
  "forward-auth (A7): `;`, double encoding and Envoy's parsed path are refused as not canonical",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const exec = await login(app, "exec@acme.test");
    await served(app, async (port) => {
      // The executive reads leads, not users: the canonical paths answer as before.
      assert.equal((await nginx(port, "GET", "/api/v1/crm/leads", exec)).status, 200);
      assert.equal((await envoy(port, "GET", "/api/v1/crm/leads", exec)).status, 200);
      assert.equal(reason(await nginx(port, "GET", "/api/v1/users", exec)), "missing_permission");
      const attacks = [
        "/docs/..;/api/v1/users",
        "/docs/..%3b/api/v1/users",
        "/docs/..%3B/api/v1/users",
        "/docs/x;/../../api/v1/users",
        "/api/v1/crm/leads;x=1",
        "/api/v1/users/%2e%2e/crm/leads",
        "/api/v1/users/%2E%2e/crm/leads",
        "/api/v1/users/%252e%252e/crm/leads",
        "/api/v1/users/%25252e%25252e/crm/leads",
        "/api/v1/users%252f..%252fcrm/leads",
        "/api/v1/crm/leads%2f..%2f..%2fusers",
        "/.well-known/%2e%2e/api/v1/users",
        "/api/v1/crm/leads/%5c..%5cusers",
      ];
      for (const uri of attacks) {
        for (const [name, ask] of [["nginx", nginx], ["traefik", traefik], ["envoy", envoy]] as const) {
          for (const token of [exec, undefined]) {
            const a = await ask(port, "GET", uri, token);
            assert.equal(a.status, 403, `${name} ${uri}: ${a.status} ${a.body}`);
            assert.equal(reason(a), "path_not_canonical", `${name} ${uri}: ${a.body}`);
          }
        }
      }
      // Envoy: the path as sent, not as a URL parser resolved it (`..` and `%2e%2e` both refused).
      for (
        const uri of ["/api/v1/users/../crm/leads", "/api/v1/users/%2e%2e/crm/leads", "/api/v1/./crm/leads"]
      ) {
        const a = await envoy(port, "GET", uri, exec);
        assert.equal(verdict(a).trim(), "403 path_not_canonical", `envoy ${uri}: ${a.body}`);
      }
    });
  },
);

/** Segments a path is built from: names of real routes, and every spelling of structure an upstream may read. */
const NAMES = [
  "api",
  "v1",
  "users",
  "crm",
  "leads",
  "docs",
  "x",
  ".well-known",
  "auth",
  "me",
  "1",
  "us%65rs",
];
const BAD = [
  ".",
  "..",
  "%2e",
  "%2E%2e",
  "%2e%2e",
  ".%2e",
  "%252e%252e",
  "%252E",
  "%25252e",
  ";",
  "..;",
  "x;y",
  "%3b",
  "..%3B",
  "",
  "%2f",
  "a%2Fb",
  "\\",
  "..\\..",
  "%5c",
  "%255c",
  "%25",
];
const BASES = [
  "/api/v1/crm/leads",
  "/api/v1/crm/leads/1",
  "/api/v1/users",
  "/api/v1/users/1",
  "/docs/x",
  "/.well-known/jwks.json",
  "/api/v1/auth/me",
].map((p) => p.slice(1).split("/"));

const pathArb = fc.record({
  head: fc.constantFrom(...BASES),
  cut: fc.nat(6),
  middle: fc.array(fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom(...BAD)), { maxLength: 4 }),
  tail: fc.constantFrom(...BASES),
  from: fc.nat(6),
  slash: fc.boolean(),
}).map(({ head, cut, middle, tail, from, slash }) => {
  const segments = [...head.slice(0, cut), ...middle, ...tail.slice(from)];
  const trailing = slash && segments.length > 0;
  // A last empty segment without another slash after it is one trailing slash (`/a/`), which is fine.
  const bad = segments.some((s, i) =>
    BAD.includes(s) && !(s === "" && i === segments.length - 1 && !trailing)
  );
  return { segments, bad, path: "/" + segments.join("/") + (trailing ? "/" : "") };
});

singleDialectTest(
  "forward-auth (property): a path is refused, or answered as its canonical form; a path not canonical is refused",
  async (db) => {
    await createWorld(db);
    const { app } = await testApp(db);
    const exec = await login(app, "exec@acme.test");
    await served(app, async (port) => {
      await fc.assert(
        fc.asyncProperty(
          pathArb,
          fc.constantFrom("nginx", "traefik", "envoy"),
          fc.constantFrom("GET", "DELETE"),
          fc.boolean(),
          async ({ bad, path }, dialect, method, withToken) => {
            const token = withToken ? exec : undefined;
            const ask = dialect === "nginx" ? nginx : dialect === "traefik" ? traefik : envoy;
            const a = await ask(port, method, path, token);
            if (bad) {
              // Envoy's raw request line may already be refused by the HTTP server (400): a refusal too.
              const refused = (a.status === 403 && reason(a) === "path_not_canonical") ||
                (dialect === "envoy" && a.status === 400);
              assert.ok(refused, `${dialect} ${method} ${path}: ${a.status} ${a.body}`);
              return;
            }
            if (a.status === 403 && reason(a) === "path_not_canonical") return;
            const form = canonicalPath(path);
            assert.notEqual(form, null, path);
            // The unique canonical form: decoded, no trailing slash; canonicalPath leaves it as it is.
            assert.equal(canonicalPath(form!), form);
            const b = await nginx(port, method, form!, token);
            assert.equal(
              verdict(a),
              verdict(b),
              `${dialect} ${method} ${path} vs ${form}: ${a.body} / ${b.body}`,
            );
          },
        ),
        { numRuns: Number(Deno.env.get("CANONICAL_RUNS") ?? "150") },
      );
    });
  },
);

singleDialectTest(
  "forward-auth: an `authenticated` route refuses an account that must change its password, as REST does",
  async (db) => {
    const w = await createWorld(db);
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/routes.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          defaults: true,
          routes: [{ method: "GET", path: "/app/**", access: "authenticated" }],
        }),
      );
      const { app } = await testApp(db, { env: { FORWARD_AUTH_ROUTES: file } });
      const exec = await login(app, "exec@acme.test");
      await db.db.update(db.t.users).set({ mustChangePassword: true });
      void w;
      await served(app, async (port) => {
        let a = await nginx(port, "GET", "/app/home", exec);
        assert.equal(a.status, 403, a.body);
        assert.equal(JSON.parse(a.body).code, "PASSWORD_CHANGE_REQUIRED");
        // The REST API says the same, and lets him reach his own account.
        a = await raw(port, "GET", "/api/v1/crm/leads", auth(exec));
        assert.equal(JSON.parse(a.body).code, "PASSWORD_CHANGE_REQUIRED");
        for (const [m, p] of [["GET", "/api/v1/auth/me"], ["POST", "/api/v1/auth/password/change"]]) {
          a = await nginx(port, m, p, exec);
          assert.equal(a.status, 200, `${m} ${p}: ${a.body}`);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/**
 * Every operation of /openapi.json asked of the REST API by a user without any permission: the guard's
 * 403 names the module and action it requires (or the route lets any user through). The default route
 * table must require exactly the same for the same method and path.
 */
singleDialectTest(
  "forward-auth: the default route table requires what every REST route's guard requires",
  async (db) => {
    const w = await createWorld(db);
    const none = await createRole(db, { name: "nobody", organizationId: w.acme.id, permissions: [] });
    await createUser(db, {
      email: "none@acme.test",
      role: "nobody",
      roleId: none.id,
      organizationId: w.acme.id,
    });
    const { app } = await testApp(db);
    const token = await login(app, "none@acme.test");
    const spec = await (await app.request("/openapi.json")).json() as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    const table = defaultRouteTable();
    let compared = 0;
    let guarded = 0;
    const wrong: string[] = [];
    for (const [template, ops] of Object.entries(spec.paths)) {
      if (!template.startsWith("/api/")) continue;
      const path = template.replace(/\{[^}]+\}/g, "1");
      for (const m of Object.keys(ops)) {
        const method = m.toUpperCase();
        if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(method)) continue;
        // Logging out would revoke the token the walk uses (the table says `account`, as the route is).
        if (template === "/api/v1/auth/logout") continue;
        const res = await app.request(path, { method, headers: { Authorization: `Bearer ${token}` } });
        const body = await res.text();
        const parsed = (() => {
          try {
            return JSON.parse(body) as { module?: string; action?: string; code?: string };
          } catch {
            return {};
          }
        })();
        const guard = res.status === 403 && parsed.module ? `${parsed.module}.${parsed.action}` : null;
        const entry = matchRoute(table, method, path)?.requirement;
        const mapped = !entry
          ? "unmapped"
          : entry.kind === "permission"
          ? `${entry.module}.${entry.action}`
          : entry.kind;
        compared++;
        if (res.status === 401) wrong.push(`${method} ${template}: 401 ${body.slice(0, 80)}`);
        if (guard !== null) {
          guarded++;
          if (mapped !== guard) {
            wrong.push(
              `${method} ${template}: REST requires ${guard}, the table ${mapped}`,
            );
          }
        } else if (mapped !== "public" && mapped !== "authenticated" && mapped !== "account") {
          // Not guarded by a permission (a public or any-user route, or a guard this user passes).
          if (ops[m].security === undefined || res.status === 403) {
            wrong.push(
              `${method} ${template}: REST answered ${res.status} (${
                body.slice(0, 80)
              }), the table ${mapped}`,
            );
          }
        }
      }
    }
    assert.ok(compared > 30 && guarded > 30, `only ${compared} operations, ${guarded} guarded`);
    assert.deepEqual(wrong, []);
  },
);
