/** `tryTransactionLock` (src/db/transaction_lock.ts): held by one transaction until it ends, taken without waiting. */
import assert from "node:assert/strict";
import { openDatabase } from "../../src/db/client.ts";
import { tryTransactionLock } from "../../src/db/transaction_lock.ts";
import { dbTest } from "../helpers/db.ts";

dbTest("transaction lock: a transaction takes it, and takes it again", async (db) => {
  const got = await db.transaction(async (tx) => [
    await tryTransactionLock(db, tx, "test:lock"),
    await tryTransactionLock(db, tx, "test:lock"),
  ]);
  assert.deepEqual(got, [true, true]);
  // Released with the transaction: the next one takes it.
  assert.equal(await db.transaction((tx) => tryTransactionLock(db, tx, "test:lock")), true);
});

dbTest(
  "transaction lock: another transaction is refused while one holds it, and takes it once that one ends",
  async (db, { url }) => {
    const other = await openDatabase(url, { maxConnections: 1 });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let taken!: () => void;
      const isTaken = new Promise<void>((r) => (taken = r));
      const holder = db.transaction(async (tx) => {
        assert.equal(await tryTransactionLock(db, tx, "test:lock"), true);
        taken();
        await held;
      });
      await isTaken;
      assert.equal(await other.transaction((tx) => tryTransactionLock(other, tx, "test:lock")), false);
      assert.equal(await other.transaction((tx) => tryTransactionLock(other, tx, "test:other")), true);
      release();
      await holder;
      assert.equal(await other.transaction((tx) => tryTransactionLock(other, tx, "test:lock")), true);
    } finally {
      await other.close();
    }
  },
  // Two transactions at once: libSQL serializes writers itself (the lock is always granted there).
  { only: ["postgres"], needsServer: true },
);
