/** AuthZEN Authorization API 1.0: request/response shapes, semantics, pagination and caller rules. */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { post, setup, user } from "./authzen_helpers.ts";

dbTest("authzen: PDP metadata at /.well-known/authzen-configuration", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("http://pdp.example.com/.well-known/authzen-configuration");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(await json(res), {
    policy_decision_point: "http://pdp.example.com",
    access_evaluation_endpoint: "http://pdp.example.com/access/v1/evaluation",
    access_evaluations_endpoint: "http://pdp.example.com/access/v1/evaluations",
    search_subject_endpoint: "http://pdp.example.com/access/v1/search/subject",
    search_resource_endpoint: "http://pdp.example.com/access/v1/search/resource",
    search_action_endpoint: "http://pdp.example.com/access/v1/search/action",
    max_evaluations: 100,
  });
  const proxied = (await testApp(db, { env: { TRUST_PROXY: "true" } })).app;
  const r2 = await proxied.request("http://internal:8000/.well-known/authzen-configuration", {
    headers: { "x-forwarded-proto": "https", "x-forwarded-host": "pdp.mycompany.com" },
  });
  assert.equal((await json(r2)).policy_decision_point, "https://pdp.mycompany.com");
});

dbTest("authzen evaluation: decisions with layer and reason; the trace is for admins only", async (db) => {
  const { w, app, lead, admin, exec } = await setup(db);
  const ev = (token: string, body: unknown, extra?: Record<string, string>) =>
    app.request("/access/v1/evaluation", post(token, body, extra));

  // A user asks about himself (by email or id).
  let res = await ev(admin, {
    subject: user("admin@acme.test"),
    action: { name: "crm.read" },
    resource: { type: "module", id: "crm" },
  }, {
    "X-Request-ID": "bfe9eb29 ab87 4ca3",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "bfe9eb29 ab87 4ca3", "X-Request-ID is echoed verbatim");
  let d = await json(res);
  assert.deepEqual(d, { decision: true });
  // An admin asking for the trace gets the whole decision explained.
  res = await ev(admin, {
    subject: user("admin@acme.test"),
    action: { name: "crm.read" },
    resource: { type: "module", id: "crm" },
    context: { trace: true },
  });
  d = await json(res);
  assert.equal(d.decision, true);
  assert.deepEqual(
    (d.context as { trace: { layer: string }[] }).trace.map((s) => s.layer),
    ["tenant", "entitlement", "rbac", "record"],
  );
  // A non-admin asking for it does not.
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm_leads_read" },
    resource: { type: "module", id: "crm" },
    context: { trace: true },
  });
  assert.deepEqual(await json(res), { decision: true });

  res = await ev(admin, {
    subject: user(w.admin.id),
    action: { name: "read" },
    resource: { type: "module", id: "MANUFACTURING" },
  });
  d = await json(res);
  assert.equal(d.decision, false);
  const ctx = d.context as Record<string, unknown>;
  assert.equal(ctx.layer, "entitlement");
  assert.equal(ctx.reason, "not_entitled");
  assert.equal(ctx.id, "0");
  assert.match((ctx.reason_user as { en: string }).en, /manufacturing: not entitled/);
  assert.ok(ctx.reason_admin && ctx.trace);

  // An executive on records: own allowed, a peer's denied at the record layer, no trace for him.
  const own = await lead(w.executive.id, "own");
  const peer = await lead(w.executive2.id, "peer");
  const foreign = await lead(w.otherAdmin.id, "foreign", w.globex.id);
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm_leads_read" },
    resource: { type: "crm_lead", id: String(own.id) },
  });
  assert.deepEqual(await json(res), { decision: true });
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: { type: "crm_lead", id: String(peer.id) },
  });
  d = await json(res);
  assert.equal(d.decision, false);
  assert.deepEqual([
    (d.context as Record<string, unknown>).layer,
    (d.context as Record<string, unknown>).reason,
  ], ["tenant", "resource_not_found"]);
  assert.equal((d.context as Record<string, unknown>).trace, undefined);
  assert.equal((d.context as Record<string, unknown>).reason_admin, undefined);
  // Another organization's record: not found in the organization (no existence oracle).
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: { type: "crm_lead", id: String(foreign.id) },
  });
  d = await json(res);
  assert.deepEqual([
    (d.context as Record<string, unknown>).layer,
    (d.context as Record<string, unknown>).reason,
  ], ["tenant", "resource_not_found"]);
  // Caller-supplied attributes: cross-tenant at the tenant layer; RBAC denial for a delete.
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.read" },
    resource: {
      type: "crm_lead",
      id: "new",
      properties: { organization_id: w.globex.id, owner_id: w.executive.id },
    },
  });
  assert.equal(((await json(res)).context as Record<string, unknown>).reason, "cross_tenant");
  res = await ev(exec, {
    subject: user(w.executive.id),
    action: { name: "crm.delete" },
    resource: { type: "crm_lead", id: String(own.id) },
  });
  assert.equal(((await json(res)).context as Record<string, unknown>).layer, "rbac");
});

