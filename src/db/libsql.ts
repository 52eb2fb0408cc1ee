/**
 * libSQL client setup. A local SQLite database is single-writer, and the
 * libSQL client hands each transaction its own connection; to keep readers
 * from failing with SQLITE_LOCKED while a transaction runs (notably on the
 * shared-cache in-memory database of `deno task dev`), every operation of
 * this process goes through one queue. Across processes, `busy_timeout`
 * makes writers wait for each other instead of failing at once.
 *
 * Reads outside a transaction (a plain SELECT through `client.execute`) take
 * a shortcut around the queue: the hot reader (`libsql_reader.ts`). Anything
 * it cannot do goes to the client. (A read does not wait for a write issued
 * but not yet awaited — await a write before reading what it wrote.)
 * Story: docs/architecture.md.
 */
import { type Client, createClient, type Transaction, type TransactionMode } from "@libsql/client";
import { HotReader } from "./libsql_reader.ts";
import type { Paths } from "../paths.ts";

const PRAGMAS = ["PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 10000"];

/** A FIFO async mutex. */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return ready;
  }
}

/** Opens a libSQL client and returns it with a credential-free label. */
export async function openLibsql(
  url: string,
  authToken?: string,
  paths: Paths = "fast",
): Promise<{ client: Client; label: string; prepareRow: RowReaderFactory | null; file: string | null }> {
  let target = url;
  let label = url;
  let cleanup: (() => void) | undefined;
  if (url === ":memory:") {
    // The libSQL client gives every transaction its own connection, and a
    // plain :memory: database is private to one connection. So an ephemeral
    // database file stands in for it: on /dev/shm (RAM) where available,
    // removed when the database is closed.
    const dir = await ephemeralDir();
    const path = `${dir}/seedbed-${crypto.randomUUID()}.db`;
    target = `file:${path}`;
    label = ":memory:";
    cleanup = () => {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) {
        try {
          Deno.removeSync(path + suffix);
        } catch { /* already gone */ }
      }
    };
  } else if (/^(libsql|https?|wss?):\/\//.test(url)) {
    const u = new URL(url);
    u.searchParams.delete("authToken");
    label = `${u.protocol}//${u.host}${u.pathname}`;
  }
  const raw = createClient({ url: target, authToken, intMode: "number" });
  const local = raw.protocol === "file";
  if (!local) return { client: raw, label, prepareRow: null, file: null };
  let reader: HotReader | null = null;
  const close = raw.close.bind(raw);
  raw.close = () => {
    reader?.close();
    close();
    cleanup?.();
  };

  const mutex = new Mutex();
  let freshConnection = true;
  const prepare = async () => {
    if (!freshConnection) return;
    freshConnection = false;
    for (const p of PRAGMAS) await raw.execute(p);
    if (!target.includes("mode=memory")) {
      await raw.execute("PRAGMA journal_mode = WAL");
    }
  };
  const serial = async <T>(fn: () => Promise<T>): Promise<T> => {
    const release = await mutex.lock();
    try {
      await prepare();
      return await fn();
    } finally {
      release();
    }
  };
  const client = new Proxy(raw, {
    get(target, prop, receiver) {
      switch (prop) {
        case "execute":
          return (...a: Parameters<Client["execute"]>) => {
            const fast = reader && a.length === 1 ? reader.select(a[0]) : undefined;
            return fast ? Promise.resolve(fast) : serial(() => target.execute(...a));
          };
        case "batch":
          return (...a: Parameters<Client["batch"]>) => serial(() => target.batch(...a));
        case "executeMultiple":
          return (s: string) => serial(() => target.executeMultiple(s));
        case "migrate":
          return (s: Parameters<Client["migrate"]>[0]) => serial(() => target.migrate(s));
        case "transaction":
          return async (mode?: TransactionMode) => {
            const release = await mutex.lock();
            let tx: Transaction;
            try {
              await prepare();
              tx = await target.transaction(mode);
              // The client opens a new connection for whatever comes next.
              freshConnection = true;
            } catch (err) {
              release();
              throw err;
            }
            return guardTransaction(tx, release);
          };
        default: {
          const v = Reflect.get(target, prop, receiver);
          return typeof v === "function" ? v.bind(target) : v;
        }
      }
    },
  });
  await client.execute("SELECT 1");
  const main = (await client.execute("PRAGMA database_list")).rows.find((r) => r.name === "main");
  const mainFile = typeof main?.file === "string" && main.file ? main.file : null;
  // The hot reader opens exactly the file the client opened (asked, not re-derived from the URL, whose
  // percent-encoding and fragments the client interprets), and only a plain file in WAL mode.
  if (paths === "fast" && !target.includes("?") && mainFile) reader = new HotReader(mainFile);
  const hot = reader;
  return {
    client,
    label,
    prepareRow: hot && ((query) => hot.prepare(query)),
    // The ephemeral file behind :memory: is one process's: nobody else could look at its locks.
    file: url === ":memory:" ? null : mainFile,
  };
}

/** Makes a reader for one constant single-row query (see `Database.prepareRow`). */
export type RowReaderFactory = <T>(query: string) => () => T | undefined;

/** Releases the queue when the transaction ends, however it ends. */
function guardTransaction(tx: Transaction, release: () => void): Transaction {
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      release();
    }
  };
  return new Proxy(tx, {
    get(target, prop, receiver) {
      if (prop === "commit" || prop === "rollback") {
        return async () => {
          try {
            await target[prop]();
          } finally {
            finish();
          }
        };
      }
      if (prop === "close") {
        return () => {
          try {
            target.close();
          } finally {
            finish();
          }
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

async function ephemeralDir(): Promise<string> {
  try {
    const st = await Deno.stat("/dev/shm");
    if (st.isDirectory) {
      await Deno.writeTextFile("/dev/shm/.seedbed-probe", "");
      await Deno.remove("/dev/shm/.seedbed-probe");
      return "/dev/shm";
    }
  } catch { /* not available or not writable */ }
  return await Deno.makeTempDir({ prefix: "seedbed-" });
}
