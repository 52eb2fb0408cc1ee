/**
 * postgres.js's own sockets, through its `socket` option (no process-wide patch):
 *
 * - TCP_NODELAY on every connection, as libpq sets it: postgres.js leaves
 *   Nagle's algorithm on, and a `COPY … FROM STDIN` ends with a 5-byte
 *   CopyDone written right after the data — Nagle holds it until the server's
 *   delayed ACK, 40 ms per table, most of a small restore — and every small
 *   query pays the same wait when a request is split across two writes.
 * - A client-side response deadline (DATABASE_RESPONSE_TIMEOUT_MS): a
 *   connection whose server has sent nothing for that long while a statement
 *   is outstanding is destroyed, and its queries fail with RESPONSE_TIMEOUT
 *   (503). That is a black-holed network (packets dropped, no reset): the
 *   server's statement timeout cannot reach the client then, and the kernel
 *   would wait minutes. The deadline follows the statement timeout exactly:
 *   inside a transaction that lifted it (`LIFT_STATEMENT_TIMEOUT`, bulk work:
 *   seeding, restore, backup, migrations), until that transaction ends, there
 *   is none. Over TLS the bytes cannot be read, so there is none either.
 *
 * The watcher reads only the framing of the wire protocol (message types and
 * lengths), never a value. Must never change where a connection goes (the
 * hosts, ports and Unix socket path are postgres.js's own), and never cut a
 * statement the server itself would still let run. Story: docs/reliability.md.
 */
import net from "node:net";

/**
 * The statement that lifts the statement timeout for one transaction. Every
 * lift must send exactly this text: it is also what lifts the client-side
 * response deadline on the connection.
 */
export const LIFT_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = 0";

/** What postgres.js hands its `socket` option (its parsed connection options). */
interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
  ssl?: unknown;
}

export interface SocketOptions {
  /** Drop a connection silent for this long while a statement is outstanding (0 or absent: never). */
  responseTimeoutMs?: number;
}

/** The error a connection's queries fail with when its response deadline passes. */
export class ResponseTimeoutError extends Error {
  readonly code = "RESPONSE_TIMEOUT";
  constructor(ms: number) {
    super(
      `the database sent nothing for ${ms} ms while a statement was outstanding (DATABASE_RESPONSE_TIMEOUT_MS): connection dropped`,
    );
    this.name = "ResponseTimeoutError";
  }
}

/**
 * A postgres.js `socket` option: a connecting `net.Socket` with no-delay set (and the response
 * deadline, when asked), cycling through the hosts as postgres.js itself does. (postgres.js writes its
 * startup message at once; the socket buffers it until connected.) `destroyAll` closes every socket it made
 * that is still open and resolves once each has closed (postgres.js clears its timers on close).
 */
export function noDelaySocket(
  options: SocketOptions = {},
): ((target: SocketTarget) => net.Socket) & { destroyAll(): Promise<void> } {
  let next = 0;
  const open = new Set<net.Socket>();
  const destroyAll = async () => {
    await Promise.all([...open].map((s) =>
      new Promise<void>((resolve) => {
        s.once("close", () => resolve());
        s.destroy();
      })
    ));
  };
  return Object.assign((o: SocketTarget) => {
    const socket = new net.Socket();
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    const tls = Boolean(o.ssl) && o.ssl !== "disable";
    if (options.responseTimeoutMs && !tls) watchResponses(socket, options.responseTimeoutMs);
    if (o.path) return socket.connect(o.path);
    socket.setNoDelay(true);
    const i = next;
    next = (next + 1) % Math.max(1, o.port.length);
    return socket.connect(o.port[i] ?? o.port[0], o.host[i] ?? o.host[0]);
  }, { destroyAll });
}

const enc = new TextEncoder();
const LIFT = enc.encode(LIFT_STATEMENT_TIMEOUT);
const READY_FOR_QUERY = 0x5a; // 'Z'
const QUERY = 0x51; // 'Q': a simple query, answered by one ReadyForQuery
const SYNC = 0x53; // 'S': the end of an extended-protocol batch, answered by one ReadyForQuery
const IDLE = 0x49; // 'I': ReadyForQuery's status outside a transaction block

