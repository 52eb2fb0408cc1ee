/**
 * What a restore never rolls back (src/backups/credentials.ts, docs/backups.md): a service key revoked after
 * a backup stays revoked after restoring that backup — also through a reset, a restore of an older backup,
 * and a database rebuilt from the bucket alone — while the keys that were live in the backup work again; and a
 * password retired after a backup never logs in again once that backup is restored (credential floors).
 * Real S3 (s3rver), both dialects, through the HTTP API.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { eq } from "drizzle-orm";
import { reapplyCredentialFloors } from "../../src/backups/credentials.ts";
import { json } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { login, PASSWORD } from "../helpers/fixtures.ts";
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

/** The status of a login with `password` (200 or 401). */
async function logsIn(t: Setup, email: string, password: string): Promise<number> {
  const res = await t.app.request("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  await res.body?.cancel();
  return res.status;
}

/** `email` changes his own password (POST /api/v1/auth/password/change). */
async function changeOwn(t: Setup, email: string, current: string, next: string): Promise<void> {
  const res = await t.call("POST", "/api/v1/auth/password/change", await login(t.app, email, current), {
    current_password: current,
    new_password: next,
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
}

async function userRow(t: Setup, email: string) {
  const [u] = await t.deps.db.db.select().from(t.deps.db.t.users).where(eq(t.deps.db.t.users.email, email));
  return u;
}

const READER = "reader@backup.test";
const RESET_ONE = "admin@backup.test";
const DELETED = "nobody@backup.test";
const P1 = "Rotated-Kettle-4821";
const P2 = "Second-Rotation-7305";
const RESET = "Operator-Reset-9127x";
const OWN_PICK = "Admins-Own-Pick-5560";

dbTest(
  "restore: a password retired after the backup never logs in again (restore, reset, older backup)",
  async (db) => {
    const t = await setup(db);
    try {
      const b0 = await backup(t); // every user: PASSWORD
      // The reader's password leaked: he changes it. An admin resets another user's. A third changes his own,
      // then is deleted.
      await changeOwn(t, READER, PASSWORD, P1);
      assert.equal(await logsIn(t, READER, PASSWORD), 401);
      const resetOne = await userRow(t, RESET_ONE);
      const reset = await t.call("PATCH", `/api/v1/users/${resetOne.id}`, await root(t), { password: RESET });
      assert.equal(reset.status, 200, await reset.clone().text());
      await changeOwn(t, DELETED, PASSWORD, OWN_PICK);
      const deleted = await userRow(t, DELETED);
      const del = await t.call("DELETE", `/api/v1/users/${deleted.id}`, await root(t));
      assert.equal(del.status, 204, await del.clone().text());

      // Restoring the backup through the API: the data comes back, the retired passwords do not.
      const res = await t.call("POST", "/api/v1/seeders/restore", await root(t), { s3_key: b0 });
      assert.equal(res.status, 200, await res.clone().text());
      const outcome = await json<{ security_changes_since_backup: { events: { event: string }[] } }>(res);
      assert.ok(
        !outcome.security_changes_since_backup.events.some((e) => e.event === "auth.password_changed"),
      );
      assert.equal(await logsIn(t, READER, PASSWORD), 401, "a restore brought back a retired password");
      assert.equal(await logsIn(t, READER, P1), 200);
      assert.equal(await logsIn(t, RESET_ONE, PASSWORD), 401, "a restore undid an admin's password reset");
      assert.equal(await logsIn(t, RESET_ONE, RESET), 200);
      assert.equal(
        (await userRow(t, RESET_ONE)).mustChangePassword,
        true,
        "the reset's must_change_password",
      );
      assert.equal((await userRow(t, READER)).mustChangePassword, false);
      // The deleted user is back (the restore undoes the deletion) with his latest password.
      assert.equal((await userRow(t, DELETED))?.id, deleted.id);
      assert.equal(await logsIn(t, DELETED, OWN_PICK), 200);
      assert.ok(t.logger.records.some((r) => r.event === "restore_passwords_kept"));

      // A later backup, a later change; then a reset (users wiped, ids numbered from 1 again, the seeders'
      // passwords recorded) and a restore of the older backup, then of the later one: the floor outlives all.
      const b1 = await backup(t); // reader: P1
      await changeOwn(t, READER, P1, P2);
      const wipe = await t.call("POST", "/api/v1/seeders/reset", await root(t), {});
      assert.equal(wipe.status, 200, await wipe.clone().text());
      await restore(t, b0);
      assert.equal(await logsIn(t, READER, PASSWORD), 401, "reset + restore brought back a retired password");
      assert.equal(await logsIn(t, READER, P2), 200);
      assert.equal(await logsIn(t, RESET_ONE, RESET), 200);
      await restore(t, b1);
      assert.equal(await logsIn(t, READER, P1), 401, "reset + restore brought back a retired password");
      assert.equal(await logsIn(t, READER, P2), 200);
      // A user the backup holds and who never changed his password logs in as in the backup.
      assert.equal(await logsIn(t, "root@backup.test", PASSWORD), 200);
    } finally {
      await t.s3.close();
    }
  },
);

dbTest(
  "restore: onto an empty floor (database rebuilt from the bucket) the backup's passwords come back as they were",
  async (db) => {
    const t = await setup(db);
    try {
      const b0 = await backup(t); // reader: PASSWORD
      await changeOwn(t, READER, PASSWORD, P1);
      const b1 = await backup(t); // reader: P1
      // A fresh database knows no floor: the backup's password is the one that works, as before floors.
      await db.db.delete(db.t.credentialFloors);
      await restore(t, b0);
      assert.equal(await logsIn(t, READER, PASSWORD), 200);
      assert.equal(await logsIn(t, READER, P1), 401);
      // Restoring records the floor of the users it loaded: a later restore of an older backup keeps them.
      await db.db.delete(db.t.credentialFloors);
      await restore(t, b1);
      await restore(t, b0);
      assert.equal(await logsIn(t, READER, P1), 200);
      assert.equal(
        await logsIn(t, READER, PASSWORD),
        401,
        "restoring an older backup rolled a password back",
      );
    } finally {
      await t.s3.close();
    }
  },
);

dbTest(
  "restore: undoing a reset gives the super admin his own password back, never the one the reset seeded",
  async (db) => {
    const t = await setup(db);
    try {
      // A reset seeds admin@foodfleet.com (id 1 again) with the published development password; he changes it.
      const SEEDED = "admin@foodfleet.com";
      let res = await t.call("POST", "/api/v1/seeders/reset", await root(t), {});
      assert.equal(res.status, 200, await res.clone().text());
      await changeOwn(t, SEEDED, "SuperAdmin@123", P1);
      // A second reset (by mistake) seeds him again with the published password, and is undone by restoring
      // the backup it took: the seeded account (same id and e-mail, newer password_changed_at) was a creation,
      // not a change, so his own password comes back, not the published one.
      res = await t.call("POST", "/api/v1/seeders/reset", await login(t.app, SEEDED, P1), {});
      assert.equal(res.status, 200, await res.clone().text());
      const reset = await json<{ execution_id: number }>(res);
      assert.equal(await logsIn(t, SEEDED, "SuperAdmin@123"), 200);
      const undo = await t.call(
        "POST",
        "/api/v1/seeders/restore",
        await login(t.app, SEEDED, "SuperAdmin@123"),
        {
          execution_id: reset.execution_id,
        },
      );
      assert.equal(undo.status, 200, await undo.clone().text());
      assert.equal(await logsIn(t, SEEDED, P1), 200);
      assert.equal(
        await logsIn(t, SEEDED, "SuperAdmin@123"),
        401,
        "undoing a reset restored a seeded password",
      );
    } finally {
      await t.s3.close();
    }
  },
);

dbTest(
  "restore floors (property): a restored user takes the floor of his own id and e-mail when it is newer, never another's",
  async (db) => {
    const t = db.t;
    const emails = ["a@p.test", "b@p.test", "c@p.test"];
    const user = fc.record({
      id: fc.integer({ min: 1, max: 4 }),
      email: fc.constantFrom(...emails),
      at: fc.integer({ min: 0, max: 5 }),
      must: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(user, { selector: (u) => u.id, maxLength: 4 })
          .filter((us) => new Set(us.map((u) => u.email)).size === us.length),
        fc.uniqueArray(user, { selector: (f) => `${f.id}/${f.email}`, maxLength: 8 }),
        async (users, floors) => {
          await db.db.delete(t.users);
          await db.db.delete(t.credentialFloors);
          const when = (n: number) => new Date(Date.UTC(2026, 0, 1 + n));
          if (users.length) {
            await db.db.insert(t.users).values(users.map((u) => ({
              id: u.id,
              email: u.email,
              passwordHash: `restored-${u.id}`,
              role: "executive",
              passwordChangedAt: when(u.at),
              mustChangePassword: u.must,
            })));
          }
          if (floors.length) {
            await db.db.insert(t.credentialFloors).values(floors.map((f) => ({
              userId: f.id,
              email: f.email,
              passwordHash: `floor-${f.id}-${f.email}`,
              passwordChangedAt: when(f.at),
              mustChangePassword: f.must,
            })));
          }
          const kept = await db.transaction((tx) => reapplyCredentialFloors(db, tx));
          const after = await db.db.select().from(t.users);
          for (const u of users) {
            const row = after.find((r) => r.id === u.id)!;
            const floor = floors.find((f) => f.id === u.id && f.email === u.email);
            if (floor && floor.at > u.at) {
              assert.equal(row.passwordHash, `floor-${u.id}-${u.email}`);
              assert.equal(row.passwordChangedAt.getTime(), when(floor.at).getTime());
              assert.equal(row.mustChangePassword, floor.must);
              assert.ok(kept.includes(u.id));
            } else {
              assert.equal(row.passwordHash, `restored-${u.id}`, "a floor of another id or e-mail, or older");
              assert.equal(row.passwordChangedAt.getTime(), when(u.at).getTime());
              assert.ok(!kept.includes(u.id));
            }
          }
          // Every restored user now has a floor; the existing floors are unchanged.
          const rows = await db.db.select().from(t.credentialFloors);
          for (const u of users) assert.ok(rows.some((r) => r.userId === u.id && r.email === u.email));
          for (const f of floors) {
            const r = rows.find((r) => r.userId === f.id && r.email === f.email)!;
            assert.equal(r.passwordHash, `floor-${f.id}-${f.email}`);
          }
        },
      ),
      { numRuns: 60 },
    );
  },
);
