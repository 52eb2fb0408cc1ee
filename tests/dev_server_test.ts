/**
 * `deno task dev` (scripts/dev.ts): restarts the server on a change and keeps serving, waits out a server
 * that exits by itself, and a real SIGTERM ends it for good after the graceful shutdown. Deno's own
 * `--watch` restarts by a synthetic SIGTERM (Deno ≥ 2.7.7) that killed dev on the first edit.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { restartsOn } from "../scripts/dev.ts";
import { followsSupervisor } from "../src/main.ts";
import { freePort } from "./helpers/ports.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DEV = `${ROOT}scripts/dev.ts`;

Deno.test("dev: which changes restart the server", () => {
  const cwd = "/home/me/app";
  const on = (p: string) => restartsOn(p, ROOT, cwd);
  for (
    const p of [
      "src/main.ts",
      "modules/books.ts",
      "seeders/mod.ts",
      "migrations/postgres/0007_add_books.sql",
      "migrations/sqlite/0007_add_books.down.sql",
      "vendor/postgres/src/connection.js",
      "deno.json",
      "deno.lock",
    ]
  ) assert.ok(on(`${ROOT}${p}`), p);
  assert.ok(on(`${cwd}/.env`), "the .env main.ts reads");
  for (
    const p of [
      ".data/s3/seedbed-backups/a.json.gz",
      "node_modules/hono/dist/index.js",
      "src/.main.ts.swp",
      "src/main.ts~",
      "modules/.#books.ts",
      "docs/modules.md",
      "tests/main_test.ts",
      // drizzle-kit's snapshots: db:generate writes them beside the SQL, which restarts the server once.
      "migrations/sqlite/meta/_journal.json",
      "migrations/postgres/meta/0007_snapshot.json",
      "README.md",
      ".env",
      "src",
    ]
  ) assert.ok(!on(`${ROOT}${p}`), p);
  // Whatever the path: a restart only for a code, SQL or JSON file under a code folder, or the root's config.
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom("src", "modules", ".data", "node_modules", "docs", "a", ".git", "x.ts"), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.constantFrom(".ts", ".sql", ".json", ".md", ".swp", "~", ""),
      (dirs, ext) => {
        const rel = `${dirs.join("/")}${ext}`;
        const expected = dirs.length === 1
          ? false
          : ["src", "modules"].includes(dirs[0]) && !dirs.some((d) => d.startsWith(".")) &&
            /\.(ts|sql|json)$/.test(rel);
        assert.equal(on(`${ROOT}${rel}`), expected, rel);
      },
    ),
  );
});

Deno.test("dev: deno.json's dev task runs the watcher of scripts/dev.ts, not `deno run --watch`", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  assert.match(tasks.dev, /scripts\/dev\.ts/);
  assert.doesNotMatch(tasks.dev, /--watch/);
});

/** `deno task dev`'s watcher in a new folder whose .env names an in-memory database, on a free port. */
async function startDev(stderr: "piped" | "null") {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-dev-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/.env`, "DATABASE_URL=:memory:\nSEED_DEMO=false\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEV],
    cwd: dir,
    env: { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", NO_COLOR: "1" },
    stdout: "piped",
    stderr,
  }).spawn();
  return { dir, port, child };
}

Deno.test({
  name: "dev: a change restarts the server, a crash waits for the next change, SIGTERM ends it for good",
  // Its 20 s wait for dev to end after SIGTERM (a setTimeout raced against the exit) is left running.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { dir, port, child } = await startDev("piped");
    let out = "";
    const pump = (s: ReadableStream<Uint8Array>) =>
      s.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream({ write: (t) => void (out += t) }));
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const count = (re: RegExp) => out.match(new RegExp(re, "g"))?.length ?? 0;
    async function until(what: string, ok: () => boolean, ms = 30_000) {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end) assert.fail(`${what}: not within ${ms / 1000} s\n${out.slice(-1500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const health = async () => (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text()));
    try {
      await until("listening", () => count(/"event":"listening"/) === 1);
      assert.match(await health(), /"status":"ok"/);
      // The supervisor's pipes (one lifeline per server): counted again after three servers more.
      const pipes = () =>
        [...Deno.readDirSync(`/proc/${child.pid}/fd`)].filter((e) => {
          try {
            return Deno.readLinkSync(`/proc/${child.pid}/fd/${e.name}`).startsWith("pipe:");
          } catch {
            return false;
          }
        }).length;
      const pipesAtStart = pipes();

      // A change: the server stops gracefully and a new one serves.
      await Deno.writeTextFile(`${dir}/.env`, "DATABASE_URL=:memory:\nSEED_DEMO=false\nLOG_LEVEL=info\n");
      await until("restarted", () => count(/"event":"listening"/) === 2);
      assert.match(out, /\.env changed: restarting/);
      assert.equal(count(/"event":"shutdown_completed"/), 1, "the first server shut down gracefully");
      assert.match(await health(), /"status":"ok"/);

      // A server that cannot start: dev says so and waits; the fix brings it back.
      await Deno.writeTextFile(`${dir}/.env`, "DATABASE_URL=mysql://nowhere\nSEED_DEMO=false\n");
      await until("the bad .env's exit", () => /the server exited \(code 1\)/.test(out));
      assert.equal(
        await Promise.race([child.status.then(() => "ended"), Promise.resolve("running")]),
        "running",
      );
      await Deno.writeTextFile(`${dir}/.env`, "DATABASE_URL=:memory:\nSEED_DEMO=false\n");
      await until("back after the fix", () => count(/"event":"listening"/) === 3);
      assert.match(await health(), /"status":"ok"/);
      assert.doesNotMatch(out, /the server exited \(SIGTERM\)|exited \(code 0\)/, "restarts are not news");
      assert.ok(pipes() - pipesAtStart < 2, `a pipe per restart leaks: ${pipesAtStart} → ${pipes()}`);

      // A real SIGTERM: the server drains, and dev ends by that signal, as a shell expects.
      child.kill("SIGTERM");
      const status = await Promise.race([
        child.status,
        new Promise<null>((r) => setTimeout(() => r(null), 20_000)),
      ]);
      assert.ok(status, `dev still runs 20 s after SIGTERM\n${out.slice(-1500)}`);
      assert.equal(status.signal, "SIGTERM");
      await pumped;
      assert.equal(count(/"event":"shutdown_completed"/), 3, out.slice(-1500));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      await pumped.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "dev: a supervisor killed outright (SIGKILL) leaves no server behind on the port",
  fn: async () => {
    const { dir, port, child } = await startDev("null");
    const health = () =>
      fetch(`http://127.0.0.1:${port}/health`).then(async (r) => (await r.text(), r.ok), () => false);
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes('"event":"listening"')) {
        const { value, done } = await reader.read();
        if (done) assert.fail(`dev ended before listening:\n${out}`);
        out += value;
      }
      assert.ok(await health());
      child.kill("SIGKILL");
      await child.status;
      const end = Date.now() + 15_000;
      while (await health()) {
        if (Date.now() > end) assert.fail("the server still answers 15 s after its supervisor was killed");
        await new Promise((r) => setTimeout(r, 100));
      }
      await reader.cancel();
    } finally {
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("dev: the lifeline is never followed in production, whatever the environment says", () => {
  assert.equal(followsSupervisor({ SEEDBED_DEV_LIFELINE: "1" }), true);
  assert.equal(followsSupervisor({ SEEDBED_DEV_LIFELINE: "1", APP_ENV: "development" }), true);
  assert.equal(followsSupervisor({ SEEDBED_DEV_LIFELINE: "1", APP_ENV: "production" }), false);
  assert.equal(followsSupervisor({ APP_ENV: "development" }), false);
  assert.equal(followsSupervisor({ SEEDBED_DEV_LIFELINE: "true" }), false);
});