dbTest("authzen evaluation: who may ask about whom, and transport errors", async (db) => {
  const { w, app, root, admin, exec, other } = await setup(db);
  const body = (id: string | number) => ({
    subject: user(id),
    action: { name: "crm_leads_read" },
    resource: { type: "module", id: "crm" },
  });
  // A non-admin may not ask about others: 403.
  let res = await app.request("/access/v1/evaluation", post(exec, body(w.executive2.id)));
  assert.equal(res.status, 403);
  // An admin may ask about users of his organization, not of others (decision false, subject not found).
  res = await app.request("/access/v1/evaluation", post(admin, body(w.executive2.id)));
  assert.equal((await json(res)).decision, true);
  res = await app.request("/access/v1/evaluation", post(other, body(w.executive2.id)));
  const d = await json(res);
  assert.equal(d.decision, false);
  assert.equal((d.context as Record<string, unknown>).reason, "subject_not_found");
  // A super admin may ask about anyone.
  res = await app.request("/access/v1/evaluation", post(root, body("exec@acme.test")));
  assert.equal((await json(res)).decision, true);
  // A super admin subject on a module must name the organization.
  res = await app.request("/access/v1/evaluation", post(root, body(w.superAdmin.id)));
  assert.equal(((await json(res)).context as Record<string, unknown>).reason, "organization_required");
  res = await app.request(
    "/access/v1/evaluation",
    post(root, { ...body(w.superAdmin.id), context: { organization_id: w.acme.id } }),
  );
  assert.equal((await json(res)).decision, true);

  // 401 without a token; 400 for a missing attribute or malformed JSON.
  assert.equal((await app.request("/access/v1/evaluation", post(null, body(1)))).status, 401);
  for (
    const bad of [
      { action: { name: "crm.read" }, resource: { type: "module", id: "crm" } },
      { subject: user(w.admin.id), resource: { type: "module", id: "crm" } },
      { subject: user(w.admin.id), action: { name: "crm.read" } },
      "{not json",
    ]
  ) {
    res = await app.request("/access/v1/evaluation", post(admin, bad));
    assert.equal(res.status, 400, JSON.stringify(bad));
  }
  // Well-formed requests about what the PDP does not model are denials, not errors.
  for (
    const [req, layer, reason] of [
      [
        { subject: user(w.admin.id), action: { name: "crm read" }, resource: { type: "module", id: "crm" } },
        "rbac",
        "unknown_action",
      ],
      [
        { subject: user(w.admin.id), action: { name: "hr.read" }, resource: { type: "crm_lead", id: "1" } },
        "rbac",
        "action_not_applicable",
      ],
    ] as const
  ) {
    res = await app.request("/access/v1/evaluation", post(admin, req));
    assert.equal(res.status, 200, JSON.stringify(req));
    const out = await json(res);
    assert.equal(out.decision, false);
    assert.deepEqual(
      [(out.context as Record<string, unknown>).layer, (out.context as Record<string, unknown>).reason],
      [layer, reason],
    );
  }
});

dbTest("authzen evaluations: defaults, per-item errors and the three semantics", async (db) => {
  const { w, app, admin } = await setup(db);
  const items = [
    { resource: { type: "module", id: "crm" } },
    { resource: { type: "module", id: "manufacturing" } },
    { action: { name: "hr.read" }, resource: { type: "module", id: "hr" } },
    { resource: { type: "module", id: "sales" } },
  ];
  const base = { subject: user(w.admin.id), action: { name: "read" } };
  const run = async (semantic?: string) => {
    const res = await app.request(
      "/access/v1/evaluations",
      post(admin, {
        ...base,
        evaluations: items,
        ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
      }),
    );
    assert.equal(res.status, 200);
    return ((await json(res)).evaluations as { decision: boolean }[]).map((e) => e.decision);
  };
  assert.deepEqual(await run(), [true, false, false, true]);
  assert.deepEqual(await run("execute_all"), [true, false, false, true]);
  assert.deepEqual(await run("deny_on_first_deny"), [true, false]);
  assert.deepEqual(await run("permit_on_first_permit"), [true]);
  let res = await app.request(
    "/access/v1/evaluations",
    post(admin, { ...base, evaluations: items, options: { evaluations_semantic: "sometimes" } }),
  );
  assert.equal(res.status, 400);

  // An entry that cannot be evaluated: decision false with context.error, the rest still run.
  res = await app.request(
    "/access/v1/evaluations",
    post(admin, {
      evaluations: [
        { subject: user(w.admin.id), action: { name: "crm.read" }, resource: { type: "module", id: "crm" } },
        { subject: user(w.admin.id), action: { name: "crm.read" } },
        { subject: user(w.admin.id), action: { name: "bad name" }, resource: { type: "module", id: "crm" } },
      ],
    }),
  );
  const out = (await json(res)).evaluations as {
    decision: boolean;
    context?: { error?: { status: number } };
  }[];
  assert.deepEqual(out.map((e) => e.decision), [true, false, false]);
  assert.equal(out[1].context?.error?.status, 400);
  // An action name that is no permission is a denial (well-formed), not an error.
  assert.equal((out[2].context as Record<string, unknown>)?.reason, "unknown_action");

  // Without evaluations: a single evaluation.
  res = await app.request(
    "/access/v1/evaluations",
    post(admin, { ...base, resource: { type: "module", id: "crm" } }),
  );
  assert.equal((await json(res)).decision, true);
});

