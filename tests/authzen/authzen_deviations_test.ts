/**
 * The AuthZEN deviations of the 2026-12-02 conformance review (D4, D5, D7, D8, D9; issue 11 finding 12):
 * `page.limit: 0` ends the paging, a changed `page.limit` with a token is refused, the batch cap is
 * configurable and advertised, action search pages with `page.limit`, and the metadata advertises
 * PUBLIC_URL.
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp, testConfig } from "../helpers/app.ts";
import { login } from "../helpers/fixtures.ts";
import { post, setup, user } from "./authzen_helpers.ts";

type Page = {
  page: { next_token: string; count: number; total?: number };
  results: Record<string, unknown>[];
};

dbTest(
  "authzen search: page.limit 0 ends the paging; a changed or dropped page.limit is refused",
  async (db) => {
    const { w, app, lead, admin } = await setup(db);
    for (let i = 0; i < 5; i++) await lead(w.executive.id, `L${i}`);
    const bodies: [string, Record<string, unknown>][] = [
      ["resource", {
        subject: user(w.admin.id),
        action: { name: "read" },
        resource: { type: "crm_lead" },
      }],
      ["resource", { subject: user(w.admin.id), action: { name: "read" }, resource: { type: "module" } }],
      ["subject", {
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }],
      ["action", { subject: user(w.admin.id), resource: { type: "module", id: "crm" } }],
    ];
    const search = async (kind: string, body: unknown) =>
      await app.request(`/access/v1/search/${kind}`, post(admin, body));
    for (const [kind, body] of bodies) {
      const zero = await json<Page>(await search(kind, { ...body, page: { limit: 0 } }));
      assert.equal(zero.page.next_token, "", kind);
      assert.deepEqual(zero.results, []);
      // Follow the tokens of limit 1 to the end: it terminates, and the limit must stay the same.
      let token = "";
      let pages = 0;
      const seen: unknown[] = [];
      do {
        const res = await search(kind, { ...body, page: { limit: 1, ...(token ? { token } : {}) } });
        assert.equal(res.status, 200, kind);
        const p = await json<Page>(res);
        seen.push(...p.results);
        if (p.page.next_token) {
          for (const changed of [{ limit: 2 }, {}, { limit: 0 }]) {
            const bad = await search(kind, { ...body, page: { ...changed, token: p.page.next_token } });
            assert.equal(bad.status, 400, `${kind} ${JSON.stringify(changed)}`);
            await bad.body?.cancel();
          }
        }
        token = p.page.next_token;
        assert.ok(++pages < 100, `${kind} paging terminates`);
      } while (token);
      assert.ok(seen.length >= 1, kind);
      assert.equal(new Set(seen.map((r) => JSON.stringify(r))).size, seen.length, `${kind}: no duplicates`);
    }
  },
);

dbTest("authzen action search pages by page.limit; every result evaluates to true", async (db) => {
  const { w, app, admin } = await setup(db);
  const names: string[] = [];
  let token = "";
  do {
    const p = await json<Page>(
      await app.request(
        "/access/v1/search/action",
        post(admin, {
          subject: user(w.admin.id),
          resource: { type: "module", id: "crm" },
          page: { limit: 3, ...(token ? { token } : {}) },
        }),
      ),
    );
    assert.ok(p.results.length <= 3);
    names.push(...p.results.map((r) => String(r.name)));
    token = p.page.next_token;
  } while (token);
  assert.deepEqual(names.sort(), ["crm.create", "crm.delete", "crm.read", "crm.update"]);
  for (const name of names) {
    const d = await json(
      await app.request(
        "/access/v1/evaluation",
        post(admin, { subject: user(w.admin.id), action: { name }, resource: { type: "module", id: "crm" } }),
      ),
    );
    assert.equal(d.decision, true, name);
  }
});

dbTest(
  "authzen batch cap: AUTHZEN_MAX_EVALUATIONS, advertised in the metadata and the OpenAPI document",
  async (db) => {
    const { w } = await setup(db);
    const { app } = await testApp(db, { env: { AUTHZEN_MAX_EVALUATIONS: "3" } });
    const admin = await login(app, "admin@acme.test");
    const batch = (n: number) =>
      app.request(
        "/access/v1/evaluations",
        post(admin, {
          subject: user(w.admin.id),
          action: { name: "crm.read" },
          resource: { type: "module", id: "crm" },
          evaluations: Array.from({ length: n }, () => ({})),
        }),
      );
    assert.equal((await json<{ evaluations: unknown[] }>(await batch(3))).evaluations.length, 3);
    const res = await batch(4);
    assert.equal(res.status, 400);
    assert.match(
      String((await json(res)).detail),
      /at most 3 evaluations per request \(AUTHZEN_MAX_EVALUATIONS\)/,
    );
    const meta = await json(await app.request("/.well-known/authzen-configuration"));
    assert.equal(meta.max_evaluations, 3);
    const doc = JSON.stringify(await json(await app.request("/openapi.json")));
    assert.match(doc, /At most 3 entries \(AUTHZEN_MAX_EVALUATIONS/);
    // The default is 100.
    assert.equal(testConfig().access.maxEvaluations, 100);
  },
);

dbTest(
  "authzen metadata: PUBLIC_URL is the policy decision point, whatever the request's origin",
  async (db) => {
    const { app } = await testApp(db, {
      env: { PUBLIC_URL: "https://pdp.example.com/authz/", TRUST_PROXY: "true" },
    });
    const res = await app.request("http://10.0.0.7:8000/.well-known/authzen-configuration", {
      headers: { "x-forwarded-proto": "http", "x-forwarded-host": "internal:8000" },
    });
    const meta = await json<Record<string, unknown>>(res);
    assert.equal(meta.policy_decision_point, "https://pdp.example.com/authz");
    assert.equal(meta.access_evaluation_endpoint, "https://pdp.example.com/authz/access/v1/evaluation");
    assert.equal(meta.search_action_endpoint, "https://pdp.example.com/authz/access/v1/search/action");
    assert.match(res.headers.get("cache-control") ?? "", /max-age=/);
    // Without it, the request's origin (as before).
    const plain = await testApp(db);
    const m2 = await json(await plain.app.request("http://localhost:8000/.well-known/authzen-configuration"));
    assert.equal(m2.policy_decision_point, "http://localhost:8000");
    // ... which a shared cache must never keep: a forged Host would be served to every PEP.
    const forged = await plain.app.request("http://evil.example/.well-known/authzen-configuration");
    assert.equal((await json(forged)).policy_decision_point, "http://evil.example");
    assert.equal(forged.headers.get("cache-control"), "no-store");
    assert.match(forged.headers.get("vary") ?? "", /Host/);
    // A bad value fails at start, naming the variable.
    for (const bad of ["pdp.example.com", "ftp://x", "https://x/?a=1", "https://u:p@x"]) {
      assert.throws(() => testConfig({ PUBLIC_URL: bad }), /PUBLIC_URL/, bad);
    }
    // One dialect: the metadata document is built from PUBLIC_URL; no database work.
  },
  { only: ["libsql"] },
);
