/**
 * Every migration has a way back: on both dialects, each migration is applied
 * up, then down, then up again, and the schema (tables, columns, types,
 * indexes, constraints, triggers, functions) must equal the state before each
 * step. A missing or wrong down file fails here (and `deno task db:check`).
 */
import assert from "node:assert/strict";
import { migrate, migrateDown, migrationStatus, readMigrations } from "../../src/db/migrator.ts";
import { checkMigrationFiles } from "../../src/db/migration_files.ts";
import { dbTest } from "../helpers/db.ts";
import { schemaSnapshot } from "../helpers/schema_snapshot.ts";

dbTest("migrations: every migration round-trips up → down → up with an identical schema", async (db) => {
  const files = await readMigrations(db);
  assert.ok(files.length >= 4);
  const base = await schemaSnapshot(db);
  for (const f of files) {
    assert.ok(f.down, `${f.tag} has a down file`);
    const before = await schemaSnapshot(db);
    assert.deepEqual((await migrate(db, undefined, { step: 1 })).applied, [f.tag]);
    const after = await schemaSnapshot(db);
    assert.deepEqual((await migrateDown(db, undefined, { step: 1 })).reverted, [f.tag]);
    assert.deepEqual(await schemaSnapshot(db), before, `${f.tag}: down restores the schema before it`);
    await migrate(db, undefined, { step: 1 });
    assert.deepEqual(await schemaSnapshot(db), after, `${f.tag}: up again gives the same schema`);
  }
  // All the way back and forth in one run each.
  const head = await schemaSnapshot(db);
  assert.equal((await migrateDown(db, undefined, { to: "base" })).reverted.length, files.length);
  assert.deepEqual(await schemaSnapshot(db), base);
  assert.ok((await migrationStatus(db)).every((s) => s.state === "pending"));
  await migrate(db);
  assert.deepEqual(await schemaSnapshot(db), head);
}, { migrated: false });

Deno.test("migrations: the committed files pass the db:check file rules (down files, same names)", async () => {
  assert.deepEqual(await checkMigrationFiles(), []);
});

Deno.test("migrations: db:check's file rules fail on a missing down file, an orphan down file and differing names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-check-" });
  try {
    const write = async (folder: string, tags: string[], downs: string[]) => {
      await Deno.mkdir(`${dir}/${folder}/meta`, { recursive: true });
      const entries = tags.map((tag, idx) => ({ idx, version: "7", when: 0, tag, breakpoints: true }));
      await Deno.writeTextFile(`${dir}/${folder}/meta/_journal.json`, JSON.stringify({ entries }));
      for (const t of tags) await Deno.writeTextFile(`${dir}/${folder}/${t}.sql`, "SELECT 1;");
      for (const t of downs) await Deno.writeTextFile(`${dir}/${folder}/${t}.down.sql`, "SELECT 1;");
    };
    await write("sqlite", ["0000_a", "0001_b"], ["0000_a", "0001_b"]);
    await write("postgres", ["0000_a", "0001_b"], ["0000_a", "0001_b"]);
    const root = new URL(`file://${dir}/`);
    assert.deepEqual(await checkMigrationFiles(root), []);
    await Deno.remove(`${dir}/postgres/0001_b.down.sql`);
    await write("sqlite", ["0000_a", "0001_b", "0002_sqlite_name"], ["0002_sqlite_name", "0009_gone"]);
    const problems = await checkMigrationFiles(root);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems[0], /migrations\/sqlite\/0009_gone\.down\.sql has no up migration/);
    assert.match(
      problems[1],
      /migrations\/postgres\/0001_b\.down\.sql is missing: every migration needs a down file/,
    );
    assert.match(problems[2], /only in sqlite: 0002_sqlite_name; only in postgres: -.*db:generate --name/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
