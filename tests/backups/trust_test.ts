/**
 * Issue 12, finding 2 and signed manifests: an object outside the catalog is
 * trusted only through a valid signed manifest by a key the server holds;
 * a forged object (a real backup plus a super admin) is refused whatever its
 * metadata says, unless the operator imports it as untrusted (audited);
 * key rotation keeps old backups verifiable. Finding 5: "latest" on a fresh
 * database falls back to the newest signed backup in the bucket.
 */
import assert from "node:assert/strict";
import { AppError } from "../../src/errors.ts";
import { BackupService } from "../../src/backups/backup_service.ts";
import { Keyring, signedManifestKey } from "../../src/backups/signing.ts";
import { memoryLogger } from "../../src/log.ts";
import { json } from "../helpers/app.ts";
import { login as logIn } from "../helpers/fixtures.ts";
import { dbTest, openTestDatabase } from "../helpers/db.ts";
import { startTestS3 } from "../helpers/s3.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";
import { download, downloadText, gzip, plant } from "./helpers.ts";
import { setup } from "./http.ts";

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

/** The backup's text with one more user: a platform super admin `email` with the root's password hash. */
function withInjectedAdmin(text: string, email: string): string {
  const lines = text.split("\n");
  const rootLine = lines.find((l) => l.includes('"email":"root@backup.test"'))!;
  const usersAt = lines.indexOf('"users":[');
  const evil = rootLine.replace(/,$/, "").replace(/^\{"id":\d+/, '{"id":4242').replace(
    '"email":"root@backup.test"',
    `"email":"${email}"`,
  ).replace(/"username":(null|"[^"]*")/, '"username":null');
  lines.splice(usersAt + 1, 0, evil + ",");
  const m = lines.findIndex((l) => l.startsWith('"_manifest":'));
  const manifest = JSON.parse(lines[m].slice('"_manifest":'.length));
  manifest.row_counts.users++;
  manifest.total_rows++;
  lines[m] = `"_manifest":${JSON.stringify(manifest)}`;
  return lines.join("\n");
}

dbTest(
  "forged uncatalogued backup with matching metadata: refused; the injected admin cannot log in",
  async (db) => {
    const t = await setup(db);
    try {
      await insertSampleData(db);
      const good = await t.deps.backups.create({ kind: "manual", createdBy: "test" });
      const forged = gzip(withInjectedAdmin(await downloadText(t.s3, good.s3Key), "evil@attacker.test"));
      const before = await snapshot(db);
      const restore = (body: Record<string, unknown>) =>
        t.call("POST", "/api/v1/seeders/restore", t.tokens.root, body);
      const detail = async (res: Response) => (await json<{ detail: string }>(res)).detail;

      // 1. The security test's attack: self-declared sha256 and size metadata.
      const key = "database-backups/20991231_235959_manual_999.json.gz";
      await plant(t.s3, key, forged);
      const r1 = await restore({ s3_key: key });
      assert.equal(r1.status, 422);
      assert.match(await detail(r1), /not in the catalog and cannot be trusted: it has no signed manifest/);

      // 2. The genuine signed manifest copied next to it: signed for another object.
      const genuine = (await download(t.s3, signedManifestKey(good.s3Key))).bytes;
      await t.s3.store.putBytes(signedManifestKey(key), genuine, "application/json");
      const r2 = await restore({ s3_key: key });
      assert.equal(r2.status, 422);
      assert.match(await detail(r2), /signed for another object/);

      // 3. The signed manifest edited to name the forged object and its checksum: the signature breaks.
      const edited = JSON.parse(new TextDecoder().decode(genuine));
      edited.s3_key = key;
      edited.sha256 = (await import("./helpers.ts")).sha256(forged);
      edited.size_bytes = forged.length;
      await t.s3.store.putBytes(
        signedManifestKey(key),
        new TextEncoder().encode(JSON.stringify(edited)),
        "x/y",
      );
      const r3 = await restore({ s3_key: key });
      assert.equal(r3.status, 422);
      assert.match(await detail(r3), /does not match its signature .*changed after signing/);

      // 4. Signed with a key this server does not hold.
      const other = new Keyring(new TextEncoder().encode("another-server-key-0123456789-0123456789"));
      const { signature: _s, key_id: _k, ...body } = edited;
      const foreign = other.sign(body);
      await t.s3.store.putBytes(
        signedManifestKey(key),
        new TextEncoder().encode(JSON.stringify(foreign)),
        "x/y",
      );
      const r4 = await restore({ s3_key: key });
      assert.equal(r4.status, 422);
      assert.match(
        await detail(r4),
        new RegExp(`signed with key ${foreign.key_id}, which this server does not hold`),
      );

      // Nothing changed, and the injected account does not exist.
      assert.deepEqual(await snapshot(db), before);
      const login = await t.app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "evil@attacker.test", password: "Fixture-Passw0rd!" }),
      });
      assert.equal(login.status, 401);

      // 5. The operator's explicit import as untrusted: restored, audited, checked row by row.
      const imported = await restore({ s3_key: key, trust: "untrusted" });
      assert.equal(imported.status, 200, await imported.clone().text());
      assert.equal((await json<{ trust: string }>(imported)).trust, "untrusted");
      const audit = await db.db.select().from(db.t.auditLogs);
      const entry = audit.find((a) =>
        a.event === "seeders.restore" && (a.details as { trust?: string }).trust
      );
      assert.equal((entry?.details as { trust: string }).trust, "untrusted");
      assert.ok(t.logger.records.some((r) => r.event === "backup_untrusted_import" && r.s3_key === key));
      // Still verified row by row: a bad row in an untrusted object is refused.
      await plant(
        t.s3,
        "database-backups/bad_row.json.gz",
        gzip(
          withInjectedAdmin(await downloadText(t.s3, good.s3Key), "x").replace(
            '"is_active":true',
            '"is_active":"yes"',
          ),
        ),
      );
      // (A restore revokes the tokens issued before it: log in again.)
      const again = await logIn(t.app, "root@backup.test");
      const bad = await t.call("POST", "/api/v1/seeders/restore", again, {
        s3_key: "database-backups/bad_row.json.gz",
        trust: "untrusted",
      });
      assert.equal(bad.status, 422);
      assert.match(await detail(bad), /"is_active" is not true or false/);
    } finally {
      await t.s3.close();
    }
  },
);

