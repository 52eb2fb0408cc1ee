/**
 * What a restore never rolls back (src/backups/credentials.ts, docs/backups.md): a service key revoked after
 * a backup stays revoked after restoring that backup — also through a reset, a restore of an older backup,
 * and a database rebuilt from the bucket alone — while the keys that were live in the backup work again.
 * Real S3 (s3rver), both dialects.
 */
import assert from "node:assert/strict";
import { eq } from "drizzle-orm";
import { json } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { login } from "../helpers/fixtures.ts";
import { setup } from "./http.ts";

type Setup = Awaited<ReturnType<typeof setup>>;
const root = (t: Setup) => login(t.app, "root@backup.test");

async function createKey(t: Setup, name: string): Promise<{ id: number; key: string }> {
  const res = await t.call("POST", "/api/v1/service-keys", await root(t), {
    name,
    scopes: ["access.evaluate"],
  });
  assert.equal(res.status, 201, await res.clone().text());
  return await json<{ id: number; key: string }>(res);
}

/** True when the key authenticates (the check AuthZEN and forward-auth make). */
async function works(t: Setup, secret: string): Promise<boolean> {
  try {
    await t.deps.serviceKeys.authenticate(secret, "access.evaluate");
    return true;
  } catch (err) {
    assert.equal((err as { code?: string }).code, "UNAUTHORIZED");
    return false;
  }
}

async function backup(t: Setup): Promise<string> {
  const res = await t.call("POST", "/api/v1/backups", await root(t), {});
  assert.equal(res.status, 201, await res.clone().text());
  return (await json<{ s3_key: string }>(res)).s3_key;
}

/** Restores `s3Key` (the module itself: after a reset, the test's super admin no longer exists). */
async function restore(t: Setup, s3Key: string) {
  await t.deps.backups.restore({ s3Key, triggeredBy: "test", allowShrink: true });
}

dbTest(
  "restore: a service key revoked after the backup stays revoked (restore, reset, older backup)",
  async (db) => {
    const t = await setup(db);
    try {
      const old = await createKey(t, "gateway-old");
      const b0 = await backup(t); // holds "gateway-old" live
      const gone = await createKey(t, "gateway-leaked");
      const kept = await createKey(t, "gateway-kept");
      const b1 = await backup(t); // holds all three live
      assert.ok(await works(t, gone.key) && await works(t, kept.key) && await works(t, old.key));

      // The leaked key is revoked after the backup ...
      const rv = await t.call("DELETE", `/api/v1/service-keys/${gone.id}`, await root(t));
      assert.equal(rv.status, 200, await rv.clone().text());
      assert.equal(await works(t, gone.key), false);

      // An account change after the backup (audited) is rolled back by the restore: the plan warns, the
      // response lists it.
      const [reader] = await db.db.select().from(db.t.users).where(
        eq(db.t.users.email, "reader@backup.test"),
      );
      const off = await t.call("PATCH", `/api/v1/users/${reader.id}`, await root(t), { is_active: false });
      assert.equal(off.status, 200, await off.clone().text());
      const plan = await json<{ warnings: string[] }>(
        await t.call("POST", "/api/v1/seeders/restore", await root(t), { s3_key: b1, dry_run: true }),
      );
      assert.ok(
        plan.warnings.some((w) => /^1 account or access change.*user\.deactivated ×1/.test(w)),
        plan.warnings.join("\n"),
      );

      // ... and restoring that backup does not bring the revoked key back; the others work as they did.
      const res = await t.call("POST", "/api/v1/seeders/restore", await root(t), { s3_key: b1 });
      assert.equal(res.status, 200, await res.clone().text());
      const outcome = await json<
        { security_changes_since_backup: { total: number; events: { event: string; target: string }[] } }
      >(res);
      assert.equal(outcome.security_changes_since_backup.total, 1);
      assert.deepEqual(
        outcome.security_changes_since_backup.events.map((e) => [e.event, e.target]),
        [["user.deactivated", `user:${reader.id}`]],
      );
      assert.equal(await works(t, gone.key), false, "a restore revived a revoked service key");
      assert.equal(await works(t, kept.key), true);
      assert.equal(await works(t, old.key), true);
      const listed = await json<{ id: number; revoked_at: string | null }[]>(
        await t.call("GET", "/api/v1/service-keys", await root(t)),
      );
      assert.ok(listed.find((k) => k.id === gone.id)?.revoked_at, "the list shows the key revoked");
      assert.ok(t.logger.records.some((r) => r.event === "restore_revocations_kept"));

      // A reset wipes the keys (application data), and an older backup has no trace of the revocation: the
      // ledger outlives both.
      const reset = await t.call("POST", "/api/v1/seeders/reset", await root(t), {});
      assert.equal(reset.status, 200, await reset.clone().text());
      await restore(t, b0);
      await restore(t, b1);
      assert.equal(await works(t, gone.key), false, "reset + restore revived a revoked service key");
      assert.equal(await works(t, kept.key), true);

      // A key revoked in the backup itself stays revoked after restoring an older backup in which it was live,
      // even when the ledger did not know it (a database rebuilt from the bucket starts with an empty ledger).
      assert.equal((await t.call("DELETE", `/api/v1/service-keys/${old.id}`, await root(t))).status, 200);
      const b2 = await backup(t);
      await db.db.delete(db.t.serviceKeyRevocations);
      await restore(t, b2);
      await restore(t, b0);
      assert.equal(await works(t, old.key), false, "restoring an older backup revived a key revoked later");
    } finally {
      await t.s3.close();
    }
  },
);
