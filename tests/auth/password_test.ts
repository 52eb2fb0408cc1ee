import assert from "node:assert/strict";
import { singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createOrg, createUser, login, PASSWORD } from "../helpers/fixtures.ts";
import { passwordProblems } from "../../src/auth/password_policy.ts";
import {
  hashAtMinimumCostForTests,
  hashPassword,
  needsRehash,
  verifyPassword,
} from "../../src/auth/passwords.ts";

// This file checks the real parameters (tests/helpers/db.ts switches the rest of the suite to argon2's minimum).
hashAtMinimumCostForTests(false);

Deno.test("passwords: the minimum-cost switch is for tests only — nothing outside tests/ calls it", async () => {
  const root = new URL("../../", import.meta.url);
  const callers: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(new URL(dir, root))) {
      const path = `${dir}${e.name}`;
      if (e.isDirectory) await walk(`${path}/`);
      else if (
        /\.(ts|js|mjs)$/.test(e.name) &&
        (await Deno.readTextFile(new URL(path, root))).match(/hashAtMinimumCost/)
      ) {
        callers.push(path);
      }
    }
  };
  for (const dir of ["src/", "seeders/", "modules/", "scripts/", "bench/"]) await walk(dir);
  assert.deepEqual(callers, ["src/auth/passwords.ts"]);
  assert.match(await hashPassword("x"), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  hashAtMinimumCostForTests(true);
  try {
    const cheap = await hashPassword("x");
    assert.match(cheap, /^\$argon2id\$v=19\$m=8,t=1,p=1\$/);
    assert.ok(await verifyPassword(cheap, "x"));
    assert.equal(await verifyPassword(cheap, "y"), false);
  } finally {
    hashAtMinimumCostForTests(false);
  }
  assert.equal(
    needsRehash("$argon2id$v=19$m=8,t=1,p=1$abc$def"),
    true,
    "a minimum-cost hash is rehashed at login",
  );
});

const change = (token: string, body: unknown, contentType = "application/json") => ({
  method: "POST",
  headers: { ...bearer(token), "content-type": contentType },
  body: JSON.stringify(body),
});

Deno.test("passwords: argon2id at OWASP parameters, verify never throws", async () => {
  const h = await hashPassword("correct horse battery staple");
  assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  assert.equal(await verifyPassword(h, "correct horse battery staple"), true);
  assert.equal(await verifyPassword(h, "wrong"), false);
  assert.equal(await verifyPassword("not-a-hash", "x"), false);
  assert.equal(await verifyPassword(h, ""), false);
  assert.equal(needsRehash(h), false);
  assert.equal(needsRehash("$argon2id$v=19$m=4096,t=1,p=1$abc$def"), true);
});

Deno.test("password policy: length, character classes, email, well-known", () => {
  assert.deepEqual(passwordProblems("NewSecurePassword123!"), []);
  assert.ok(passwordProblems("short1A!").some((p) => p.includes("12")));
  assert.ok(passwordProblems("alllowercaseletters").some((p) => p.includes("three")));
  assert.ok(passwordProblems("Password1234").some((p) => p.includes("well-known")), "case does not help");
  assert.deepEqual(passwordProblems("Tr0ub4dor-and-3"), []);
  assert.ok(passwordProblems("password1234").some((p) => p.includes("well-known")));
  assert.ok(passwordProblems("Johnsmith-2024!", "johnsmith@x.test").some((p) => p.includes("e-mail")));
  // Only the local part matched: say so (newcomer finding 11: SuperAdmin@123 for admin@foodfleet.com).
  assert.ok(
    passwordProblems("SuperAdmin@123", "admin@foodfleet.com").includes(
      "must not contain the account's e-mail name (admin)",
    ),
  );
  assert.deepEqual(passwordProblems("Kettle-admin-2026", "admin@foodfleet.com"), [
    "must not contain the account's e-mail name (admin)",
  ]);
  assert.deepEqual(passwordProblems("x-Admin@FoodFleet.com-9", "admin@foodfleet.com"), [
    "must not contain the account's e-mail address",
  ]);
});

