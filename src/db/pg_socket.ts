/**
 * TCP_NODELAY on postgres.js's own sockets, as libpq sets it on every Postgres
 * connection: postgres.js leaves Nagle's algorithm on, and a `COPY … FROM
 * STDIN` ends with a 5-byte CopyDone written right after the data — Nagle
 * holds it until the server's delayed ACK, 40 ms per table, most of a small
 * restore — and every small query pays the same wait when a request is split
 * across two writes. Set per connection through postgres.js's `socket` option
 * (no process-wide patch). Must never change where a connection goes: the
 * hosts, ports and Unix socket path are postgres.js's own. Story: docs/performance.md.
 */
import net from "node:net";

/** What postgres.js hands its `socket` option (its parsed connection options). */
interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
}

/**
 * A postgres.js `socket` option: a connecting `net.Socket` with no-delay set, cycling through the hosts as
 * postgres.js itself does. (postgres.js writes its startup message at once; the socket buffers it until
 * connected.)
 */
export function noDelaySocket(): (options: SocketTarget) => net.Socket {
  let next = 0;
  return (o) => {
    const socket = new net.Socket();
    if (o.path) return socket.connect(o.path);
    socket.setNoDelay(true);
    const i = next;
    next = (next + 1) % Math.max(1, o.port.length);
    return socket.connect(o.port[i] ?? o.port[0], o.host[i] ?? o.host[0]);
  };
}
