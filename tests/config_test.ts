import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigError, loadConfig } from "../src/config.ts";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createPresignClient, createS3Client } from "../src/storage/s3_client.ts";

/** A production SECRET_KEY as `openssl rand -hex 20` would give. */
const PROD_KEY = "7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e84d6b0a3";

function issues(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("config: defaults give in-memory libSQL on port 8000 with HS256", () => {
  const c = loadConfig({});
  assert.equal(c.databaseUrl, ":memory:");
  assert.equal(c.databaseKind, "libsql");
  assert.equal(c.http.port, 8000);
  assert.equal(c.auth.algorithm, "HS256");
  assert.equal(c.auth.accessTokenExpireMinutes, 30);
  assert.equal(c.appEnv, "development");
  assert.equal(c.auth.secretGenerated, true);
  assert.ok(c.auth.secretKey.length >= 32);
});

Deno.test("config: DATABASE_URL picks the driver", () => {
  assert.equal(
    loadConfig({ DATABASE_URL: "file:./x.db" }).databaseKind,
    "libsql",
  );
  assert.equal(
    loadConfig({ DATABASE_URL: "libsql://db.example.com" }).databaseKind,
    "libsql",
  );
  assert.equal(
    loadConfig({ DATABASE_URL: "postgres://u@h/db" }).databaseKind,
    "postgres",
  );
  assert.equal(
    loadConfig({ DATABASE_URL: "postgresql://u@h/db" }).databaseKind,
    "postgres",
  );
});

Deno.test("config: a bad DATABASE_URL is named", () => {
  const i = issues({ DATABASE_URL: "mysql://x" });
  assert.equal(i.length, 1);
  assert.match(i[0], /^DATABASE_URL: /);
});

Deno.test("config: bad values are named, secrets never echoed", () => {
  const i = issues({
    PORT: "eighty",
    APP_ENV: "staging",
    LOG_LEVEL: "loud",
    ALGORITHM: "none",
  });
  const joined = i.join("\n");
  for (const v of ["PORT", "APP_ENV", "LOG_LEVEL", "ALGORITHM"]) {
    assert.match(joined, new RegExp(`^${v}: `, "m"));
  }
  // A negative number is a number that is too small, not "not a number".
  const n = issues({ ACCESS_TOKEN_EXPIRE_MINUTES: "-5", SHUTDOWN_TIMEOUT_SECONDS: "1.5" }).join("\n");
  assert.match(n, /^ACCESS_TOKEN_EXPIRE_MINUTES: must be at least 1/m);
  assert.match(n, /^SHUTDOWN_TIMEOUT_SECONDS: must be a whole number/m);
  const f = issues({ ACCESS_FRESHNESS: "eventual", ACCESS_LEASE_MS: "50" }).join("\n");
  assert.match(f, /^ACCESS_FRESHNESS: must be read or lease/m);
  assert.match(f, /^ACCESS_LEASE_MS: must be at least 100/m);
  assert.match(
    issues({ ACCESS_LEASE_MS: "1000", ACCESS_POLL_MS: "300" }).join("\n"),
    /^ACCESS_POLL_MS: must be at most a quarter of ACCESS_LEASE_MS/m,
  );
  assert.deepEqual(loadConfig({}).access, {
    freshness: "read",
    leaseMs: 2000,
    pollMs: 10,
    maxEvaluations: 100,
  });
  assert.equal(
    loadConfig({ DATABASE_URL: "postgres://db/app" }).access.freshness,
    "lease",
    "Postgres: leases",
  );
  assert.equal(
    loadConfig({ DATABASE_URL: "postgres://db/app", ACCESS_FRESHNESS: "read" }).access.freshness,
    "read",
  );
  const secret = "short-secret-value";
  const p = issues({
    APP_ENV: "production",
    SECRET_KEY: secret,
    DATABASE_URL: "postgres://h/db",
  });
  assert.match(p.join("\n"), /SECRET_KEY: must be at least 32 characters/);
  assert.ok(!p.join("\n").includes(secret));
});

Deno.test("config: production requires SECRET_KEY and a real database", () => {
  const i = issues({ APP_ENV: "production" }).join("\n");
  assert.match(i, /SECRET_KEY: is required in production/);
  assert.match(i, /DATABASE_URL: is required in production/);
  const ok = loadConfig({
    APP_ENV: "production",
    SECRET_KEY: PROD_KEY,
    DATABASE_URL: "postgres://h/db",
    S3_ENDPOINT: "http://minio:9000",
  });
  assert.equal(ok.auth.secretGenerated, false);
  assert.equal(ok.s3.embedded, false);
  assert.equal(ok.seeding.demo, false);
});

Deno.test("config: production refuses the published super admin password", () => {
  const i = issues({
    APP_ENV: "production",
    SECRET_KEY: PROD_KEY,
    DATABASE_URL: "postgres://h/db",
    SUPERADMIN_PASSWORD: "SuperAdmin@123",
  });
  assert.match(i.join("\n"), /^SUPERADMIN_PASSWORD: /m);
});

Deno.test("config: S3 settings for MinIO", () => {
  const c = loadConfig({
    S3_ENDPOINT: "http://localhost:9000",
    S3_BUCKET_NAME: "my-bucket",
    AWS_ACCESS_KEY_ID: "a",
    AWS_SECRET_ACCESS_KEY: "b",
  });
  assert.equal(c.s3.forcePathStyle, true);
  assert.equal(c.s3.embedded, false);
  assert.match(
    issues({ S3_BUCKET_NAME: "Bad_Bucket" }).join(),
    /S3_BUCKET_NAME/,
  );
  assert.match(issues({ AWS_ACCESS_KEY_ID: "a" }).join(), /AWS_ACCESS_KEY_ID/);
  assert.match(
    issues({ S3_FORCE_PATH_STYLE: "maybe" }).join(),
    /^S3_FORCE_PATH_STYLE: must be true or false/,
  );
});

Deno.test("config: production refuses unsafe settings, naming each (attack report 2026-12-03, finding 8)", () => {
  const base = { APP_ENV: "production", DATABASE_URL: "postgres://h/db", S3_ENDPOINT: "http://minio:9000" };
  // A long but hand-made key.
  for (const key of ["a".repeat(32), "ab".repeat(20), "abcdefgh".repeat(5)]) {
    const i = issues({ ...base, SECRET_KEY: key }).join("\n");
    assert.match(i, /SECRET_KEY: looks hand-made/);
    assert.ok(!i.includes(key), "the key is never echoed");
  }
  assert.match(
    issues({ ...base, SECRET_KEY: PROD_KEY, LOG_PERSONAL_DATA: "true" }).join(),
    /LOG_PERSONAL_DATA: must not/,
  );
  assert.match(
    issues({ ...base, SECRET_KEY: PROD_KEY, METRICS_PORT: "9464" }).join(),
    /METRICS_PORT: needs METRICS_TOKEN/,
  );
  // Allowed: a token, or a loopback-only metrics port; and all of it outside production.
  loadConfig({ ...base, SECRET_KEY: PROD_KEY, METRICS_PORT: "9464", METRICS_TOKEN: "t".repeat(32) });
  loadConfig({ ...base, SECRET_KEY: PROD_KEY, METRICS_PORT: "9464", METRICS_HOST: "127.0.0.1" });
  loadConfig({ SECRET_KEY: "a".repeat(32), LOG_PERSONAL_DATA: "true", METRICS_PORT: "9464" });
});

Deno.test("config: S3 endpoints are http(s) URLs without credentials, named when not, the secret never echoed", () => {
  for (const name of ["S3_ENDPOINT", "S3_PUBLIC_ENDPOINT"]) {
    for (const bad of ["localhost:9000", "minio:9000", "ftp://files.example.com", "not a url"]) {
      assert.match(
        issues({ [name]: bad }).join("\n"),
        new RegExp(`^${name}: must be an http\\(s\\) URL`, "m"),
        bad,
      );
    }
    const leak = issues({ [name]: "https://user:S3cr3tPW@files.example.com" }).join("\n");
    assert.match(leak, new RegExp(`^${name}: must not carry credentials`, "m"));
    assert.ok(!leak.includes("S3cr3tPW"));
    assert.ok(
      loadConfig({ [name]: "https://files.example.com/prefix/" }).s3,
      "a path and a trailing slash are fine",
    );
  }
});

Deno.test("config: presigned URLs on S3_PUBLIC_ENDPOINT put the bucket in the path, with or without S3_ENDPOINT", async () => {
  const keys = { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", S3_BUCKET_NAME: "bkt" };
  for (const env of [{}, { S3_ENDPOINT: "http://minio:9000" }]) {
    const s3 = loadConfig({ ...keys, ...env, S3_PUBLIC_ENDPOINT: "https://files.example.com" }).s3;
    const url = await getSignedUrl(
      createPresignClient(s3, createS3Client(s3)),
      new GetObjectCommand({ Bucket: "bkt", Key: "files/k" }),
      { expiresIn: 60 },
    );
    assert.match(url, /^https:\/\/files\.example\.com\/bkt\/files\/k\?/, JSON.stringify(env));
  }
  // S3_FORCE_PATH_STYLE=false asks for the bucket in the host name, and gets it.
  const vhost =
    loadConfig({ ...keys, S3_PUBLIC_ENDPOINT: "https://files.example.com", S3_FORCE_PATH_STYLE: "false" }).s3;
  const url = await getSignedUrl(
    createPresignClient(vhost, createS3Client(vhost)),
    new GetObjectCommand({ Bucket: "bkt", Key: "k" }),
    { expiresIn: 60 },
  );
  assert.match(url, /^https:\/\/bkt\.files\.example\.com\/k\?/);
});

Deno.test("config (property): an S3 endpoint with any credentials in it is refused, and they are never echoed", () => {
  const part = fc.string({ minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(
      fc.constantFrom("S3_ENDPOINT", "S3_PUBLIC_ENDPOINT"),
      fc.constantFrom("http", "https"),
      part,
      part,
      fc.webPath(),
      (name, scheme, user, password, path) => {
        const secret = `${password}-S3cr3t`;
        const url = `${scheme}://${encodeURIComponent(user)}:${
          encodeURIComponent(secret)
        }@files.example.com${path}`;
        const text = issues({ [name]: url }).join("\n");
        assert.match(text, new RegExp(`^${name}: must not carry credentials`, "m"));
        assert.ok(!text.includes(secret) && !text.includes(encodeURIComponent(secret)), text);
        // The same endpoint without them is accepted.
        const bare = `${scheme}://files.example.com${path}`;
        if (URL.canParse(bare)) assert.ok(loadConfig({ [name]: bare }).s3);
      },
    ),
    { numRuns: 200 },
  );
});
