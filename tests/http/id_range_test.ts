/**
 * Ids are 32-bit integer columns: an id past 2^31 - 1 in any `{id}` path, or in a body's id field, is a 422
 * naming the field on both databases, never the database's out-of-range error (a 500 on Postgres).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";

dbTest("ids: past 2^31 - 1 in any {id} path or body id field is a 422 naming it, never a 500", async (db) => {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const token = await login(app, "root@platform.test");
  const spec = await json<{ paths: Record<string, Record<string, unknown>> }>(
    await app.request("/openapi.json"),
  );
  const routes = Object.entries(spec.paths).flatMap(([path, ops]) =>
    path.includes("{id}") ? Object.keys(ops).filter((m) => m !== "parameters").map((m) => ({ path, m })) : []
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
});
