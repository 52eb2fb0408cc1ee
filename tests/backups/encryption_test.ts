/**
 * Client-side encryption and tamper evidence (issue 12, "beyond the
 * findings"): sealed chunks round-trip in any chunking; without the key, or
 * with another, a restore says so; one flipped byte anywhere — in the
 * object or its signed manifest, encrypted or not — is refused before any
 * row changes, on libSQL and Postgres.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { decryptStream, encryptionKeys, Encryptor } from "../../src/backups/encryption.ts";
import { BackupService } from "../../src/backups/backup_service.ts";
import { signedManifestKey } from "../../src/backups/signing.ts";
import type { Database } from "../../src/db/client.ts";
import { AppError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log.ts";
import { dbTest, openTestDatabase } from "../helpers/db.ts";
import { startTestS3, type TestS3 } from "../helpers/s3.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";
import { download } from "./helpers.ts";

const KEY = "backup-encryption-key-0123456789-0123456789";
const OTHER = "another-encryption-key-0123456789-01234567";

async function roundTrip(data: Uint8Array, cuts: number[], key = KEY, openWith = KEY): Promise<Uint8Array> {
  const e = new Encryptor(encryptionKeys(key).current!);
  const sealed = [...e.update(data), ...e.final()];
  const all = new Uint8Array(sealed.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of sealed) {
    all.set(c, o);
    o += c.length;
  }
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, all.length]) {
    if (p > prev) parts.push(all.slice(prev, p));
    prev = Math.max(prev, p);
  }
  const out: Uint8Array[] = [];
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      const n = parts.shift();
      if (n) c.enqueue(n);
      else c.close();
    },
  }).pipeThrough(decryptStream(encryptionKeys(openWith)));
  for await (const c of stream) out.push(c);
  const plain = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
  o = 0;
  for (const c of out) {
    plain.set(c, o);
    o += c.length;
  }
  return plain;
}

Deno.test("encryption: any data in any chunking round-trips; it is never stored in the clear", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 0, max: 300_000 }).map((n) => new Uint8Array(n).fill(7)),
      ),
      fc.array(fc.nat(), { maxLength: 30 }),
      async (data, cuts) => {
        assert.deepEqual(await roundTrip(data, cuts), data);
      },
    ),
    { numRuns: 60 },
  );
  await assert.rejects(
    roundTrip(new Uint8Array(10), [], KEY, OTHER),
    /encrypted with key [0-9a-f]{16}, which is neither/,
  );
});

function service(db: Database, s3: TestS3, key?: string) {
  return new BackupService({
    db,
    store: s3.store,
    logger: memoryLogger(),
    retention: {},
    encryption: encryptionKeys(key),
  });
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err;
  }
  throw new Error("expected a refusal");
}

dbTest(
  "encryption: restore with the key; without it or with another a clear refusal, data unchanged",
  async (db, ctx) => {
    const s3 = await startTestS3();
    const fresh = await openTestDatabase(ctx.dialect);
    try {
      await insertSampleData(db);
      const original = await snapshot(db);
      const enc = service(db, s3, KEY);
      const b = await enc.create({ kind: "manual", createdBy: "t" });
      const { bytes, metadata } = await download(s3, b.s3Key);
      assert.equal(new TextDecoder().decode(bytes.slice(0, 8)), "SEEDBENC");
      assert.ok(!new TextDecoder("latin1").decode(bytes).includes("report-a@example.com"));
      assert.equal(metadata["seedbed-encrypted"], "true");
      const signed = JSON.parse(
        new TextDecoder().decode((await download(s3, signedManifestKey(b.s3Key))).bytes),
      );
      assert.equal(signed.encryption.algorithm, "aes-256-gcm-chunked");
      assert.equal((await enc.verify({ id: b.id })).encrypted, true);

      await insertSampleData(fresh.db, "other");
      const before = await snapshot(fresh.db);
      const none = await refusal(service(fresh.db, s3).restore({ s3Key: b.s3Key, triggeredBy: "t" }));
      assert.equal(none.code, "BACKUP_INVALID");
      assert.match(none.message, /it is encrypted \(key [0-9a-f]{16}\) and BACKUP_ENCRYPTION_KEY is not set/);
      const other = await refusal(service(fresh.db, s3, OTHER).restore({ s3Key: b.s3Key, triggeredBy: "t" }));
      assert.match(
        other.message,
        /encrypted with key [0-9a-f]{16}, which is neither BACKUP_ENCRYPTION_KEY nor/,
      );
      assert.deepEqual(await snapshot(fresh.db), before);

      // The key as a previous one, and unencrypted backups still restore once a key is set.
      const rotated = new BackupService({
        db: fresh.db,
        store: s3.store,
        logger: memoryLogger(),
        retention: {},
        encryption: encryptionKeys(OTHER, [KEY]),
      });
      await rotated.restore({ s3Key: b.s3Key, triggeredBy: "t" });
      assert.deepEqual(await snapshot(fresh.db), original);
      const plain = await service(db, s3).create({ kind: "manual", createdBy: "t" });
      await rotated.restore({ s3Key: plain.s3Key, triggeredBy: "t" });
      assert.deepEqual(await snapshot(fresh.db), original);
    } finally {
      await fresh.dispose();
      await s3.close();
    }
  },
);

dbTest(
  "tamper: one flipped byte anywhere in the object or its signed manifest is refused before any row changes",
  async (db, ctx) => {
    const s3 = await startTestS3();
    const fresh = await openTestDatabase(ctx.dialect);
    try {
      await insertSampleData(db);
      await insertSampleData(fresh.db, "current");
      const before = await snapshot(fresh.db);
      for (const key of [KEY, undefined]) {
        const b = await service(db, s3, key).create({ kind: "manual", createdBy: "t" });
        const object = (await download(s3, b.s3Key)).bytes;
        const manifest = (await download(s3, signedManifestKey(b.s3Key))).bytes;
        // Restored on the fresh database: not catalogued there, trusted through the signed manifest.
        const target = service(fresh.db, s3, KEY);
        // Positions: the first and last bytes, the encryption header and the last chunk's tag, and random ones.
        const positions = [
          0,
          1,
          9,
          20,
          40,
          object.length - 1,
          object.length - 17,
          ...fc.sample(fc.nat(object.length - 1), 6),
        ];
        for (const at of positions) {
          const flipped = object.slice();
          flipped[at] ^= 1 << (at % 8);
          await s3.store.upload(b.s3Key, new Blob([flipped as BlobPart]).stream());
          const e = await refusal(target.restore({ s3Key: b.s3Key, triggeredBy: "t" }));
          assert.equal(e.code, "BACKUP_INVALID", `byte ${at}: ${e.message}`);
          assert.deepEqual(await snapshot(fresh.db), before, `byte ${at} changed rows`);
        }
        await s3.store.upload(b.s3Key, new Blob([object as BlobPart]).stream());
        for (
          const at of [
            0,
            Math.floor(manifest.length / 2),
            manifest.length - 3,
            ...fc.sample(fc.nat(manifest.length - 1), 4),
          ]
        ) {
          const flipped = manifest.slice();
          flipped[at] ^= 1 << (at % 8);
          await s3.store.putBytes(signedManifestKey(b.s3Key), flipped, "application/json");
          const e = await refusal(target.restore({ s3Key: b.s3Key, triggeredBy: "t" }));
          assert.equal(e.code, "BACKUP_INVALID", `manifest byte ${at}: ${e.message}`);
          assert.match(e.message, /cannot be trusted/);
          assert.deepEqual(await snapshot(fresh.db), before);
        }
        await s3.store.putBytes(signedManifestKey(b.s3Key), manifest, "application/json");
      }
      // Encrypted and imported as untrusted (no checksum to compare with): every chunk still authenticates.
      const b = await service(db, s3, KEY).create({ kind: "manual", createdBy: "t" });
      const object = (await download(s3, b.s3Key)).bytes;
      for (const at of [40, Math.floor(object.length / 2), object.length - 1]) {
        const flipped = object.slice();
        flipped[at] ^= 0x10;
        await s3.store.upload("database-backups/untrusted.json.gz", new Blob([flipped as BlobPart]).stream());
        const e = await refusal(
          service(fresh.db, s3, KEY).restore({
            s3Key: "database-backups/untrusted.json.gz",
            triggeredBy: "t",
            trust: "untrusted",
          }),
        );
        assert.match(e.message, /does not authenticate|malformed|changed/, `byte ${at}: ${e.message}`);
        assert.deepEqual(await snapshot(fresh.db), before);
      }
    } finally {
      await fresh.dispose();
      await s3.close();
    }
  },
);
