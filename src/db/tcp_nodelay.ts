/**
 * TCP_NODELAY on every node:net socket of the process, as libpq sets it on
 * every Postgres connection. postgres.js leaves Nagle's algorithm on, and a
 * `COPY … FROM STDIN` ends with a 5-byte CopyDone written right after the
 * data: Nagle holds it until the server's delayed ACK, 40 ms per table —
 * most of a small restore — and every small query pays the same wait when
 * a request is split across two writes. Imported by `src/db/client.ts`, so
 * it is in place before any connection opens.
 */
import net from "node:net";

const FLAG = Symbol.for("seedbed.tcpNoDelay");
const proto = net.Socket.prototype as unknown as Record<PropertyKey, unknown> & {
  connect: (...args: unknown[]) => unknown;
};
if (!proto[FLAG]) {
  proto[FLAG] = true;
  const connect = proto.connect;
  proto.connect = function (this: net.Socket, ...args: unknown[]) {
    try {
      this.setNoDelay(true);
    } catch { /* not a TCP socket (a Unix socket path): nothing to set */ }
    return connect.apply(this, args);
  };
}
