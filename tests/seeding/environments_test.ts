/**
 * A seeder never runs outside its `environments` (outside attack 2026-12-03): a production super admin
 * ran `POST /api/v1/seeders/execute {"only":["DemoUsersSeeder"]}` and admin@testcorp.com logged in with the
 * published password123. Now `only`, its dependencies, demo seeding (--demo, SEED_DEMO) and volume seeding
 * all answer a VALIDATION_ERROR naming the seeder and the environment; production refuses SEED_DEMO=true
 * and a SUPERADMIN_PASSWORD that fails the API's password policy at config load (docs/seeding.md).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { createUser, login } from "../helpers/fixtures.ts";
import { SEEDERS } from "../../seeders/mod.ts";
import { planSeeders } from "../../src/seeding/plan.ts";
import { APP_ENVS, ConfigError, loadConfig } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";
import { DEMO_PASSWORD } from "../../seeders/demo_data.ts";

const PROD = {
  APP_ENV: "production",
  SECRET_KEY: "prod-key-7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e",
  DATABASE_URL: "file:/tmp/seedbed-never-opened.db",
  S3_ENDPOINT: "http://127.0.0.1:9",
};
const STRONG = "Str0ng!Passw0rd#Seedbed";

dbTest("seeding (attack): production refuses the demo seeders on every path of the API", async (db) => {
  await createUser(db, {
    email: "root@corp.example",
    role: "super_admin",
    isSuperAdmin: true,
    organizationId: null,
  });
  const { app } = await testApp(db, { env: PROD });
  const root = await login(app, "root@corp.example");
  const run = (body: unknown) =>
    app.request("/api/v1/seeders/execute", {
      method: "POST",
      headers: { authorization: `Bearer ${root}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  for (
    const [only, named] of [
      [["DemoUsersSeeder"], /seeder DemoUsersSeeder runs only in development, test, not in production/],
      [["DemoOrganizationsSeeder"], /seeder DemoOrganizationsSeeder runs only in/],
      // A production seeder named with a demo one; a demo seeder's dependency chain.
      [["RolesSeeder", "DemoUsersSeeder"], /seeder DemoUsersSeeder runs only in/],
      [["RestaurantsSeeder"], /seeder RestaurantsSeeder runs only in development, test, not in production/],
    ] as const
  ) {
    const res = await run({ only, create_backup: false });
    const body = await json<{ detail: string; code: string; errors: { field: string }[] }>(res);
    assert.equal(res.status, 422, `${only}: ${JSON.stringify(body)}`);
    assert.equal(body.code, "VALIDATION_ERROR");
    assert.match(body.detail, named);
    assert.equal(body.errors[0].field, "only");
  }
  // Nothing was written, nor recorded as a run: the demo accounts do not exist.
  const res = await app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "admin@testcorp.com", password: DEMO_PASSWORD }),
  });
  assert.equal(res.status, 401);
  await res.body?.cancel();
  const users = await db.db.select().from(db.t.users);
  assert.deepEqual(users.map((u) => u.email), ["root@corp.example"]);
  // Production's own seeders still run by name.
  const ok = await run({ only: ["RolesSeeder"], create_backup: false });
  assert.equal(ok.status, 200, await ok.clone().text());
});

dbTest(
  "seeding (attack): production refuses --demo and another environment's plan in the service",
  async (db) => {
    const { deps } = await testApp(db, { env: PROD });
    for (
      const [o, named] of [
        [{ demo: true }, /seeder DemoOrganizationsSeeder runs only in development, test, not in production/],
        [{ env: "development" as const }, /env must be production when APP_ENV is production/],
        [{ env: "test" as const, demo: true }, /env must be production/],
      ] as const
    ) {
      await assert.rejects(
        () => deps.seeding.execute({ triggeredBy: "cli", createBackup: false, ...o }),
        (err: unknown) =>
          err instanceof AppError && err.code === "VALIDATION_ERROR" && named.test(err.message),
      );
    }
    assert.deepEqual(await db.db.select().from(db.t.users), []);
  },
);

Deno.test("config: production refuses SEED_DEMO=true and a SUPERADMIN_PASSWORD the password policy refuses", () => {
  assert.throws(
    () => loadConfig({ ...PROD, SEED_DEMO: "true" }),
    (err: unknown) =>
      err instanceof ConfigError && /SEED_DEMO: must not be true in production/.test(String(err)),
  );
  for (const weak of ["x", "alllowercase1", "Sh0rt!", "Ops@Corp.Example", "aaaaaaaaaaaaaaa"]) {
    assert.throws(
      () => loadConfig({ ...PROD, SUPERADMIN_EMAIL: "ops@corp.example", SUPERADMIN_PASSWORD: weak }),
      (err: unknown) => {
        const text = err instanceof ConfigError ? err.message : "";
        assert.match(text, /SUPERADMIN_PASSWORD: /, weak);
        assert.ok(weak.length < 4 || !text.includes(weak), "the value is never echoed");
        return true;
      },
    );
  }
  const ok = loadConfig({ ...PROD, SUPERADMIN_EMAIL: "ops@corp.example", SUPERADMIN_PASSWORD: STRONG });
  assert.equal(ok.seeding.superadminPassword, STRONG);
  assert.equal(ok.seeding.demo, false);
  // Development keeps its defaults: demo data and the seeds' documented credentials.
  const dev = loadConfig({ APP_ENV: "development", SEED_DEMO: "true", SUPERADMIN_PASSWORD: "x" });
  assert.equal(dev.seeding.demo, true);
});

Deno.test("seeding (property): no plan holds a seeder outside its environments; asking for one names it", () => {
  const names = SEEDERS.map((s) => s.name);
  fc.assert(
    fc.property(
      fc.constantFrom(...APP_ENVS),
      fc.boolean(),
      fc.constantFrom(0, 10),
      fc.option(fc.subarray(names, { minLength: 1, maxLength: 4 }), { nil: undefined }),
      (env, demo, scale, only) => {
        let plan;
        try {
          plan = planSeeders(SEEDERS, { env, demo, scale, only });
        } catch (err) {
          assert.ok(err instanceof AppError && err.code === "VALIDATION_ERROR", String(err));
          assert.match(err.message, new RegExp(`^seeder \\w+ runs only in .*, not in ${env} \\(`));
          const name = err.message.split(" ")[1];
          assert.ok(!SEEDERS.find((s) => s.name === name)!.environments.includes(env));
          return;
        }
        for (const s of plan) assert.ok(s.environments.includes(env), `${s.name} in ${env}`);
      },
    ),
    { numRuns: 500 },
  );
  // Development and test: the demo seeders run by default, and by name.
  for (const env of ["development", "test"] as const) {
    const plan = planSeeders(SEEDERS, { env, demo: true, scale: 0 }).map((s) => s.name);
    assert.ok(plan.includes("DemoUsersSeeder"), env);
    assert.ok(planSeeders(SEEDERS, { env, demo: false, scale: 0, only: ["DemoUsersSeeder"] }).length > 0);
  }
});
