/**
 * JWKS: a gateway verifies Seedbed's tokens with only `/.well-known/jwks.json` (jose's remote JWKS over
 * real HTTP); a rotation keeps the previous key published and accepted; unknown kids are refused.
 */
import assert from "node:assert/strict";
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from "jose";
import { dbTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { TokenService } from "../../src/auth/tokens.ts";
import { testConfig } from "../helpers/app.ts";

function serve(app: { fetch: (r: Request) => Response | Promise<Response> }) {
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, app.fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

dbTest("JWKS: a gateway verifies a token with the JWKS URL alone, across a key rotation", async (db) => {
  await createWorld(db);
  const first = await generateKeyPair("ES256", { extractable: true });
  const second = await generateKeyPair("ES256", { extractable: true });
  const before = await testApp(db, {
    env: { ALGORITHM: "ES256", JWT_PRIVATE_KEY: await exportPKCS8(first.privateKey) },
  });
  const oldToken = await login(before.app, "admin@acme.test");
  const oldKid = decodeProtectedHeader(oldToken).kid;
  assert.ok(oldKid, "tokens carry a kid");

  let server = await serve(before.app);
  try {
    const res = await fetch(`${server.url}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("cache-control")!, /max-age/);
    const doc = await res.json();
    assert.equal(doc.keys.length, 1);
    assert.equal(doc.keys[0].kid, oldKid);
    assert.equal(doc.keys[0].d, undefined, "no private part");
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(oldToken, jwks, { issuer: "seedbed", audience: "seedbed-api" });
    assert.equal(
      payload.sub,
      String((await json(await before.app.request("/api/v1/auth/me", { headers: bearer(oldToken) }))).id),
    );
  } finally {
    await server.close();
  }

  // Rotation: the new key signs, the previous one stays published and accepted.
  const after = await testApp(db, {
    env: {
      ALGORITHM: "ES256",
      JWT_PRIVATE_KEY: await exportPKCS8(second.privateKey),
      JWT_KEY_ID: "2026-12",
      JWT_PREVIOUS_PUBLIC_KEYS: await exportSPKI(first.publicKey),
    },
  });
  const newToken = await login(after.app, "admin@acme.test");
  assert.equal(decodeProtectedHeader(newToken).kid, "2026-12");
  server = await serve(after.app);
  try {
    const doc = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
    assert.deepEqual(doc.keys.map((k: { kid: string }) => k.kid), ["2026-12", oldKid]);
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    for (const t of [oldToken, newToken]) {
      await jwtVerify(t, jwks, { issuer: "seedbed", audience: "seedbed-api" });
    }
  } finally {
    await server.close();
  }
  // Seedbed itself accepts both, and refuses a token naming a kid it does not publish.
  for (const t of [oldToken, newToken]) {
    assert.equal((await after.app.request("/api/v1/auth/me", { headers: bearer(t) })).status, 200);
  }
  const forged = await new SignJWT({ org: null, pwv: 0 })
    .setProtectedHeader({ alg: "ES256", kid: "unknown" })
    .setSubject("1").setIssuer("seedbed").setAudience("seedbed-api").setIssuedAt().setExpirationTime("5m")
    .sign(second.privateKey);
  assert.equal((await after.app.request("/api/v1/auth/me", { headers: bearer(forged) })).status, 401);
  // Without the previous key (rotation finished), old tokens are refused.
  const done = await testApp(db, {
    env: { ALGORITHM: "ES256", JWT_PRIVATE_KEY: await exportPKCS8(second.privateKey) },
  });
  assert.equal((await done.app.request("/api/v1/auth/me", { headers: bearer(oldToken) })).status, 401);
}, { only: ["libsql"] });

dbTest("JWKS: with an HMAC algorithm there is nothing to publish (404 saying why)", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/.well-known/jwks.json");
  assert.equal(res.status, 404);
  assert.match((await json(res)).detail as string, /HS256.*no public key/);
}, { only: ["libsql"] });

Deno.test("JWKS: a bad previous key is named at startup", async () => {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const env = { ALGORITHM: "ES256", JWT_PRIVATE_KEY: await exportPKCS8(privateKey) };
  await assert.rejects(
    TokenService.create(testConfig({ ...env, JWT_PREVIOUS_PUBLIC_KEYS: "nope" })),
    /JWT_PREVIOUS_PUBLIC_KEYS: no SPKI PEM block/,
  );
  const rsa = await generateKeyPair("RS256", { extractable: true });
  await assert.rejects(
    TokenService.create(testConfig({ ...env, JWT_PREVIOUS_PUBLIC_KEYS: await exportSPKI(rsa.publicKey) })),
    /JWT_PREVIOUS_PUBLIC_KEYS: key 1 is not an SPKI PEM ES256 public key/,
  );
});