singleDialectTest(
  "password change: seed 002's curl (no content type), older tokens refused, fresh token works",
  async (db) => {
    const org = await createOrg(db, { name: "Acme", enabledModules: { crm: true } });
    await createUser(db, {
      email: "a@acme.test",
      role: "admin",
      organizationId: org.id,
      isCompanyAdmin: true,
    });
    const { app } = await testApp(db);
    const old = await login(app, "a@acme.test");
    // Wrong current password; weak new password (named); same as current.
    let res = await app.request(
      "/api/v1/auth/password/change",
      change(old, { current_password: "nope", new_password: "NewSecurePassword123!" }),
    );
    assert.equal(res.status, 400);
    res = await app.request(
      "/api/v1/auth/password/change",
      change(old, { current_password: PASSWORD, new_password: "short" }),
    );
    assert.equal(res.status, 422);
    const weak = await json(res);
    assert.match(weak.detail as string, /new_password/);
    // As in seed 002: curl -d without a Content-Type header.
    res = await app.request(
      "/api/v1/auth/password/change",
      change(
        old,
        { current_password: PASSWORD, new_password: "NewSecurePassword123!" },
        "application/x-www-form-urlencoded",
      ),
    );
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.token_type, "bearer");
    // The old token is refused at once; the new one and a new login work.
    assert.equal((await app.request("/api/v1/auth/me", { headers: bearer(old) })).status, 401);
    assert.equal(
      (await app.request("/api/v1/auth/me", { headers: bearer(body.access_token as string) })).status,
      200,
    );
    await login(app, "a@acme.test", "NewSecurePassword123!");
    res = await app.request("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "a@acme.test", password: PASSWORD }),
    });
    assert.equal(res.status, 401);
    const events = (await db.db.select().from(db.t.auditLogs)).map((e) => e.event);
    assert.ok(events.includes("auth.password_changed"));
  },
);

singleDialectTest(
  "must_change_password: only me, password change and login until the password is changed",
  async (db) => {
    const org = await createOrg(db, { name: "Acme", enabledModules: { crm: true } });
    await createUser(db, {
      email: "new@acme.test",
      role: "admin",
      organizationId: org.id,
      isCompanyAdmin: true,
      mustChangePassword: true,
    });
    const { app } = await testApp(db);
    const token = await login(app, "new@acme.test");
    assert.equal((await app.request("/api/v1/auth/me", { headers: bearer(token) })).status, 200);
    for (const path of ["/api/v1/crm/leads", "/api/v1/users", "/api/v1/roles", "/api/v1/organizations"]) {
      const res = await app.request(path, { headers: bearer(token) });
      assert.equal(res.status, 403, path);
      assert.equal((await json(res)).code, "PASSWORD_CHANGE_REQUIRED");
    }
    // Each refusal is audited with the account and its organization.
    const refusals = (await db.db.select().from(db.t.auditLogs)).filter((e) => e.event === "access.denied");
    assert.equal(refusals.length, 4);
    for (const e of refusals) {
      assert.equal(e.organizationId, org.id);
      assert.ok(e.actorUserId !== null, JSON.stringify(e));
    }
    const ev = await app.request("/access/v1/evaluation", {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({
        subject: { type: "user", id: "new@acme.test" },
        action: { name: "crm.read" },
        resource: { type: "module", id: "crm" },
      }),
    });
    assert.equal(ev.status, 403);
    const res = await app.request(
      "/api/v1/auth/password/change",
      change(token, { current_password: PASSWORD, new_password: "Brand-New-Passw0rd" }),
    );
    assert.equal(res.status, 200);
    const fresh = (await json(res)).access_token as string;
    assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(fresh) })).status, 200);
    const me = await json(await app.request("/api/v1/auth/me", { headers: bearer(fresh) }));
    assert.equal(me.must_change_password, false);
  },
);
