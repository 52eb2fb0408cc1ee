/**
 * The store contract (Lucia's adapter tests' shape): what the single-dialect tests (`singleDialectTest`:
 * HTTP input, tokens, service keys, the OpenAPI document) stand on in the database, run on both dialects.
 * Tokens and their revocations, the login path's reads and writes, service keys: each store's writes are read
 * back the way the services read them. Must never shrink below what those tests use. Story: docs/testing.md.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { createWorld, PASSWORD } from "../helpers/fixtures.ts";
import {
  bumpTokenEpoch,
  loadAllRevocations,
  loadTokenState,
  readTokenEpoch,
  readVersions,
  revokeAllTokens,
  revokeToken,
} from "../../src/auth/revocation.ts";
import { AppError } from "../../src/errors.ts";
import { waitFor } from "../faults/helpers.ts";

const meta = { address: "192.0.2.7", requestId: "contract" };

dbTest(
  "store contract: token revocations — the epoch, one token, all of a user's, the versions",
  async (db) => {
    const w = await createWorld(db);
    assert.equal(await readTokenEpoch(db), 0);
    const v0 = await readVersions(db);
    await db.transaction((tx) => bumpTokenEpoch(db, tx));
    await db.transaction((tx) => bumpTokenEpoch(db, tx));
    assert.equal(await readTokenEpoch(db), 2);
    assert.ok((await readVersions(db)).version > v0.version, "an epoch bump is a security change");

    // From here every write is a revocation: the access version moves by exactly the revocation count (a
    // replica that sees both move alike re-reads token states only, and keeps its snapshots).
    const v1 = await readVersions(db);
    const hour = new Date(Date.now() + 3_600_000);
    await revokeToken(db, { userId: w.admin.id, jti: "jti-1", expiresAt: hour });
    await revokeToken(db, { userId: w.manager.id, jti: "jti-2", expiresAt: hour });
    const admin = await loadTokenState(db, w.admin.id);
    assert.deepEqual([...admin.revoked], ["jti-1"]);
    assert.equal(admin.revokedBefore, 0);
    assert.equal(admin.epoch, 2);
    assert.equal((await readVersions(db)).revocations, v0.revocations + 2);

    await revokeAllTokens(db, w.admin.id);
    const after = await loadTokenState(db, w.admin.id);
    assert.ok(after.revokedBefore > 0, "a revoke-all row refuses every older token");
    const all = await loadAllRevocations(db);
    assert.deepEqual([...all.keys()].sort((a, b) => a - b), [w.admin.id, w.manager.id].sort((a, b) => a - b));
    assert.equal(all.get(w.admin.id)!.revokedBefore, after.revokedBefore);
    assert.deepEqual([...all.get(w.manager.id)!.revoked], ["jti-2"]);
    assert.equal((await loadTokenState(db, w.executive.id)).revoked.size, 0, "others keep none");

    // A revocation whose token has expired refuses nothing: not read, and purged by the next write.
    await revokeToken(db, { userId: w.executive.id, jti: "old", expiresAt: new Date(Date.now() - 1000) });
    assert.equal((await loadTokenState(db, w.executive.id)).revoked.size, 0);
    await revokeToken(db, { userId: w.executive.id, jti: "new", expiresAt: hour });
    const rows = await db.db.select().from(db.t.tokenRevocations).where(
      eq(db.t.tokenRevocations.userId, w.executive.id),
    );
    assert.deepEqual(rows.map((r) => r.jti), ["new"]);
    const v2 = await readVersions(db);
    assert.equal(v2.revocations - v1.revocations, 5);
    assert.equal(v2.version - v1.version, v2.revocations - v1.revocations, "a revocation moves nothing else");
  },
);

dbTest(
  "store contract: login — the user by e-mail, its organization, last login, logout, a password change",
  async (db) => {
    const w = await createWorld(db);
    const { deps } = await testApp(db);
    const users = db.t.users;
    const audit = async (event: string) =>
      (await db.db.select().from(db.t.auditLogs).where(eq(db.t.auditLogs.event, event))).length;

    const failed = await deps.auth.login("ADMIN@acme.test ", "wrong", meta).then(() => null, (e) => e);
    assert.ok(failed instanceof AppError && failed.status === 401);
    assert.equal(await audit("auth.login_failed"), 1);

    const ok = await deps.auth.login(" Admin@Acme.test", PASSWORD, meta);
    const [row] = await db.db.select().from(users).where(eq(users.id, w.admin.id));
    assert.ok(row.lastLoginAt instanceof Date, "last login written");
    const claims = await deps.access.claims(`Bearer ${ok.access_token}`);
    assert.equal(claims.userId, w.admin.id);
    assert.equal(await audit("auth.login_succeeded"), 1);

    await deps.auth.logout(claims, false, meta);
    assert.ok((await loadTokenState(db, w.admin.id)).revoked.has(claims.jti!), "logout revokes its token");

    // A deactivated organization: the same 401, read from the organizations table.
    await db.db.update(db.t.organizations).set({ isActive: false }).where(
      eq(db.t.organizations.id, w.globex.id),
    );
    const closed = await deps.auth.login("admin@globex.test", PASSWORD, meta).then(() => null, (e) => e);
    assert.ok(closed instanceof AppError && closed.status === 401);

    // A password change: one transaction writes the hash, the change time and the credential floor.
    const manager = await deps.access.user(w.manager.id);
    assert.ok(manager, "the access loader reads the user");
    const changed = await deps.auth.changePassword(manager, PASSWORD, "An0ther-Passw0rd!x", meta);
    assert.ok(changed.access_token);
    const [m] = await db.db.select().from(users).where(eq(users.id, w.manager.id));
    assert.notEqual(m.passwordHash, w.manager.passwordHash);
    assert.ok(m.passwordChangedAt.getTime() > w.manager.passwordChangedAt.getTime());
    const floors = await db.db.select().from(db.t.credentialFloors).where(
      eq(db.t.credentialFloors.userId, w.manager.id),
    );
    assert.equal(floors.length, 1, "the credential floor of the change");
    assert.equal(await audit("auth.password_changed"), 1);
  },
);

dbTest(
  "store contract: service keys — create, authenticate, list, get, revoke; a revoked key is refused",
  async (db) => {
    const w = await createWorld(db);
    const { deps } = await testApp(db);
    const admin = { id: w.admin.id, kind: "admin", organizationId: w.acme.id };
    const keys = deps.serviceKeys;
    const a = await keys.create(admin, w.acme.id, {
      name: "gateway",
      scopes: ["forward-auth", "access.evaluate"],
    });
    const b = await keys.create(admin, w.acme.id, {
      name: "later",
      scopes: ["access.evaluate"],
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    assert.deepEqual(a.key.scopes, ["access.evaluate", "forward-auth"]);
    assert.equal((await keys.authenticate(a.secret, "forward-auth")).id, a.key.id);
    assert.deepEqual((await keys.list(admin, w.acme.id)).map((k) => k.name), ["later", "gateway"]);
    assert.equal((await keys.list({ ...admin, id: w.superAdmin.id, kind: "super_admin" }, null)).length, 0);
    assert.equal(
      (await keys.get(admin, w.acme.id, b.key.id)).expiresAt?.getTime(),
      b.key.expiresAt?.getTime(),
    );
    // A second replica (its own key cache) that has already let the key in.
    const other = (await testApp(db)).deps.serviceKeys;
    assert.equal((await other.authenticate(a.secret, "forward-auth")).id, a.key.id);
    const revoked = await keys.revoke(admin, w.acme.id, a.key.id);
    assert.ok(revoked.revokedAt instanceof Date);
    await assert.rejects(
      keys.authenticate(a.secret, "forward-auth"),
      (e) => e instanceof AppError && e.status === 401,
    );
    await assert.rejects(
      other.authenticate(a.secret, "forward-auth"),
      (e) => e instanceof AppError && e.status === 401,
      "the revocation reaches the other replica through the database, not its cache",
    );
    assert.equal((await keys.authenticate(b.secret, "access.evaluate")).id, b.key.id);
    // Last use is written beside the request, not in it: it lands, for both keys (and the test leaves no write
    // in flight behind it).
    await waitFor("last use written for every key used", async () => {
      const rows = await db.db.select({ at: db.t.serviceKeys.lastUsedAt }).from(db.t.serviceKeys);
      return rows.every((r) => r.at instanceof Date) ? true : undefined;
    }, { timeoutMs: 5_000, everyMs: 10 });
    const events = await db.db.select().from(db.t.auditLogs).where(
      eq(db.t.auditLogs.organizationId, w.acme.id),
    );
    assert.deepEqual(
      events.map((e) => e.event).filter((e) => e.startsWith("service_key.")).sort(),
      ["service_key.created", "service_key.created", "service_key.revoked"],
    );
  },
);