dbTest(
  "signed backup outside the catalog: restored on a fresh database; key rotation keeps it verifiable",
  async (db, ctx) => {
    const s3 = await startTestS3();
    const fresh = await openTestDatabase(ctx.dialect);
    try {
      const k1 = Keyring.fromConfig(
        { signingKeysPrevious: [], signingSecretGenerated: false },
        "first-secret-key-0123456789-0123456789",
      );
      const k2 = Keyring.fromConfig(
        {
          signingKey: "second-signing-key-0123456789-0123456789",
          signingKeysPrevious: [],
          signingSecretGenerated: false,
        },
        "first-secret-key-0123456789-0123456789",
      );
      const k3 = Keyring.fromConfig(
        {
          signingKey: "third-signing-key-0123456789-0123456789",
          signingKeysPrevious: [],
          signingSecretGenerated: false,
        },
        "rotated-secret-0123456789-0123456789",
      );
      const k3WithOld = Keyring.fromConfig(
        {
          signingKey: "third-signing-key-0123456789-0123456789",
          signingKeysPrevious: ["first-secret-key-0123456789-0123456789"],
          signingSecretGenerated: false,
        },
        "rotated-secret-0123456789-0123456789",
      );
      const svc = (d: typeof db, keyring: Keyring) =>
        new BackupService({ db: d, store: s3.store, logger: memoryLogger(), retention: {}, keyring });
      await insertSampleData(db);
      const original = await snapshot(db);
      const b = await svc(db, k1).create({ kind: "manual", createdBy: "test" });

      // k2 = a new BACKUP_SIGNING_KEY while SECRET_KEY is unchanged: the derived key is still accepted.
      const report = await svc(fresh.db, k2).verify({ key: b.s3Key });
      assert.equal(report.checked_against, "signature");
      assert.equal(report.signed_by, k1.current.id);
      // k3: both rotated, the old key not listed → refused, naming the key id and the fix.
      const e = await refusal(svc(fresh.db, k3).restore({ s3Key: b.s3Key, triggeredBy: "t" }));
      assert.equal(e.code, "BACKUP_INVALID");
      assert.match(e.message, new RegExp(`signed with key ${k1.current.id}.*BACKUP_SIGNING_KEYS_PREVIOUS`));
      // The old SECRET_KEY listed as previous: restored.
      const r = await svc(fresh.db, k3WithOld).restore({ s3Key: b.s3Key, triggeredBy: "t" });
      assert.equal(r.trust, "signature");
      assert.deepEqual(await snapshot(fresh.db), original);
      assert.equal((await svc(fresh.db, k3WithOld).catalog.byKey(b.s3Key))?.kind, "imported");
    } finally {
      await fresh.dispose();
      await s3.close();
    }
  },
);

