/**
 * A transaction (or a reserved connection) whose Postgres session dies under it (a restart, a failover,
 * pg_terminate_backend): its later statements fail, none runs on the reconnected connection outside it, no
 * other caller's query fails with it, and nothing throws where no caller can catch it. postgres.js 3.4.9 did
 * the opposite (porsager/postgres#1155, #1208): Seedbed imports it from vendor/postgres with the fix in
 * vendor/postgres/seedbed.patch. Story: docs/reliability.md.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { sql } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import postgres from "postgres";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";
import { StillWaiting, within } from "../faults/helpers.ts";

/** Uncaught errors and unhandled rejections while `fn` runs (each would end a Seedbed process). */
async function escaped(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onError = (e: ErrorEvent) => (seen.push(`uncaught: ${e.message}`), e.preventDefault());
  const onRejection = (e: PromiseRejectionEvent) => (
    seen.push(`unhandled rejection: ${(e.reason as Error)?.message ?? e.reason}`), e.preventDefault()
  );
  addEventListener("error", onError);
  addEventListener("unhandledrejection", onRejection);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50)); // an immediate or a late rejection lands here
  } finally {
    removeEventListener("error", onError);
    removeEventListener("unhandledrejection", onRejection);
  }
  return seen;
}

dbTest(
  "closed session (property): a transaction's statement after its session died fails, never runs outside it, and nothing escapes",
  async (_db, { url }) => {
    // One connection, so a query waiting for it makes postgres.js reconnect that very connection object.
    const db = await openDatabase(url, { maxConnections: 1 });
    const admin = await openDatabase(url, { maxConnections: 1 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 120 }),
          fc.integer({ min: 0, max: 2 }),
          async (waitMs, queued) => {
            const name = `closed-session-${crypto.randomUUID()}`;
            let write: "landed in the transaction" | "failed" | "not reached" = "not reached";
            const seen = await escaped(async () => {
              // A statement that never settles is a failure here, not a hung test.
              await within(
                5_000,
                db.transaction(async (tx) => {
                  const [{ pid }] = await db.rows<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`, tx);
                  const others = Array.from(
                    { length: queued },
                    () => db.rows(sql`SELECT pg_sleep(0.02)`).catch(() => null),
                  );
                  await admin.run(sql`SELECT pg_terminate_backend(${pid}, 5000)`);
                  await new Promise((r) => setTimeout(r, waitMs));
                  const insert = (suffix: string) =>
                    db.run(
                      sql`INSERT INTO sms_templates (name, body, variables, created_at, updated_at)
                      VALUES (${name + suffix}, 'b', '[]', now(), now())`,
                      tx,
                    ).then(() => "landed in the transaction" as const, () => "failed" as const);
                  // Several statements of the transaction at once (pipelined), as concurrent work sends them.
                  const writes = await Promise.all([
                    insert(""),
                    ...Array.from({ length: queued }, (_, i) => insert(`-${i}`)),
                  ]);
                  write = writes.includes("landed in the transaction")
                    ? "landed in the transaction"
                    : "failed";
                  await Promise.all(others);
                  throw new Error("roll back");
                }),
              ).catch((err) => {
                if (err instanceof StillWaiting) throw err;
              });
            });
            assert.deepEqual(seen, [], "nothing escapes to the process");
            assert.notEqual(
              write,
              "landed in the transaction",
              "the session was gone: the write cannot succeed",
            );
            // The statement may still be on its way when the transaction gives up: wait for it either way.
            await new Promise((r) => setTimeout(r, 150));
            const [{ n }] = await admin.rows<{ n: number }>(
              sql`SELECT count(*)::int AS n FROM sms_templates WHERE name LIKE ${name + "%"}`,
            );
            assert.equal(
              Number(n),
              0,
              `the write ran outside its transaction (${write}, after ${waitMs} ms)`,
            );
          },
        ),
        { numRuns: 10 },
      );
      // The pool works on afterwards.
      assert.deepEqual(await db.rows(sql`SELECT 1 AS one`), [{ one: 1 }]);
    } finally {
      await db.close();
      await admin.close();
    }
  },
  { only: ["postgres"], needsServer: true },
);

Deno.test({
  name:
    "closed session: a reserved connection's statement after its session died fails alone; the query the pool reconnects that connection for still runs",
  ignore: !POSTGRES_IS_SERVER,
  async fn() {
    const url = Deno.env.get("TEST_DATABASE_URL")!;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 3; i++) {
        const pool = postgres(url, { max: 1, backoff: () => 0.5, onnotice: () => {} });
        try {
          const seen = await escaped(async () => {
            const reserved = await pool.reserve();
            const [{ pid }] = await reserved`SELECT pg_backend_pid() AS pid`;
            await admin`SELECT pg_terminate_backend(${pid}, 5000)`;
            await new Promise((r) => setTimeout(r, 50));
            // The pool's only connection is closed: this query makes the pool reconnect it.
            const other = within(5_000, pool`SELECT 'other' AS v`.then((r) => r[0].v as string));
            await new Promise((r) => setTimeout(r, 10));
            await assert.rejects(within(5_000, reserved`SELECT 1`), /CONNECTION_CLOSED/);
            assert.equal(await other, "other", "another caller's query is not failed with it");
          });
          assert.deepEqual(seen, [], "nothing escapes to the process");
        } finally {
          await pool.end({ timeout: 1 });
        }
      }
    } finally {
      await admin.end();
    }
  },
});
