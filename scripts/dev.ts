/**
 * `deno task dev`: runs src/main.ts and restarts it when the code, migrations or `.env` change. Its own
 * watcher, not `deno run --watch`: since Deno 2.7.7 that restart is a synthetic SIGTERM, which the server
 * cannot tell from a real one (so it either died on the first edit or outlived a real SIGTERM). Here a
 * SIGTERM or SIGINT to this process stops the server gracefully and ends dev for good; a server that exits
 * by itself (a bad `.env`) waits for the next change. Story: docs/cli.md ("Development server").
 */
import { relative, resolve, sep } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;
/** The folders whose files make the server (src/main.ts's graph, the migrations it applies). */
const CODE_DIRS = ["src", "modules", "seeders", "migrations", "vendor"];
const ROOT_FILES = new Set(["deno.json", "deno.lock"]);
const CODE_FILE = /\.(ts|js|mjs|json|sql)$/;
/**
 * Edits arrive as bursts (save = write + rename + chmod; `new module` writes four files, `db:generate` two
 * dialects' migrations): one restart per burst.
 */
const SETTLE_MS = 400;
/** How long a stopping server may drain before it is killed (main.ts's own budget is shorter in dev). */
const STOP_DEADLINE_MS = 15_000;

/**
 * Whether a changed path restarts the server: a code, SQL or JSON file under a code folder (under
 * migrations/, the SQL only: drizzle-kit's snapshots in `meta/` are not read by the server), deno.json or
 * deno.lock at the root, or `.env` in the working directory (main.ts reads it from there). Not `.data/`
 * (the embedded S3 writes there), node_modules, editors' swap and backup files.
 */
export function restartsOn(path: string, root = ROOT, cwd = Deno.cwd()): boolean {
  const abs = resolve(path);
  if (abs === resolve(cwd, ".env")) return true;
  const rel = relative(root, abs);
  if (rel.startsWith("..") || rel === "") return false;
  const parts = rel.split(sep);
  if (parts.length === 1) return ROOT_FILES.has(parts[0]);
  if (parts[0] === "migrations") return !parts.some((p) => p.startsWith(".")) && rel.endsWith(".sql");
  return CODE_DIRS.includes(parts[0]) && !parts.some((p) => p.startsWith(".")) && CODE_FILE.test(rel);
}

function say(text: string) {
  console.error(`%cdev%c ${text}`, "color: blue", "");
}

function startServer(): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--v8-flags=--max-semi-space-size=4,--expose-gc", `${ROOT}src/main.ts`],
    // The lifeline: the server stops when this pipe closes, so a killed supervisor leaves no server behind.
    env: { SEEDBED_DEV_LIFELINE: "1" },
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
}

/** SIGTERM (a graceful stop), then SIGKILL after the deadline. */
async function stopServer(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGTERM");
  } catch { /* already exited */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((r) =>
    timer = setTimeout(() => {
      say(`the server did not stop within ${STOP_DEADLINE_MS / 1000} s: killing it`);
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
      r();
    }, STOP_DEADLINE_MS)
  );
  await Promise.race([child.status, killed]);
  clearTimeout(timer);
  return await child.status;
}

/** Closes the lifeline of a server that has ended (one pipe per server, else one leaks per restart). */
function release(child: Deno.ChildProcess): void {
  child.stdin.close().catch(() => {});
}

async function dev(): Promise<never> {
  let server = startServer();
  let exited = false;
  let stopping = false;
  /** Servers this script is stopping: their exit is not news. */
  const stopped = new WeakSet<Deno.ChildProcess>();
  const watch = (child: Deno.ChildProcess) =>
    child.status.then((s) => {
      release(child);
      if (stopped.has(child) || stopping) return;
      exited = true;
      say(`the server exited (${s.signal ?? `code ${s.code}`}); restarting on the next change…`);
    });
  watch(server);

  // A real SIGTERM or SIGINT (Ctrl-C reaches the server too, as one process group): stop for good, then
  // end by the same signal, as a shell expects.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    const listener = async () => {
      if (stopping) return;
      stopping = true;
      await stopServer(server);
      Deno.removeSignalListener(signal, listener);
      Deno.kill(Deno.pid, signal);
    };
    Deno.addSignalListener(signal, listener);
  }

  const dirs = CODE_DIRS.map((d) => `${ROOT}${d}`).filter((d) => {
    try {
      return Deno.statSync(d).isDirectory;
    } catch {
      return false;
    }
  });
  const watchers = [
    Deno.watchFs(dirs, { recursive: true }),
    // The root and the working directory for deno.json, deno.lock and .env (not recursive: not .data/).
    Deno.watchFs([...new Set([ROOT, Deno.cwd()])], { recursive: false }),
  ];
  let changed: string | null = null;
  let settle: ReturnType<typeof setTimeout> | undefined;
  let restarting = Promise.resolve();
  const restart = () => {
    const path = changed!;
    changed = null;
    restarting = restarting.then(async () => {
      if (stopping) return;
      say(`${relative(Deno.cwd(), path) || path} changed: restarting`);
      stopped.add(server);
      if (!exited) await stopServer(server);
      if (stopping) return;
      exited = false;
      server = startServer();
      watch(server);
    });
  };
  await Promise.all(watchers.map(async (w) => {
    for await (const event of w) {
      if (event.kind === "access" || event.kind === "other") continue;
      const path = event.paths.find((p) => restartsOn(p));
      if (!path) continue;
      changed ??= path;
      clearTimeout(settle);
      settle = setTimeout(restart, SETTLE_MS);
    }
  }));
  throw new Error("the file watcher ended");
}

if (import.meta.main) await dev();