dbTest(
  "disaster recovery: on a fresh database, latest is the newest signed backup in the bucket",
  async (db, ctx) => {
    const s3 = await startTestS3();
    const fresh = await openTestDatabase(ctx.dialect);
    try {
      const svc = (d: typeof db) =>
        new BackupService({ db: d, store: s3.store, logger: memoryLogger(), retention: {} });
      const live = svc(db);
      await insertSampleData(db, "one");
      await live.create({ kind: "manual", createdBy: "t" });
      await insertSampleData(db, "two");
      const newest = await live.create({ kind: "manual", createdBy: "t" });
      const expected = await snapshot(db);
      // A restore's safety backup is newer still, and an unsigned object too: neither is "latest".
      await insertSampleData(db, "three");
      await live.restore({ s3Key: newest.s3Key, triggeredBy: "t" });
      await plant(s3, "database-backups/29991231_000000_manual_1.json.gz", gzip("{}"));

      const dr = svc(fresh.db);
      const listed = await dr.bucketBackups();
      assert.equal(listed.length, 4);
      assert.equal(listed.filter((b) => b.signed).length, 3);
      assert.ok(listed.every((b) => !b.catalogued));
      assert.equal(listed.find((b) => !b.signed)?.problem?.kind, "missing");

      const r = await dr.restore({ triggeredBy: "t" });
      assert.equal(r.restored_from, newest.s3Key);
      assert.equal(r.trust, "signature");
      assert.equal(r.safety_backup_s3_key, null, "an empty database needs no safety backup");
      assert.deepEqual(await snapshot(fresh.db), expected);

      // One bucket, two databases: "latest" is this database's own newest backup when the bucket holds one;
      // another database's is never restored over data without being named.
      const elsewhere = await live.create({ kind: "manual", createdBy: "t" });
      await fresh.db.db.delete(fresh.db.t.backups); // the catalog the restore brought back, lost again
      const named = await refusal(dr.restore({ triggeredBy: "t" }));
      assert.equal(named.code, "CONFIRMATION_REQUIRED");
      assert.match(named.message, new RegExp(`"${elsewhere.s3Key}", was taken from another database`));
      assert.match(named.message, new RegExp(`--restore --key ${elsewhere.s3Key}`));
      assert.deepEqual(await snapshot(fresh.db), expected, "nothing changed");
      const own = await dr.create({ kind: "manual", createdBy: "t" });
      await fresh.db.db.delete(fresh.db.t.backups); // its catalog is lost; the bucket still holds its backup
      await new Promise((r) => setTimeout(r, 1100)); // keys name the second: the other one's is newer
      const newer = await live.create({ kind: "manual", createdBy: "t" });
      assert.ok(newer.s3Key > own.s3Key, "another database's backup is the newest in the bucket");
      assert.equal((await dr.restore({ triggeredBy: "t" })).restored_from, own.s3Key);

      // A bucket with nothing signed: the message says how to see and restore by key.
      const other = await startTestS3();
      try {
        await plant(other, "database-backups/20250101_000000_manual_1.json.gz", gzip("{}"));
        const lonely = new BackupService({
          db: fresh.db,
          store: other.store,
          logger: memoryLogger(),
          retention: {},
        });
        await fresh.db.db.delete(fresh.db.t.backups);
        const e = await refusal(lonely.restore({ triggeredBy: "t" }));
        assert.equal(e.code, "NOT_FOUND");
        assert.match(e.message, /none of the 1 backup object\(s\) in bucket .* is signed/);
        assert.match(e.message, /deno task backup list --bucket/);
        assert.match(e.message, /deno task seed --restore --key KEY --untrusted/);
      } finally {
        await other.close();
      }
    } finally {
      await fresh.dispose();
      await s3.close();
    }
  },
);

