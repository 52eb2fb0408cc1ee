/**
 * The benches' HTTP load generator: N keep-alive connections over raw TCP, one request in flight each, for a
 * number of seconds after a warm-up; requests/s and latency percentiles. Used by bench/access_bench.ts and
 * bench/records_bench.ts (in a child process of their own, so that it does not share the server's CPU).
 */
export interface Target {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}
export interface Result {
  requests: number;
  /** Requests sent during the warm-up (not in the figures; for per-request CPU over the whole load). */
  warmupRequests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * A minimal HTTP/1.1 keep-alive client over raw TCP: one request in flight
 * per connection, the request bytes encoded once. Much lighter than fetch(),
 * so on a small machine the generator steals less CPU from the server.
 */
const DECODER = new TextDecoder();

class Connection {
  #buf = new Uint8Array(0);
  #chunk = new Uint8Array(64 * 1024);
  private constructor(private readonly conn: Deno.TcpConn, private readonly request: Uint8Array) {}

  static async open(url: URL, request: Uint8Array): Promise<Connection> {
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    conn.setNoDelay(true);
    return new Connection(conn, request);
  }

  /** Sends the request and reads one whole response; returns the status. */
  async roundTrip(): Promise<number> {
    await writeAll(this.conn, this.request);
    let headerEnd = -1;
    while ((headerEnd = indexOfCrlfCrlf(this.#buf)) < 0) await this.#fill();
    const head = DECODER.decode(this.#buf.subarray(0, headerEnd));
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let bodyStart = headerEnd + 4;
    if (length) {
      const end = bodyStart + Number(length[1]);
      while (this.#buf.length < end) await this.#fill();
      this.#buf = this.#buf.slice(end);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      for (;;) {
        let lineEnd: number;
        while ((lineEnd = indexOfCrlf(this.#buf, bodyStart)) < 0) await this.#fill();
        const size = parseInt(DECODER.decode(this.#buf.subarray(bodyStart, lineEnd)), 16);
        const next = lineEnd + 2 + size + 2;
        while (this.#buf.length < next) await this.#fill();
        bodyStart = next;
        if (size === 0) break;
      }
      this.#buf = this.#buf.slice(bodyStart);
    } else throw new Error("response without content-length or chunked encoding");
    return status;
  }

  async #fill(): Promise<void> {
    const n = await this.conn.read(this.#chunk);
    if (n === null) throw new Error("connection closed");
    if (this.#buf.length === 0) {
      this.#buf = this.#chunk.slice(0, n);
      return;
    }
    const merged = new Uint8Array(this.#buf.length + n);
    merged.set(this.#buf);
    merged.set(this.#chunk.subarray(0, n), this.#buf.length);
    this.#buf = merged;
  }

  close() {
    this.conn.close();
  }
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}
function indexOfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) return i;
  return -1;
}

function encodeRequest(t: Target): Uint8Array {
  const url = new URL(t.url);
  const body = t.body ?? "";
  const headers = {
    host: url.host,
    connection: "keep-alive",
    ...t.headers,
    ...(body ? { "content-length": String(new TextEncoder().encode(body).length) } : {}),
  };
  const lines = [
    `${t.method} ${url.pathname}${url.search} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

export async function load(
  target: Target,
  connections: number,
  seconds: number,
  warmup: number,
): Promise<Result> {
  const url = new URL(target.url);
  const request = encodeRequest(target);
  const conns = await Promise.all(Array.from({ length: connections }, () => Connection.open(url, request)));
  const run = async (secs: number, record: boolean) => {
    const lat: number[] = [];
    let errors = 0;
    let count = 0;
    const deadline = performance.now() + secs * 1000;
    const worker = async (c: Connection) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await c.roundTrip();
        count++;
        if (status >= 300) errors++;
        if (record) lat.push(performance.now() - t0);
      }
    };
    const start = performance.now();
    await Promise.all(conns.map(worker));
    return { lat, errors, count, elapsed: (performance.now() - start) / 1000 };
  };
  const warm = await run(warmup, false);
  const { lat, errors, elapsed } = await run(seconds, true);
  for (const c of conns) c.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return {
    requests: lat.length,
    warmupRequests: warm.count,
    errors,
    seconds: elapsed,
    rps: lat.length / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    max: lat[lat.length - 1],
  };
}
