/**
 * The S3 server stopped and started again: every endpoint that needs it
 * answers 503 STORAGE_UNAVAILABLE with Retry-After (backup, execute with
 * require_backup, reset, restore), nothing is seeded or wiped, the lock is
 * released, and everything works again once S3 is back.
 * Story: docs/reliability.md.
 */
import assert from "node:assert/strict";
import { count } from "drizzle-orm";
import { createApp } from "../../src/app.ts";
import { buildDeps } from "../../src/deps.ts";
import { memoryLogger } from "../../src/log.ts";
import { EMBEDDED_CREDENTIALS, type EmbeddedS3, startEmbeddedS3 } from "../../src/storage/embedded_s3.ts";
import { testConfig } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";

dbTest(
  "faults: S3 stopped and started — 503 with Retry-After everywhere, nothing touched, then recovery",
  async (db) => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-s3-outage-" });
    let s3: EmbeddedS3 = await startEmbeddedS3({ directory: dir, port: 0 });
    const port = s3.port;
    try {
      const logger = memoryLogger();
      const deps = await buildDeps({
        config: testConfig({
          S3_ENDPOINT: s3.endpoint,
          S3_FORCE_PATH_STYLE: "true",
          S3_BUCKET_NAME: "outage",
          AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey,
        }),
        db,
        logger,
      });
      await deps.storage.ensureBucket();
      await deps.seeding.execute({ triggeredBy: "test", createBackup: false });
      const app = createApp(deps);
      const login = await app.request("/api/v1/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: "admin@foodfleet.com", password: "SuperAdmin@123" }),
      });
      const token = (await login.json()).access_token;
      const post = async (path: string, body: unknown) => {
        const res = await app.request(path, {
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: res.status, headers: res.headers, body: await res.json() };
      };
      assert.equal((await post("/api/v1/backups", {})).status, 201);
      const users = async () => Number((await db.db.select({ n: count() }).from(db.t.users))[0].n);
      const before = await users();

      await s3.close();
      for (
        const [path, body] of [
          ["/api/v1/backups", {}],
          ["/api/v1/seeders/execute", { require_backup: true }],
          ["/api/v1/seeders/reset", {}],
          ["/api/v1/seeders/restore", {}],
        ] as const
      ) {
        const r = await post(path, body);
        assert.equal(r.status, 503, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, "STORAGE_UNAVAILABLE", path);
        assert.equal(r.headers.get("Retry-After"), "5", path);
        assert.match(
          r.body.detail,
          /S3 is unreachable at http:\/\/127\.0\.0\.1:\d+ \(bucket "outage"\)/,
          path,
        );
      }
      assert.equal(await users(), before, "the reset wiped nothing");
      // Without require_backup, a run goes on and says why there is no backup.
      const run = await post("/api/v1/seeders/execute", {});
      assert.equal(run.status, 200);
      assert.match(run.body.warnings[0], /backup failed: S3 is unreachable/);

      s3 = await startEmbeddedS3({ directory: dir, port });
      assert.equal((await post("/api/v1/backups", {})).status, 201);
      const restored = await post("/api/v1/seeders/restore", {});
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.equal(await users(), before);
    } finally {
      await s3.close().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