/** Reads message boundaries (type byte, then a length that counts itself) across chunks. */
class Framing {
  /** The header being read (type byte and length), reused: one per message would be one per row. */
  readonly #header = new Uint8Array(5);
  #have = 0;
  #rest = 0;
  #type = 0;
  #first = false;

  /** `startup`: the first message has no type byte (the client's StartupMessage). */
  constructor(private startup: boolean) {}

  /** Calls `onType(type)` at each message's header, `onFirstByte(type, byte)` at its body's first byte. */
  read(
    chunk: Uint8Array,
    onType: (type: number) => void,
    onFirstByte?: (type: number, byte: number) => void,
  ) {
    for (let i = 0; i < chunk.length;) {
      if (this.#rest > 0) {
        if (this.#first) {
          this.#first = false;
          onFirstByte?.(this.#type, chunk[i]);
        }
        const take = Math.min(this.#rest, chunk.length - i);
        i += take;
        this.#rest -= take;
        continue;
      }
      this.#header[this.#have++] = chunk[i++];
      const size = this.startup ? 4 : 5;
      if (this.#have < size) continue;
      const h = this.#header;
      const at = size - 4;
      const length = ((h[at] << 24) | (h[at + 1] << 16) | (h[at + 2] << 8) | h[at + 3]) >>> 0;
      this.#type = this.startup ? 0 : h[0];
      this.startup = false;
      this.#have = 0;
      this.#rest = Math.max(0, length - 4);
      this.#first = this.#rest > 0;
      onType(this.#type);
    }
  }
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  for (let i = haystack.indexOf(first); i !== -1 && i <= haystack.length - needle.length;) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
    i = haystack.indexOf(first, i + 1);
  }
  return false;
}

/** Per-connection state of the response deadline, for tests. */
export interface ResponseWatch {
  /** ReadyForQuery messages the server still owes. */
  readonly owed: number;
  /** Inside a transaction that lifted the statement timeout. */
  readonly lifted: boolean;
  /** The deadline, in ms. */
  readonly deadlineMs: number;
}

/** The watches of open connections (tests read them; never used for decisions). */
export const responseWatches = new Set<ResponseWatch>();

/** Installs the response deadline on a socket postgres.js is about to use (see the module comment). */
function watchResponses(socket: net.Socket, ms: number): void {
  const state = { owed: 0, lifted: false, deadlineMs: ms };
  const out = new Framing(true);
  const inn = new Framing(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = undefined;
    if (state.owed > 0 && !state.lifted) {
      timer = setTimeout(() => socket.destroy(new ResponseTimeoutError(ms)), ms);
    }
  };
  const sent = (chunk: unknown) => {
    if (!(chunk instanceof Uint8Array)) return;
    const waiting = state.owed > 0;
    out.read(chunk, (type) => {
      // The StartupMessage (type 0) is answered by a ReadyForQuery too, once the session is ready.
      if (type === QUERY || type === SYNC || type === 0) state.owed++;
    });
    if (!state.lifted && contains(chunk, LIFT)) state.lifted = true;
    // Silence is measured from the first unanswered write, not from every write after it.
    if (!waiting || state.lifted) arm();
  };
  // Node's net (and Deno's) re-assign `write` on the instance while connecting: wrap whatever is there.
  let inner = socket.write;
  const wrapper = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    sent(chunk);
    return (inner as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  };
  Object.defineProperty(socket, "write", {
    configurable: true,
    enumerable: true,
    get: () => wrapper,
    set: (f) => (inner = f),
  });
  socket.on("data", (chunk: Uint8Array) => {
    inn.read(chunk, () => {}, (type, status) => {
      if (type !== READY_FOR_QUERY) return;
      state.owed = Math.max(0, state.owed - 1);
      if (status === IDLE) state.lifted = false;
    });
    arm();
  });
  responseWatches.add(state);
  socket.once("close", () => {
    clearTimeout(timer);
    responseWatches.delete(state);
  });
}
