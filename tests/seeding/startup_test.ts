/** `deno task dev` seeds at startup and prints the credentials; a production start seeds nothing. */
import assert from "node:assert/strict";
import { openDatabase } from "../../src/db/client.ts";
import { freePort } from "../helpers/ports.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

/** Starts main.ts, waits for "listening", runs `fn`, then stops it with SIGTERM. */
async function withServer(
  env: Record<string, string>,
  fn: (base: string, stderr: () => string, stdout: () => string) => Promise<void>,
) {
  const port = freePort();
  const s3dir = await Deno.makeTempDir({ prefix: "seedbed-start-s3-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    env: { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", S3_EMBEDDED_DIR: s3dir, ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (err += chunk) }),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  try {
    while (!log.includes('"event":"listening"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before listening:\n${log}\n${err}`);
      log += value;
    }
    await fn(`http://127.0.0.1:${port}`, () => err, () => log);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
    await errDone.catch(() => {});
    await Deno.remove(s3dir, { recursive: true }).catch(() => {});
  }
}

async function login(base: string, email: string, password: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name: "startup: development seeds core and demo data and prints credentials that log in at once",
  fn: async () => {
    await withServer({ APP_ENV: "development", DATABASE_URL: ":memory:" }, async (base, stderr) => {
      // The banner comes last, after the startup lines (printed when the server listens).
      for (let i = 0; i < 100 && !/Log in: curl/.test(stderr()); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(
        stderr().indexOf("Seedbed listening on") < stderr().indexOf("Development credentials:"),
        stderr(),
      );
      assert.match(
        stderr(),
        /Development credentials:\n +platform super admin +admin@foodfleet\.com \/ SuperAdmin@123/,
      );
      assert.match(stderr(), /Test Corp admin +admin@testcorp\.com \/ password123/);
      assert.equal(await login(base, "admin@foodfleet.com", "SuperAdmin@123"), 200);
      assert.equal(await login(base, "admin@testcorp.com", "password123"), 200);
    });
  },
});

Deno.test({
  name: "startup: production seeds nothing at startup (no demo data, no default super admin)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "seedbed-prod-" });
    const url = `file:${dir}/prod.db`;
    try {
      await withServer({
        APP_ENV: "production",
        DATABASE_URL: url,
        SECRET_KEY: "prod-key-7f3a9c1e5b2d8f4a6c0e9b3d7a1f5c2e",
        S3_ENDPOINT: "http://127.0.0.1:9",
      }, async (base, stderr, stdout) => {
        assert.doesNotMatch(stderr(), /Development credentials/);
        // What production lacks is said at start: PUBLIC_URL (AuthZEN metadata) and backup encryption.
        assert.match(stdout(), /"event":"public_url_unset"/);
        assert.match(stdout(), /"event":"backup_encryption_off"/);
        assert.equal(await login(base, "admin@testcorp.com", "password123"), 401);
        assert.equal(await login(base, "admin@foodfleet.com", "SuperAdmin@123"), 401);
      });
      const db = await openDatabase(url);
      try {
        assert.equal((await db.db.select().from(db.t.users)).length, 0);
        assert.equal((await db.db.select().from(db.t.seederExecutions)).length, 0);
      } finally {
        await db.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
