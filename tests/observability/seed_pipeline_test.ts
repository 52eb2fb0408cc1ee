/**
 * scripts/seed_pipeline.sh, the CI/CD seeding pipeline of docs/operations.md, run for real: a fresh
 * database (backup skipped), a second run (backup taken), and the exit codes a pipeline branches on.
 */
import assert from "node:assert/strict";
import { startTestS3 } from "../helpers/s3.ts";

const SCRIPT = new URL("../../scripts/seed_pipeline.sh", import.meta.url).pathname;

async function pipeline(env: Record<string, string>) {
  const out = await new Deno.Command("bash", {
    args: [SCRIPT],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test({
  name: "seed pipeline: backup → migrate → seed → verify, with a pipeline's exit codes",
  fn: async () => {
    const s3 = await startTestS3();
    const dir = await Deno.makeTempDir({ prefix: "seedbed-pipeline-" });
    try {
      const env = {
        ...s3.env,
        APP_ENV: "test",
        SECRET_KEY: "pipeline-secret-key-that-is-long-enough-0123",
        DATABASE_URL: `file:${dir}/pipeline.db`,
        SEED_DEMO: "false",
        LOG_LEVEL: "warn",
      };
      let r = await pipeline(env);
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /backup: skipped \(a fresh database/);
      assert.match(r.text, /pipeline done/);
      // Again: now there is something to back up first.
      r = await pipeline(env);
      assert.equal(r.code, 0, r.text);
      assert.match(r.text, /== backup: deno task --quiet backup create/);
      // A bad configuration variable: 2, nothing run.
      r = await pipeline({ ...env, ALGORITHM: "none" });
      assert.equal(r.code, 2, r.text);
      assert.match(r.text, /ALGORITHM/);
      // Storage gone: the backup step fails first (10), before anything changes.
      r = await pipeline({ ...env, S3_ENDPOINT: "http://127.0.0.1:9" });
      assert.equal(r.code, 10, r.text);
      assert.match(r.text, /backup failed \(exit 10\)/);
    } finally {
      await s3.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
