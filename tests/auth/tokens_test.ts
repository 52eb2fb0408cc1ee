import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { singleDialectTest } from "../helpers/db.ts";
import { json, testApp, testConfig } from "../helpers/app.ts";
import { bearer, createOrg, createUser, login } from "../helpers/fixtures.ts";
import { InvalidTokenError, TokenService } from "../../src/auth/tokens.ts";

const SECRET = "test-secret-key-that-is-long-enough-0123456789";
const enc = new TextEncoder().encode(SECRET);

function claims(userId: number, orgId: number | null, pwv: number) {
  return new SignJWT({ org: orgId, pwv }).setSubject(String(userId)).setIssuer("seedbed").setAudience(
    "seedbed-api",
  );
}

singleDialectTest("tokens: every refused token gets the same 401 body", async (db) => {
  const org = await createOrg(db, { name: "Acme", enabledModules: { crm: true } });
  const u = await createUser(db, {
    email: "a@acme.test",
    role: "admin",
    organizationId: org.id,
    isCompanyAdmin: true,
  });
  const gone = await createUser(db, { email: "gone@acme.test", role: "admin", organizationId: org.id });
  const { app } = await testApp(db);
  const good = await login(app, "a@acme.test");
  assert.equal((await app.request("/api/v1/crm/leads", { headers: bearer(good) })).status, 200);
  const pwv = u.passwordChangedAt.getTime();
  const now = Math.floor(Date.now() / 1000);

  const bad: Record<string, string> = {
    expired: await claims(u.id, org.id, pwv).setProtectedHeader({ alg: "HS256" }).setIssuedAt(now - 7200)
      .setExpirationTime(now - 3600).sign(enc),
    bad_signature: good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA"),
    other_secret: await claims(u.id, org.id, pwv).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
      .setExpirationTime("10m").sign(new TextEncoder().encode("another-secret-another-secret-another")),
    alg_none: new UnsecuredJWT({ org: org.id, pwv }).setSubject(String(u.id)).setIssuer("seedbed")
      .setAudience("seedbed-api").setIssuedAt().setExpirationTime("10m").encode(),
    alg_outside_list: await claims(u.id, org.id, pwv).setProtectedHeader({ alg: "HS512" }).setIssuedAt()
      .setExpirationTime("10m").sign(enc),
    wrong_audience: await new SignJWT({ org: org.id, pwv }).setSubject(String(u.id)).setIssuer("seedbed")
      .setAudience("someone-else").setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("10m")
      .sign(enc),
    wrong_issuer: await new SignJWT({ org: org.id, pwv }).setSubject(String(u.id)).setIssuer("evil")
      .setAudience("seedbed-api").setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("10m")
      .sign(enc),
    unknown_user: await claims(999999, org.id, pwv).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
      .setExpirationTime("10m").sign(enc),
    other_org_claim: await claims(u.id, org.id + 1000, pwv).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
      .setExpirationTime("10m").sign(enc),
    stale_password_version: await claims(u.id, org.id, pwv - 1000).setProtectedHeader({ alg: "HS256" })
      .setIssuedAt().setExpirationTime("10m").sign(enc),
    garbage: "not-a-token",
  };
  // Deleted and deactivated users' tokens.
  const goneToken = await login(app, "gone@acme.test");
  await db.db.delete(db.t.users).where(eq(db.t.users.id, gone.id));
  bad.deleted_user = goneToken;

  const bodies = new Map<string, unknown>();
  for (const [why, token] of Object.entries(bad)) {
    const res = await app.request("/api/v1/crm/leads", { headers: bearer(token) });
    assert.equal(res.status, 401, why);
    const b = await json(res);
    delete b.request_id;
    bodies.set(why, b);
  }
  for (const [why, b] of bodies) {
    assert.deepEqual(b, { detail: "Could not validate credentials", code: "UNAUTHORIZED" }, why);
  }

  // Deactivating the user refuses his existing token on the very next request.
  await db.db.update(db.t.users).set({ isActive: false }).where(eq(db.t.users.id, u.id));
  const res = await app.request("/api/v1/crm/leads", { headers: bearer(good) });
  assert.equal(res.status, 401);
});

Deno.test("tokens: claims, TTL and the verified-token cache", async () => {
  const svc = await TokenService.create(testConfig({ ACCESS_TOKEN_EXPIRE_MINUTES: "5" }));
  const changed = new Date("2026-01-01T00:00:00.123Z");
  const { token, expiresIn } = await svc.issue({ id: 7, organizationId: 3, passwordChangedAt: changed });
  assert.equal(expiresIn, 300);
  const c = await svc.verify(token);
  assert.deepEqual([c.userId, c.organizationId, c.passwordVersion], [7, 3, changed.getTime()]);
  assert.equal(c.expiresAt - c.issuedAt, 300);
  // The synchronous lookup of the hot path: the same claims, until they expire.
  assert.equal(svc.cached(token), c);
  assert.equal(svc.cached(token, (c.expiresAt + 1) * 1000), undefined);
  assert.equal(svc.cached("never.verified.token"), undefined);
  // The cached entry still honours expiry.
  await assert.rejects(() => svc.verify(token, (c.expiresAt + 1) * 1000), InvalidTokenError);
});

for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
  Deno.test(`tokens: ${alg} with keys from the environment; HS256 tokens are refused`, async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const env = { ALGORITHM: alg, JWT_PRIVATE_KEY: await exportPKCS8(privateKey) };
    const withPublic = { ...env, JWT_PUBLIC_KEY: await exportSPKI(publicKey) };
    for (const e of [env, withPublic]) {
      const svc = await TokenService.create(testConfig(e));
      const { token } = await svc.issue({ id: 1, organizationId: null, passwordChangedAt: new Date() });
      assert.equal(JSON.parse(atob(token.split(".")[0].replaceAll("-", "+").replaceAll("_", "/"))).alg, alg);
      assert.equal((await svc.verify(token)).userId, 1);
      const hs = await claims(1, null, 0).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
        .setExpirationTime("5m")
        .sign(enc);
      await assert.rejects(() => svc.verify(hs), InvalidTokenError);
    }
  });
}

Deno.test("tokens: a bad key names the variable", async () => {
  await assert.rejects(
    () => TokenService.create(testConfig({ ALGORITHM: "EdDSA", JWT_PRIVATE_KEY: "not a pem" })),
    /JWT_PRIVATE_KEY/,
  );
});