dbTest(
  "disaster recovery over HTTP: GET /api/v1/backups/bucket shows what the bucket holds, the catalog knowing none",
  async (db, ctx) => {
    const a = await setup(db);
    const fresh = await openTestDatabase(ctx.dialect);
    // A new database (its catalog is empty) and a new app over the same bucket.
    const b = await setup(fresh.db, a.s3.env);
    try {
      const older = await json<{ s3_key: string }>(
        await a.call("POST", "/api/v1/backups", a.tokens.root, {}),
      );
      await insertSampleData(db, "later");
      const newer = await json<{ s3_key: string }>(
        await a.call("POST", "/api/v1/backups", a.tokens.root, {}),
      );
      await plant(a.s3, "database-backups/20000101_000000_manual_9.json.gz", gzip("{}"));

      assert.equal(
        (await json<{ total: number }>(await b.call("GET", "/api/v1/backups", b.tokens.root))).total,
        0,
      );
      assert.equal((await b.call("GET", "/api/v1/backups/bucket", null)).status, 401);
      assert.equal((await b.call("GET", "/api/v1/backups/bucket", b.tokens.reader)).status, 403);
      const res = await b.call("GET", "/api/v1/backups/bucket", b.tokens.root);
      assert.equal(res.status, 200, await res.clone().text());
      type Item = {
        s3_key: string;
        signed: boolean;
        catalogued: boolean;
        problem: string | null;
        kind: string | null;
        total_rows: number | null;
        key_id: string | null;
      };
      const page = await json<{ bucket: string; items: Item[]; total: number }>(res);
      assert.equal(page.bucket, a.deps.backups.store.bucket);
      assert.equal(page.total, 3);
      assert.deepEqual(page.items.map((i) => i.s3_key), [
        newer.s3_key,
        older.s3_key,
        "database-backups/20000101_000000_manual_9.json.gz",
      ]);
      assert.ok(page.items.every((i) => !i.catalogued));
      assert.deepEqual(page.items.map((i) => i.signed), [true, true, false]);
      assert.equal(page.items[0].kind, "manual");
      assert.ok((page.items[0].total_rows ?? 0) > (page.items[1].total_rows ?? 0));
      assert.match(page.items[0].key_id ?? "", /^[0-9a-f]{16}$/);
      assert.match(page.items[2].problem ?? "", /no signed manifest/i);
      const one = await json<{ items: Item[]; total: number }>(
        await b.call("GET", "/api/v1/backups/bucket?skip=1&limit=1", b.tokens.root),
      );
      assert.deepEqual([one.total, one.items.map((i) => i.s3_key)], [3, [older.s3_key]]);
      assert.equal((await b.call("GET", "/api/v1/backups/bucket?limit=0", b.tokens.root)).status, 422);

      // What was listed restores by key on the new database.
      const planned = await b.call("POST", "/api/v1/seeders/restore", b.tokens.root, {
        s3_key: newer.s3_key,
        dry_run: true,
      });
      assert.equal(planned.status, 200, await planned.clone().text());
      const restored = await b.call("POST", "/api/v1/seeders/restore", b.tokens.root, {
        s3_key: newer.s3_key,
      });
      assert.equal(restored.status, 200, await restored.clone().text());
      assert.equal((await json<{ trust: string }>(restored)).trust, "signature");
      assert.deepEqual(await snapshot(fresh.db), await snapshot(db));
    } finally {
      await b.s3.close();
      await fresh.dispose();
      await a.s3.close();
    }
  },
);