dbTest("authzen search: subjects, resources and actions, with pagination", async (db) => {
  const { w, app, lead, admin, exec } = await setup(db);
  for (let i = 0; i < 5; i++) await lead(w.executive.id, `e${i}`);
  await lead(w.executive2.id, "peer");
  await lead(w.admin.id, "boss");

  // Subjects who may read a given lead of the executive: admin, manager (team), the executive, the auditor (all).
  let res = await app.request(
    "/access/v1/search/subject",
    post(admin, {
      subject: { type: "user" },
      action: { name: "crm.read" },
      resource: { type: "crm_lead", id: "1" },
    }),
  );
  assert.equal(res.status, 200);
  let body = await json<{ results: { id: string }[]; page: { next_token: string } }>(res);
  assert.deepEqual(body.results.map((r) => Number(r.id)).sort((a, b) => a - b), [
    w.admin.id,
    w.manager.id,
    w.executive.id,
    w.auditor.id,
  ]);
  assert.equal(body.page.next_token, "");
  // Paged: two at a time.
  const seen: string[] = [];
  let token: string | undefined;
  do {
    res = await app.request(
      "/access/v1/search/subject",
      post(admin, {
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "crm_lead", id: "1" },
        page: { limit: 2, ...(token ? { token } : {}) },
      }),
    );
    body = await json(res);
    assert.ok(body.results.length <= 2);
    seen.push(...body.results.map((r) => r.id));
    token = body.page.next_token || undefined;
  } while (token);
  assert.equal(seen.length, 4);
  // Executives may not search subjects.
  assert.equal(
    (await app.request(
      "/access/v1/search/subject",
      post(exec, {
        subject: { type: "user" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }),
    )).status,
    403,
  );

  // Resources: the executive's own leads, paged; a token replayed with a changed request is refused.
  res = await app.request(
    "/access/v1/search/resource",
    post(exec, {
      subject: user(w.executive.id),
      action: { name: "crm.read" },
      resource: { type: "crm_lead" },
      page: { limit: 3 },
    }),
  );
  const first = await json<
    { results: { type: string; id: string }[]; page: { next_token: string; count: number; total: number } }
  >(res);
  assert.equal(first.page.total, 5);
  assert.equal(first.results.length, 3);
  assert.ok(first.results.every((r) => r.type === "crm_lead"));
  res = await app.request(
    "/access/v1/search/resource",
    post(exec, {
      subject: user(w.executive.id),
      action: { name: "crm.read" },
      resource: { type: "crm_lead" },
      page: { limit: 3, token: first.page.next_token },
    }),
  );
  const second = await json<{ results: unknown[]; page: { next_token: string } }>(res);
  assert.equal(second.results.length, 2);
  assert.equal(second.page.next_token, "");
  res = await app.request(
    "/access/v1/search/resource",
    post(exec, {
      subject: user(w.executive.id),
      action: { name: "crm.update" },
      resource: { type: "crm_lead" },
      page: { limit: 3, token: first.page.next_token },
    }),
  );
  assert.equal(res.status, 400);
  // Modules the admin may read.
  res = await app.request(
    "/access/v1/search/resource",
    post(admin, { subject: user(w.admin.id), action: { name: "read" }, resource: { type: "module" } }),
  );
  const modules = (await json<{ results: { id: string }[] }>(res)).results.map((r) => r.id);
  assert.ok(modules.includes("crm") && modules.includes("users") && !modules.includes("manufacturing"));

  // Actions: what the executive may do on his lead; every result evaluates to true.
  res = await app.request(
    "/access/v1/search/action",
    post(exec, { subject: user(w.executive.id), resource: { type: "crm_lead", id: "1" } }),
  );
  const actions = (await json<{ results: { name: string }[] }>(res)).results.map((r) => r.name);
  assert.deepEqual(actions, ["crm.create", "crm.read"]);
  for (const name of actions) {
    const ev = await app.request(
      "/access/v1/evaluation",
      post(exec, {
        subject: user(w.executive.id),
        action: { name },
        resource: { type: "crm_lead", id: "1" },
      }),
    );
    assert.equal((await json(ev)).decision, true, name);
  }
});
