/**
 * The fault suite's cast: real server processes (`src/main.ts` with exactly
 * the permissions of `deno task start`), a Postgres schema they share, an S3
 * server, and a TCP proxy that can be cut and restored. Every log line a
 * replica writes is kept, so tests can check what was (and was not) logged.
 * Story: docs/reliability.md.
 */
import assert from "node:assert/strict";
import { freePort } from "../helpers/ports.ts";
export { freePort };

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

/** The flags of `deno task start` (read from deno.json, so the test runs what production runs). */
async function startFlags(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = config.tasks.start;
  const args = task.split(/\s+/);
  return args.slice(args.indexOf("run") + 1, args.indexOf("src/main.ts"));
}

export const ADMIN = { email: "admin@foodfleet.com", password: "SuperAdmin@123" };
export const SECRET_KEY = "fault-suite-secret-key-0123456789abcdefghij";

/** A `deno task start` process. */
export class Replica {
  readonly lines: string[] = [];
  #child!: Deno.ChildProcess;
  #pump!: Promise<void>;
  #listening!: Promise<void>;
  exited!: Promise<Deno.CommandStatus>;

  private constructor(readonly name: string, readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Starts a replica and waits until it listens (or throws with its output when it exits first). */
  static async start(name: string, env: Record<string, string>): Promise<Replica> {
    const r = new Replica(name, freePort());
    r.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...(await startFlags()), MAIN],
      cwd: ROOT,
      env: {
        APP_ENV: "test",
        LOG_LEVEL: "info",
        SEED_DEMO: "true",
        SECRET_KEY,
        HOST: "127.0.0.1",
        PORT: String(r.port),
        SHUTDOWN_TIMEOUT_SECONDS: "2",
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    r.exited = r.#child.status;
    let heard!: () => void;
    r.#listening = new Promise((resolve) => (heard = resolve));
    const read = async (stream: ReadableStream<Uint8Array>, tag: string) => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          r.lines.push(tag + line);
          if (line.includes('"event":"listening"')) heard();
        }
      }
      if (rest) r.lines.push(tag + rest);
    };
    r.#pump = Promise.all([read(r.#child.stdout, ""), read(r.#child.stderr, "stderr: ")]).then(() => {});
    // Up when it logs "listening" (LOG_LEVEL info) or answers /health (any level).
    const health = (async () => {
      for (let exited = false; !exited;) {
        try {
          const res = await fetch(`${r.url}/health`);
          await res.body?.cancel();
          if (res.ok) return "up";
        } catch { /* not yet */ }
        let timer: ReturnType<typeof setTimeout> | undefined;
        exited = await Promise.race([
          r.exited.then(() => true),
          new Promise<boolean>((ok) => timer = setTimeout(() => ok(false), 100)),
        ]);
        clearTimeout(timer); // never outlives the wait (the sanitizers)
      }
      return "exited";
    })();
    const first = await Promise.race([r.#listening.then(() => "up"), health, r.exited.then(() => "exited")]);
    if (first !== "up") {
      await r.#pump;
      throw new Error(`replica ${name} exited before listening:\n${r.lines.join("\n")}`);
    }
    return r;
  }

  /** Log records (the JSON lines of stdout). */
  get records(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  }

  /** Sends a signal (SIGKILL: the process gets no chance to clean up). */
  kill(signal: Deno.Signal = "SIGKILL"): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`) and waits for its output. */
  async stop(graceMs = 10_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    await this.#pump;
    return status;
  }

  async request(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; ms: number }> {
    const started = performance.now();
    const res = await fetch(this.url + path, {
      method,
      headers: {
        ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { text };
    }
    return { status: res.status, body, headers: res.headers, ms: performance.now() - started };
  }

  /** A super admin's bearer token. */
  async login(who = ADMIN): Promise<string> {
    const r = await this.request("POST", "/api/v1/auth/login", { body: who });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.access_token as string;
  }
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined (or `timeoutMs` passes). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 20_000, everyMs = 50 } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A promise given to `within` had not settled in time. */
export class StillWaiting extends Error {}

/** Settles as `p` does within `ms`, or rejects with StillWaiting (so a missing deadline fails, not hangs). */
export function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StillWaiting(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A TCP proxy in front of a server, that a test can cut (every connection
 * reset, new ones refused) and restore: a database or S3 outage on demand
 * without touching the shared server.
 */
export class CuttableProxy {
  readonly port: number;
  #listener: Deno.Listener | null = null;
  #conns = new Set<Deno.Conn>();
  #accepting: Promise<void> = Promise.resolve();

  constructor(readonly target: { hostname: string; port: number }) {
    this.port = freePort();
  }

  /** Starts (or resumes) forwarding. */
  open(): void {
    if (this.#listener) return;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = listener;
    this.#accepting = (async () => {
      for await (const conn of listener) this.#forward(conn);
    })().catch(() => {});
  }

  async #forward(conn: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect(this.target);
    } catch {
      conn.close();
      return;
    }
    this.#conns.add(conn);
    this.#conns.add(upstream);
    const pump = async (from: Deno.Conn, to: Deno.Conn) => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buf);
          if (n === null) break;
          // Stalled: bytes are held (a server that stopped answering, a black-holed network).
          while (this.#stalled) await this.#resumed;
          let off = 0;
          while (off < n) off += await to.write(buf.subarray(off, n));
        }
      } catch { /* cut */ }
      for (const c of [from, to]) {
        try {
          c.close();
        } catch { /* closed */ }
        this.#conns.delete(c);
      }
    };
    await Promise.all([pump(conn, upstream), pump(upstream, conn)]);
  }

  #stalled = false;
  #resume: () => void = () => {};
  #resumed: Promise<void> = Promise.resolve();

  /** Holds every byte in both directions (connections stay open) until `resume()`. */
  stall(): void {
    if (this.#stalled) return;
    this.#stalled = true;
    this.#resumed = new Promise((r) => (this.#resume = r));
  }

  resume(): void {
    this.#stalled = false;
    this.#resume();
  }

  /** Cuts every connection and refuses new ones until `open()`. */
  async cut(): Promise<void> {
    this.resume();
    this.#listener?.close();
    this.#listener = null;
    await this.#accepting;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }
}

/** The Postgres server the suite runs against, or undefined (the suite is then skipped). */
export const PG_URL = Deno.env.get("TEST_DATABASE_URL");

/** A fresh schema URL on TEST_DATABASE_URL and a function that drops it. */
export function freshSchema(base = PG_URL!): { url: string; schema: string } {
  const schema = `f_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
  const u = new URL(base);
  u.searchParams.set("schema", schema);
  return { url: u.toString(), schema };
}
