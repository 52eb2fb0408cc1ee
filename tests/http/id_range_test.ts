/**
 * Ids are 32-bit integer columns: an id past 2^31 - 1 in any `{id}` path, or in a body's id field, is a 422
 * naming the field on both databases, never the database's out-of-range error (a 500 on Postgres).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

dbTest(
  "ids: past 2^31 - 1 in any {id} path or body id field is a 422 naming it, never a 500",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const token = await login(app, "root@platform.test");
    const spec = await json<{ paths: Record<string, Record<string, unknown>> }>(
      await app.request("/openapi.json"),
    );
    const routes = Object.entries(spec.paths).flatMap(([path, ops]) =>
      path.includes("{id}")
        ? Object.keys(ops).filter((m) => m !== "parameters").map((m) => ({ path, m }))
        : []
    );
    assert.ok(routes.length >= 10, `${routes.length} {id} routes`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(fc.constant(2 ** 31), fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER })),
        async ({ path, m }, id) => {
          const res = await app.request(path.replace("{id}", String(id)), {
            method: m.toUpperCase(),
            headers: { ...bearer(token, w.globex.id), "content-type": "application/json" },
            body: m === "get" || m === "delete" ? undefined : "{}",
          });
          const body = await json(res);
          assert.equal(res.status, 422, `${m} ${path} ${id}: ${JSON.stringify(body)}`);
          assert.deepEqual([...new Set((body.errors as { field: string }[]).map((e) => e.field))], ["id"]);
        },
      ),
      { numRuns: 60 },
    );
    const post = (path: string, b: unknown) =>
      app.request(path, {
        method: "POST",
        headers: { ...bearer(token, w.globex.id), "content-type": "application/json" },
        body: JSON.stringify(b),
      });
    const res = await post("/api/v1/users", {
      email: "big@globex.test",
      password: "Long-enough-Passw0rd!",
      role: "executive",
      organization_id: 2 ** 31,
    });
    assert.equal(res.status, 422, JSON.stringify(await json(res.clone())));
    assert.ok(((await json(res)).errors as { field: string }[]).some((e) => e.field === "organization_id"));

    // Every id field of every JSON body in /openapi.json (`id`, `*_id`), alone in its body: a 422 naming it.
    type Schema = { $ref?: string; properties?: Record<string, Schema>; type?: string | string[] };
    const components =
      (spec as unknown as { components: { schemas: Record<string, Schema> } }).components.schemas;
    const resolve = (x: Schema | undefined): Schema | undefined =>
      x?.$ref ? resolve(components[x.$ref.split("/").pop()!]) : x;
    const fields = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(
        ops as Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>,
      )
        .flatMap(([m, op]) =>
          Object.keys(resolve(op.requestBody?.content?.["application/json"]?.schema)?.properties ?? {})
            .filter((name) => name === "id" || name.endsWith("_id")).map((name) => ({ path, m, name }))
        )
    );
    assert.ok(fields.some((f) => f.name === "execution_id"), "the restore body's execution_id is among them");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
        async ({ path, m, name }, id) => {
          const r = await app.request(path.replaceAll(/\{[a-z_]+\}/g, "1"), {
            method: m.toUpperCase(),
            headers: { ...bearer(token, w.globex.id), "content-type": "application/json" },
            body: JSON.stringify({ [name]: id }),
          });
          const body = await json(r);
          assert.equal(r.status, 422, `${m} ${path} ${name}=${id}: ${JSON.stringify(body)}`);
          assert.ok((body.errors as { field: string }[]).some((e) => e.field === name), JSON.stringify(body));
        },
      ),
      { numRuns: 40 },
    );
  },
);

dbTest(
  "ids: past 2^31 - 1 in X-Organization-Id, a list cursor or an AuthZEN id is refused or names nothing, never a 500",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const admin = await login(app, "admin@acme.test");
    const root = await login(app, "root@platform.test");
    const big = fc.oneof(fc.constant(2 ** 31), fc.integer({ min: 2 ** 31, max: 10 ** 15 - 1 }));
    const cursorOf = (a: number) => btoa(JSON.stringify({ a })).replaceAll("+", "-").replaceAll("/", "_");
    await fc.assert(
      fc.asyncProperty(big, fc.constantFrom(admin, root), async (id, token) => {
        for (
          const path of ["/api/v1/crm/leads", "/api/v1/users", "/api/v1/roles", "/api/v1/organizations/1"]
        ) {
          const res = await app.request(path, { headers: bearer(token, id) });
          const body = await json(res);
          assert.equal(res.status, 422, `${path} X-Organization-Id ${id}: ${JSON.stringify(body)}`);
          assert.deepEqual((body.errors as { field: string }[]).map((e) => e.field), ["X-Organization-Id"]);
        }
        const fa = await app.request("/access/v1/forward-auth", {
          headers: {
            ...bearer(token, id),
            "x-forwarded-method": "GET",
            "x-forwarded-uri": "/api/v1/crm/leads",
          },
        });
        assert.ok(fa.status === 422 || fa.status === 403, `forward-auth: ${fa.status}`);
        const list = await app.request(`/api/v1/crm/leads?cursor=${cursorOf(id)}`, {
          headers: bearer(admin),
        });
        assert.equal(list.status, 400, `cursor ${id}: ${list.status}`);
        for (
          const body of [
            {
              subject: { type: "user", id: String(id) },
              action: { name: "read" },
              resource: { type: "crm_lead" },
            },
            {
              subject: { type: "user", id: String(w.admin.id) },
              action: { name: "read" },
              resource: { type: "crm_lead", id: String(id) },
            },
            {
              subject: { type: "user", id: String(w.admin.id) },
              action: { name: "read" },
              resource: { type: "organization", id: String(id) },
            },
          ]
        ) {
          for (const endpoint of ["/access/v1/evaluation", "/access/v1/search/resource"]) {
            const res = await app.request(endpoint, {
              method: "POST",
              headers: { ...bearer(token), "content-type": "application/json" },
              body: JSON.stringify(body),
            });
            assert.ok(
              res.status < 500,
              `${endpoint} ${JSON.stringify(body)}: ${res.status} ${await res.text()}`,
            );
          }
        }
      }),
      { numRuns: 8 },
    );
  },
);
