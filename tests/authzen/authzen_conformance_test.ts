/**
 * AuthZEN: record attributes come from the database, the JSON content type is
 * required, unknown types are denials (evaluation) or no results (search), and
 * batch defaults are merged per entity — each against the real app, on libSQL
 * and Postgres.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { dbTest } from "../helpers/db.ts";
import { json } from "../helpers/app.ts";
import { post, setup, user } from "./authzen_helpers.ts";
import { bearer, PASSWORD } from "../helpers/fixtures.ts";
import { lenientJson } from "../../src/http/lenient_json.ts";

type Out = { decision: boolean; context?: Record<string, unknown> };
const why = (d: Out) => [d.context?.layer, d.context?.reason];

dbTest(
  "authzen: an existing record's real organization and owner win over caller-supplied properties",
  async (db) => {
    const { w, app, lead, root, admin, exec, other } = await setup(db);
    const ev = async (token: string, body: unknown) => {
      const res = await app.request("/access/v1/evaluation", post(token, body));
      assert.equal(res.status, 200);
      return await json<Out>(res);
    };
    const execLead = await lead(w.executive.id, "exec's");
    const managerLead = await lead(w.manager.id, "manager's");

    // Globex's admin on Acme's lead, claiming it is Globex's and his: denied at the tenant layer.
    for (
      const properties of [
        { organization_id: w.globex.id, owner_id: w.otherAdmin.id },
        { organization_id: String(w.globex.id), owner_id: String(w.otherAdmin.id) },
        undefined,
      ]
    ) {
      const d = await ev(other, {
        subject: user(w.otherAdmin.id),
        action: { name: "crm.delete" },
        resource: { type: "crm_lead", id: String(execLead.id), ...(properties ? { properties } : {}) },
      });
      assert.equal(d.decision, false, JSON.stringify(properties));
      assert.deepEqual(why(d), ["tenant", "resource_not_found"]);
    }
    // Acme's executive on the manager's lead, claiming to own it: denied — and, for him (no admin), reported
    // as not found, as REST reports it (404): never whose it is (finding 9).
    for (
      const properties of [
        { owner_id: w.executive.id },
        { organization_id: w.acme.id, owner_id: w.executive.id },
        { organization_id: w.globex.id, owner_id: w.executive.id },
      ]
    ) {
      const d = await ev(exec, {
        subject: user(w.executive.id),
        action: { name: "crm.read" },
        resource: { type: "crm_lead", id: String(managerLead.id), properties },
      });
      assert.equal(d.decision, false, JSON.stringify(properties));
      assert.deepEqual(why(d), ["tenant", "resource_not_found"]);
      assert.doesNotMatch(JSON.stringify(d), new RegExp(`user ${w.manager.id}\\b|owned`));
    }
    // Properties cannot turn a real allow into a deny either.
    assert.deepEqual(
      await ev(exec, {
        subject: user(w.executive.id),
        action: { name: "crm.read" },
        resource: {
          type: "crm_lead",
          id: String(execLead.id),
          properties: { organization_id: w.globex.id, owner_id: w.manager.id },
        },
      }),
      { decision: true },
    );
    // A super admin subject is judged on the record's real organization, whatever the properties name.
    assert.deepEqual(
      await ev(root, {
        subject: user(w.superAdmin.id),
        action: { name: "crm.read" },
        resource: { type: "crm_lead", id: String(execLead.id), properties: { organization_id: w.globex.id } },
      }),
      { decision: true },
    );
    // The admin trace shows the real owner.
    const traced = await ev(admin, {
      subject: user(w.executive.id),
      action: { name: "crm.read" },
      resource: { type: "crm_lead", id: String(managerLead.id), properties: { owner_id: w.executive.id } },
    });
    assert.match(JSON.stringify(traced.context?.trace), new RegExp(`owned by user ${w.manager.id}\\b`));

    // A record id that does not exist: the properties describe a hypothetical record — for an admin
    // caller; for a caller who is no admin the id is that id, whatever the properties (REST: 404).
    const missing = "999999";
    const hypo = (properties?: Record<string, unknown>, caller = admin) =>
      ev(caller, {
        subject: user(w.executive.id),
        action: { name: "crm.read" },
        resource: { type: "crm_lead", id: missing, ...(properties ? { properties } : {}) },
      });
    assert.deepEqual(await hypo({ organization_id: w.acme.id, owner_id: w.executive.id }), {
      decision: true,
    });
    assert.deepEqual(why(await hypo({ owner_id: w.manager.id })), ["record", "record_out_of_scope"]);
    assert.deepEqual(why(await hypo({ organization_id: w.globex.id })), ["tenant", "cross_tenant"]);
    assert.deepEqual(why(await hypo()), ["tenant", "resource_not_found"]);
    for (const p of [{ organization_id: w.acme.id, owner_id: w.executive.id }, { owner_id: w.manager.id }]) {
      assert.deepEqual(why(await hypo(p, exec)), ["tenant", "resource_not_found"], JSON.stringify(p));
    }
    assert.deepEqual(why(await hypo({ organization_id: w.globex.id }, exec)), [
      "tenant",
      "resource_not_found",
    ]);
  },
);

dbTest(
  "authzen: every /access/v1 endpoint answers 400 to a body not sent as application/json",
  async (db) => {
    const { w, app, admin } = await setup(db);
    const bodies: Record<string, unknown> = {
      "/access/v1/evaluation": {
        subject: user(w.admin.id),
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      },
      "/access/v1/evaluations": {
        subject: user(w.admin.id),
        action: { name: "crm.read" },
        evaluations: [{ resource: { type: "module", id: "crm" } }],
      },
      "/access/v1/search/subject": {
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      },
      "/access/v1/search/resource": {
        subject: user(w.admin.id),
        action: { name: "read" },
        resource: { type: "module" },
      },
      "/access/v1/search/action": { subject: user(w.admin.id), resource: { type: "module", id: "crm" } },
    };
    for (const [path, body] of Object.entries(bodies)) {
      const text = JSON.stringify(body);
      for (
        const type of ["text/plain", "application/x-www-form-urlencoded", "text/plain;charset=UTF-8", null]
      ) {
        const res = await app.request(path, {
          method: "POST",
          headers: {
            ...bearer(admin),
            ...(type ? { "content-type": type } : {}),
            "x-request-id": "ct-check",
          },
          // Bytes, so that no content type is added when none is given.
          body: new TextEncoder().encode(text),
        });
        assert.equal(res.status, 400, `${path} with ${type}`);
        const err = await json(res);
        assert.equal(err.code, "BAD_REQUEST");
        assert.match(String(err.detail), /Content-Type: application\/json/);
        assert.equal(err.request_id, "ct-check");
        assert.equal(res.headers.get("x-request-id"), "ct-check");
      }
      // The same body as application/json (with parameters) is accepted.
      const ok = await app.request(
        path,
        post(admin, body, { "content-type": "application/json; charset=utf-8" }),
      );
      assert.equal(ok.status, 200, path);
      // An empty JSON body is malformed.
      const empty = await app.request(path, post(admin, ""));
      assert.equal(empty.status, 400, `${path} empty`);
    }
    // /api/ keeps the seeds' lenient JSON (curl -d without a content type).
    const loginRes = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: JSON.stringify({ email: "admin@acme.test", password: PASSWORD }),
    });
    assert.equal(loginRes.status, 200);
  },
);

Deno.test("authzen: the lenient JSON middleware applies to /api/ only by default", async () => {
  const app = new Hono();
  app.use("*", lenientJson());
  app.post("*", (c) => c.text(c.req.header("content-type") ?? ""));
  const send = (path: string) =>
    app.request(path, {
      method: "POST",
      headers: { authorization: "Bearer t", "content-type": "text/plain" },
      body: '{"a": 1}',
    });
  assert.equal(await (await send("/api/v1/x")).text(), "application/json");
  assert.equal(await (await send("/access/v1/evaluation")).text(), "text/plain");
});

dbTest("authzen search: an unknown subject or resource type has no results (200), not a 400", async (db) => {
  const { w, app, admin } = await setup(db);
  const search = async (kind: string, body: unknown, status = 200) => {
    const res = await app.request(`/access/v1/search/${kind}`, post(admin, body));
    assert.equal(res.status, status, `${kind}: ${JSON.stringify(body)}`);
    return await json<{ results: unknown[]; page?: { next_token: string } }>(res);
  };
  for (
    const [kind, body] of [
      ["subject", {
        subject: { type: "spaceship" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }],
      ["resource", {
        subject: user(w.admin.id),
        action: { name: "crm.read" },
        resource: { type: "spaceship" },
      }],
      ["resource", {
        subject: user(w.admin.id),
        action: { name: "read" },
        resource: { type: "organization" },
      }],
      ["resource", {
        subject: { type: "service", id: "billing" },
        action: { name: "crm.read" },
        resource: { type: "crm_lead" },
      }],
      ["action", { subject: user(w.admin.id), resource: { type: "spaceship", id: "1" } }],
      ["action", { subject: { type: "service", id: "billing" }, resource: { type: "module", id: "crm" } }],
      ["action", { subject: user("nobody@nowhere.test"), resource: { type: "module", id: "crm" } }],
    ] as const
  ) {
    const out = await search(kind, body);
    assert.deepEqual(out.results, [], `${kind}: ${JSON.stringify(body)}`);
    assert.equal(out.page?.next_token, "");
  }
  // Malformed searches stay 400.
  await search("subject", { subject: { type: "user" }, resource: { type: "module", id: "crm" } }, 400);
  await search("subject", {
    subject: { type: "user" },
    action: { name: "read" },
    resource: { type: "crm_lead" },
  }, 400);
  await search("resource", { action: { name: "read" }, resource: { type: "crm_lead" } }, 400);
  await search("resource", {
    subject: { type: "user" },
    action: { name: "read" },
    resource: { type: "crm_lead" },
  }, 400);
  await search("action", { subject: user(w.admin.id) }, 400);
});

dbTest("authzen evaluations: top-level defaults fill the required fields an entry leaves out", async (db) => {
  const { w, app, lead, exec, admin } = await setup(db);
  const own = await lead(w.executive.id, "own");
  const peer = await lead(w.executive2.id, "peer");
  const batch = async (token: string, body: unknown) => {
    const res = await app.request("/access/v1/evaluations", post(token, body));
    assert.equal(res.status, 200, JSON.stringify(body));
    return (await json<{ evaluations: Out[] }>(res)).evaluations;
  };
  // resource {type} at the top, {id} per entry.
  let out = await batch(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: { type: "crm_lead" },
    evaluations: [
      { resource: { id: String(own.id) } },
      { resource: { id: String(peer.id) } },
      { action: { name: "crm_leads_read" }, resource: { type: "module", id: "crm" } },
    ],
  });
  assert.deepEqual(out.map((e) => e.decision), [true, false, true]);
  assert.deepEqual(why(out[1]), ["tenant", "resource_not_found"]);
  // subject {type} at the top, {id} per entry; action {name} at the top, properties per entry.
  out = await batch(admin, {
    subject: { type: "user" },
    action: { name: "crm.read" },
    resource: { type: "crm_lead", id: String(peer.id) },
    evaluations: [
      { subject: { id: String(w.executive2.id) }, action: { properties: { note: "x" } } },
      { subject: { id: String(w.executive.id) } },
    ],
  });
  assert.deepEqual(out.map((e) => e.decision), [true, false]);
  // Entity-level replacement: an entry's resource does not inherit the default's properties.
  out = await batch(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: { type: "crm_lead", properties: { organization_id: w.acme.id, owner_id: w.executive.id } },
    evaluations: [{ resource: { id: "999999" } }],
  });
  assert.deepEqual(why(out[0]), ["tenant", "resource_not_found"]);
  // What neither the entry nor the defaults give is an error of that entry only.
  out = await batch(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: { type: "crm_lead" },
    evaluations: [{ resource: { id: String(own.id) } }, {}],
  });
  assert.deepEqual(out.map((e) => e.decision), [true, false]);
  assert.equal((out[1].context?.error as { status: number }).status, 400);
  assert.match((out[1].context?.error as { message: string }).message, /resource\.id/);
  // Without evaluations, the top level must be complete; wrong JSON types are 400.
  for (
    const bad of [
      { subject: user(w.executive.id), action: { name: "crm.read" }, resource: { type: "crm_lead" } },
      { subject: user(w.executive.id), action: { name: "crm.read" }, resource: { id: "1" }, evaluations: [] },
      {
        subject: "alice",
        action: { name: "crm.read" },
        evaluations: [{ resource: { type: "module", id: "crm" } }],
      },
      { subject: user(w.executive.id), evaluations: [{ action: { name: 1 } }] },
    ]
  ) {
    const res = await app.request("/access/v1/evaluations", post(exec, bad));
    assert.equal(res.status, 400, JSON.stringify(bad));
  }
});

dbTest(
  "authzen evaluation: an unknown subject or resource type is decision false; malformed requests stay 400",
  async (db) => {
    const { w, app, admin, exec } = await setup(db);
    const ev = (token: string, body: unknown) => app.request("/access/v1/evaluation", post(token, body));
    for (
      const [token, body, reason] of [
        [admin, {
          subject: { type: "service", id: "billing" },
          action: { name: "crm.read" },
          resource: { type: "module", id: "crm" },
        }, "unknown_subject_type"],
        // A non-admin asking about a non-user subject is not asking about another user.
        [exec, {
          subject: { type: "service", id: "billing" },
          action: { name: "crm.read" },
          resource: { type: "module", id: "crm" },
        }, "unknown_subject_type"],
        [admin, {
          subject: user(w.admin.id),
          action: { name: "read" },
          resource: { type: "spaceship", id: "1" },
        }, "unknown_resource_type"],
        [admin, {
          subject: user(w.admin.id),
          action: { name: "read" },
          resource: { type: "module", id: "spaceship" },
        }, "resource_not_found"],
        [admin, {
          subject: user(w.admin.id),
          action: { name: "read" },
          resource: { type: "crm_lead", id: "record-1" },
        }, "resource_not_found"],
      ] as const
    ) {
      const res = await ev(token, body);
      assert.equal(res.status, 200, JSON.stringify(body));
      const d = await json<Out>(res);
      assert.equal(d.decision, false);
      assert.deepEqual(why(d), ["tenant", reason]);
      assert.ok((d.context?.reason_user as { en: string }).en);
    }
    for (
      const bad of [
        { subject: "alice", action: { name: "read" }, resource: { type: "module", id: "crm" } },
        { subject: user(w.admin.id), action: { name: 123 }, resource: { type: "module", id: "crm" } },
        { subject: { id: "alice" }, action: { name: "read" }, resource: { type: "module", id: "crm" } },
        { subject: { type: "user" }, action: { name: "read" }, resource: { type: "module", id: "crm" } },
        { subject: user(w.admin.id), action: {}, resource: { type: "module", id: "crm" } },
        { subject: user(w.admin.id), action: { name: "read" }, resource: { id: "crm" } },
        { subject: user(w.admin.id), action: { name: "read" }, resource: { type: "module" } },
        {},
        [],
        "",
      ]
    ) {
      const res = await ev(admin, bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal((await json(res)).code, "BAD_REQUEST");
    }
  },
);
