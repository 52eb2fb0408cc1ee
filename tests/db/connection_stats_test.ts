/** Connections as the Postgres server sees them (src/db/connection_stats.ts); null without a server to ask. */
import assert from "node:assert/strict";
import { databaseConnections, poolConnections } from "../../src/db/connection_stats.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";

dbTest(
  "connection stats: by state on a Postgres server, this pool's by its name; null elsewhere",
  async (db, {
    dialect,
  }) => {
    const all = await databaseConnections(db);
    const pool = await poolConnections(db);
    if (dialect === "libsql" || !POSTGRES_IS_SERVER) {
      // libSQL has no server; the embedded PGlite is one session in this process.
      assert.deepEqual([all, pool], [null, null]);
      return;
    }
    // The query itself is one active connection, of this database and of this pool.
    assert.ok((all?.active ?? 0) >= 1, JSON.stringify(all));
    assert.ok((pool?.active ?? 0) >= 1, JSON.stringify(pool));
    const total = (r: Record<string, number> | null) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);
    assert.ok(total(pool) <= total(all), "the pool's connections are among the database's");
  },
);
