/**
 * Record lists: keyset cursors walk every visible record once, in id order, whatever the page size; skip /
 * limit keep working; the total is exact up to TOTAL_CAP and bounded beyond it unless `total=exact`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { TOTAL_CAP } from "../../src/modules/records_repository.ts";

interface ListOut {
  items: { id: number; name: string }[];
  total: number;
  total_exact: boolean;
  next_cursor: string | null;
}

dbTest("lists: following next_cursor visits every record once, in order, for any page size", async (db) => {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const admin = await login(app, "admin@acme.test");
  const exec = await login(app, "exec@acme.test");
  const rows = await db.db.insert(db.t.crmLeads).values(
    Array.from({ length: 23 }, (_, i) => ({
      organizationId: w.acme.id,
      ownerId: i % 3 === 0 ? w.executive.id : w.admin.id,
      name: `L${i}`,
    })),
  ).returning();
  // Another tenant's rows never show up, whatever the cursor says.
  await db.db.insert(db.t.crmLeads).values({
    organizationId: w.globex.id,
    ownerId: w.otherAdmin.id,
    name: "G",
  });
  const walk = async (token: string, limit: number) => {
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 100; n++) {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const res = await app.request(`/api/v1/crm/leads?limit=${limit}${q}`, { headers: bearer(token) });
      assert.equal(res.status, 200);
      const page = await json<ListOut>(res);
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
      if (!cursor) return seen;
    }
    throw new Error("cursor never ended");
  };
  const all = rows.map((r) => r.id);
  const own = rows.filter((r) => r.ownerId === w.executive.id).map((r) => r.id);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 25 }), async (limit) => {
      assert.deepEqual(await walk(admin, limit), all);
      assert.deepEqual(await walk(exec, limit), own, "the executive's own records only");
    }),
    { numRuns: 8 },
  );
  // skip / limit as before; the first page of a small set needs no count and says so.
  const res = await app.request("/api/v1/crm/leads?skip=20&limit=5", { headers: bearer(admin) });
  const page = await json<ListOut>(res);
  assert.deepEqual(page.items.map((i) => i.id), all.slice(20));
  assert.equal(page.total, 23);
  assert.equal(page.total_exact, true);
  assert.equal(page.next_cursor, null);
});

dbTest("lists: bad cursors and cursor with skip are refused naming the parameter", async (db) => {
  await createWorld(db);
  const { app } = await testApp(db);
  const admin = await login(app, "admin@acme.test");
  for (const cursor of ["nope", "e30", btoa(JSON.stringify({ a: -1 }))]) {
    const res = await app.request(`/api/v1/crm/leads?cursor=${cursor}`, { headers: bearer(admin) });
    assert.equal(res.status, 400, cursor);
    assert.match((await json<{ detail: string }>(res)).detail, /^cursor: /);
  }
  const ok = btoa(JSON.stringify({ a: 1 }));
  const res = await app.request(`/api/v1/crm/leads?skip=1&cursor=${ok}`, { headers: bearer(admin) });
  assert.equal(res.status, 400);
  assert.match((await json<{ detail: string }>(res)).detail, /skip and cursor/);
});

dbTest("lists: the total is bounded at TOTAL_CAP unless total=exact", async (db) => {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const admin = await login(app, "admin@acme.test");
  const n = TOTAL_CAP + 7;
  for (let i = 0; i < n; i += 200) {
    await db.db.insert(db.t.crmLeads).values(
      Array.from({ length: Math.min(200, n - i) }, (_, k) => ({
        organizationId: w.acme.id,
        ownerId: w.admin.id,
        name: `B${i + k}`,
      })),
    );
  }
  let page = await json<ListOut>(await app.request("/api/v1/crm/leads?limit=5", { headers: bearer(admin) }));
  assert.equal(page.total, TOTAL_CAP);
  assert.equal(page.total_exact, false);
  assert.equal(page.items.length, 5);
  page = await json<ListOut>(
    await app.request("/api/v1/crm/leads?limit=5&total=exact", { headers: bearer(admin) }),
  );
  assert.equal(page.total, n);
  assert.equal(page.total_exact, true);
});
