/**
 * Security regression suite — disclosure: a caller who is no admin learns nothing from an AuthZEN answer
 * that the REST API would not tell him (review finding 9). For a record id, REST answers the guard's 403
 * first, then 404 for a record he may not see; AuthZEN answers the same way, for existing, missing,
 * other-organization and hypothetical ids alike. Admins keep the detailed reasons and the trace.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json } from "../helpers/app.ts";
import { bearer, login } from "../helpers/fixtures.ts";
import { post, setup, user } from "../authzen/authzen_helpers.ts";

type Out = { decision: boolean; context?: Record<string, unknown> };

dbTest("disclosure (F9): AuthZEN tells a non-admin no more about a record than REST", async (db) => {
  const { w, app, lead, exec, admin } = await setup(db);
  const own = await lead(w.executive.id, "own");
  const peer = await lead(w.executive2.id, "peer");
  const mgr = await lead(w.manager.id, "manager's");
  const foreign = await lead(w.otherAdmin.id, "foreign", w.globex.id);
  const ev = async (token: string, id: string, properties?: Record<string, unknown>, action = "crm.read") =>
    await json<Out>(
      await app.request(
        "/access/v1/evaluation",
        post(token, {
          subject: user(w.executive.id),
          action: { name: action },
          resource: { type: "crm_lead", id, ...(properties ? { properties } : {}) },
        }),
      ),
    );
  // REST: 404 for every lead he may not see.
  for (const id of [peer.id, mgr.id, foreign.id, 999999]) {
    const res = await app.request(`/api/v1/crm/leads/${id}`, { headers: bearer(exec) });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  }
  // AuthZEN: the same "not found" for each, naming neither owner nor scope.
  const shape = (o: Out, id: string | number) => {
    assert.equal(o.decision, false);
    assert.deepEqual(o.context, {
      id: "0",
      layer: "tenant",
      reason: "resource_not_found",
      reason_user: { en: `crm_lead ${id} not found in the organization` },
    });
  };
  for (const id of [peer.id, mgr.id, foreign.id, 999999]) shape(await ev(exec, String(id)), id);
  // Properties cannot turn an id into an existence oracle: a hypothetical under a record id is that id.
  for (const id of [peer.id, 999999]) {
    shape(await ev(exec, String(id), { owner_id: w.executive.id }), id);
    shape(await ev(exec, String(id), { owner_id: w.executive.id, organization_id: w.acme.id }), id);
  }
  // Without the permission, REST answers 403 before looking the record up; so does AuthZEN, alike for
  // an existing and a missing id.
  const denied = [
    await ev(exec, String(own.id), undefined, "crm.delete"),
    await ev(exec, "999999", undefined, "crm.delete"),
  ];
  assert.deepEqual(denied[0], denied[1]);
  assert.equal(denied[0].context?.reason, "missing_permission");
  // His own lead: allowed, as REST.
  assert.deepEqual(await ev(exec, String(own.id)), { decision: true });
  // A hypothetical without a record id stays a question about attributes he gave.
  const hypo = await ev(exec, "new", { owner_id: w.executive.id });
  assert.deepEqual(hypo, { decision: true });
  // The admin still gets the detail (he may read every lead anyway).
  const detail = await ev(admin, String(mgr.id));
  assert.equal(detail.context?.reason, "record_out_of_scope");
  assert.match(JSON.stringify(detail.context), new RegExp(`owned by user ${w.manager.id}\\b`));
});

dbTest(
  "disclosure (property): for a non-admin, an out-of-scope lead answers exactly like a missing id",
  async (db) => {
    const { w, app, lead } = await setup(db);
    const exec2 = await login(app, "exec2@acme.test");
    const leads = [
      await lead(w.executive.id, "a"),
      await lead(w.manager.id, "b"),
      await lead(w.otherAdmin.id, "c", w.globex.id),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...leads),
        fc.constantFrom("crm.read", "crm.update", "crm.delete", "read", "crm_leads_read", "crm.fly"),
        fc.option(
          fc.record({
            owner_id: fc.constantFrom(w.executive.id, w.executive2.id, w.manager.id),
            organization_id: fc.option(fc.constantFrom(w.acme.id, w.globex.id), { nil: undefined }),
          }, { requiredKeys: ["owner_id"] }),
          { nil: undefined },
        ),
        async (l, action, properties) => {
          const ask = async (id: number) =>
            await json<Out>(
              await app.request(
                "/access/v1/evaluation",
                post(exec2, {
                  subject: user(w.executive2.id),
                  action: { name: action },
                  resource: { type: "crm_lead", id: String(id), ...(properties ? { properties } : {}) },
                }),
              ),
            );
          const real = await ask(l.id);
          const missing = await ask(900000 + l.id);
          const strip = (o: Out) =>
            JSON.stringify(o).replaceAll(String(900000 + l.id), "ID").replaceAll(String(l.id), "ID");
          assert.equal(strip(real), strip(missing), JSON.stringify({ l, action, properties }));
        },
      ),
      { numRuns: 60 },
    );
  },
);
