/**
 * Postgres URL options: `?host=/socket/dir` connects over the server's Unix socket (libpq's convention, as
 * with a sidecar or Cloud SQL's socket); anything else in `host` is refused with a clear message.
 */
import assert from "node:assert/strict";
import { openDatabase } from "../../src/db/client.ts";
import { sql } from "drizzle-orm";

const PG_URL = Deno.env.get("TEST_DATABASE_URL");
// The server's socket directory: Debian's, or the throw-away server's (scripts/test.ts says where).
const SOCKET_DIR = Deno.env.get("TEST_DATABASE_SOCKET_DIR") ?? "/var/run/postgresql";
const port = PG_URL ? new URL(PG_URL).port || "5432" : "5432";
const hasSocket = (() => {
  try {
    return Deno.statSync(`${SOCKET_DIR}/.s.PGSQL.${port}`).isSocket === true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "postgres: ?host=<directory> connects over the Unix socket",
  // Needs a Postgres server with a socket in the usual directory (CI has one) or the throw-away server's.
  ignore: !PG_URL || !hasSocket,
  fn: async () => {
    const u = new URL(PG_URL!);
    const user = u.password ? `${u.username}:${u.password}` : u.username;
    const withHost = new URL(PG_URL!);
    withHost.searchParams.set("host", SOCKET_DIR);
    // ... and libpq's form, which names no host at all.
    for (
      const url of [
        withHost.toString(),
        // (naming no port either: 5432's socket)
        ...(port === "5432" ? [`postgres://${user}@${u.pathname}?host=${SOCKET_DIR}`] : []),
        `postgres://${user}@:${port}${u.pathname}?host=${SOCKET_DIR}`,
      ]
    ) {
      await viaSocket(url);
    }
  },
});

async function viaSocket(url: string) {
  {
    const db = await openDatabase(url, { maxConnections: 1 });
    try {
      const [row] = await db.rows<{ addr: string | null; one: number }>(
        // inet_server_addr() is null on a Unix-socket connection.
        sql`SELECT inet_server_addr() AS addr, 1 AS one`,
      );
      assert.equal(row.one, 1);
      assert.equal(row.addr, null);
    } finally {
      await db.close();
    }
  }
}

Deno.test("postgres: a host parameter that is not a socket directory is refused, naming it", async () => {
  await assert.rejects(
    openDatabase("postgres://u@127.0.0.1:1/db?host=db.internal"),
    /host "db.internal" in DATABASE_URL must be a Unix socket directory/,
  );
});
