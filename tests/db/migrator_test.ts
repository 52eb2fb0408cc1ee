import assert from "node:assert/strict";
import { sql } from "drizzle-orm";
import { AppError } from "../../src/errors.ts";
import fc from "fast-check";
import type { Database } from "../../src/db/client.ts";
import {
  headVersion,
  migrate,
  migrateDown,
  MIGRATIONS_TABLE,
  migrationStatus,
  planDown,
  readMigrations,
  resolveRevision,
  schemaVersion,
  stamp,
} from "../../src/db/migrator.ts";
import { describeLoss, type LossTarget, lossTargets } from "../../src/db/migration_safety.ts";
import { dbTest, POSTGRES_IS_SERVER } from "../helpers/db.ts";

const ROOT = new URL("../../migrations/", import.meta.url);

/** A scratch copy of the migrations folder that a test may edit. */
async function copyMigrations(): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-mig-" });
  for (const d of ["sqlite", "postgres"]) {
    await Deno.mkdir(`${dir}/${d}/meta`, { recursive: true });
    for await (const f of Deno.readDir(new URL(`${d}/`, ROOT))) {
      if (f.isFile) {
        await Deno.copyFile(
          new URL(`${d}/${f.name}`, ROOT),
          `${dir}/${d}/${f.name}`,
        );
      }
    }
    for await (const f of Deno.readDir(new URL(`${d}/meta/`, ROOT))) {
      await Deno.copyFile(
        new URL(`${d}/meta/${f.name}`, ROOT),
        `${dir}/${d}/meta/${f.name}`,
      );
    }
  }
  return new URL(`file://${dir}/`);
}

dbTest(
  "migrator: status lists pending then applied migrations with hashes",
  async (db) => {
    const before = await migrationStatus(db);
    assert.ok(before.length >= 1);
    assert.ok(
      before.every((s) => s.state === "pending" && /^[0-9a-f]{64}$/.test(s.hash)),
    );
    assert.equal(await schemaVersion(db), null);

    const r = await migrate(db);
    assert.deepEqual(
      r.applied,
      before.map((s) => s.tag),
    );
    const after = await migrationStatus(db);
    assert.ok(
      after.every((s) => s.state === "applied" && s.appliedAt instanceof Date),
    );
    assert.equal(await schemaVersion(db), await headVersion(db));

    // Idempotent: nothing more to apply.
    assert.deepEqual((await migrate(db)).applied, []);
    // The tables exist.
    const n = await db.rows<{ n: number }>(
      sql`SELECT COUNT(*) AS n FROM organizations`,
    );
    assert.equal(Number(n[0].n), 0);
  },
  { migrated: false },
);

dbTest(
  "migrator: a changed migration file is drift, reported and refused",
  async (db) => {
    const root = await copyMigrations();
    try {
      await migrate(db, root);
      const folder = db.dialect === "sqlite" ? "sqlite" : "postgres";
      const status = await migrationStatus(db, root);
      const file = new URL(`${folder}/${status[0].tag}.sql`, root);
      await Deno.writeTextFile(
        file,
        (await Deno.readTextFile(file)) + "\n-- edited after apply\n",
      );
      const drifted = await migrationStatus(db, root);
      assert.equal(drifted[0].state, "drift");
      assert.notEqual(drifted[0].hash, drifted[0].appliedHash);
      await assert.rejects(() => migrate(db, root), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, "MIGRATION_DRIFT");
        assert.match(err.message, new RegExp(status[0].tag));
        return true;
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
  { migrated: false },
);

dbTest("migrator: two replicas starting together apply migrations once", async (db, { url }) => {
  // Two processes, as two replicas would be: both must succeed, and each
  // migration is recorded once (idx is the primary key of the record).
  const cli = new URL("../../src/cli.ts", import.meta.url).pathname;
  const run = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "migrate"],
      env: { DATABASE_URL: url, APP_ENV: "test", LOG_LEVEL: "error" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [a, b] = await Promise.all([run(), run()]);
  const text = (o: Deno.CommandOutput) =>
    new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assert.equal(a.code, 0, text(a));
  assert.equal(b.code, 0, text(b));
  const applied = (text(a) + text(b)).match(/^Applied /gm)?.length ?? 0;
  const status = await migrationStatus(db);
  assert.equal(applied, status.length, "each migration applied exactly once across both processes");
  assert.ok(status.every((s) => s.state === "applied"));
}, { migrated: false, only: POSTGRES_IS_SERVER ? ["libsql", "postgres"] : ["libsql"] });

dbTest("migrator: up --step / --to, down --step / --to / base, one revision at a time", async (db) => {
  const files = await readMigrations(db);
  const tags = files.map((f) => f.tag);
  assert.deepEqual((await migrate(db, undefined, { step: 1 })).applied, [tags[0]]);
  assert.equal(await schemaVersion(db), tags[0]);
  assert.deepEqual((await migrate(db, undefined, { to: "2" })).applied, [tags[1], tags[2]]);
  assert.equal(await schemaVersion(db), tags[2]);
  // A revision behind the current one is refused with the way back.
  await assert.rejects(() => migrate(db, undefined, { to: tags[0] }), /migrate down --to/);
  assert.deepEqual((await migrate(db)).applied, tags.slice(3));
  assert.deepEqual((await migrateDown(db)).reverted, [tags.at(-1)]);
  assert.deepEqual((await migrateDown(db, undefined, { step: 1 })).reverted, [tags.at(-2)]);
  const r = await migrateDown(db, undefined, { to: tags[0] });
  assert.deepEqual(r.reverted, tags.slice(1, -2).reverse());
  assert.equal(r.current, tags[0]);
  assert.equal(await schemaVersion(db), tags[0]);
  // Going "down" to a revision that is not applied is refused, naming where the database is.
  await assert.rejects(() => migrateDown(db, undefined, { to: tags[2] }), new RegExp(`at ${tags[0]}`));
  assert.deepEqual((await migrateDown(db, undefined, { to: "base" })).reverted, [tags[0]]);
  assert.equal(await schemaVersion(db), null);
  assert.deepEqual((await migrateDown(db)).reverted, [], "nothing applied: nothing to revert");
  // The way back up is the same as the first time.
  assert.deepEqual((await migrate(db)).applied, tags);
}, { migrated: false });

Deno.test("migrator: revisions resolve by tag, number, unique prefix, head and base; others are named", () => {
  const files = [{ idx: 0, tag: "0000_initial" }, { idx: 1, tag: "0001_login" }, {
    idx: 12,
    tag: "0012_lease",
  }, {
    idx: 13,
    tag: "0013_leases",
  }];
  assert.equal(resolveRevision(files, "0001_login"), 1);
  assert.equal(resolveRevision(files, "1"), 1);
  assert.equal(resolveRevision(files, "0012"), 12);
  assert.equal(resolveRevision(files, "0000_ini"), 0);
  assert.equal(resolveRevision(files, "head"), 13);
  assert.equal(resolveRevision(files, "base"), -1);
  assert.equal(resolveRevision(files, "001"), 1, "a number is the migration's number before it is a prefix");
  const twins = [{ idx: 0, tag: "0000_add_users" }, { idx: 1, tag: "0001_add_roles" }, {
    idx: 2,
    tag: "x_add_a",
  }, {
    idx: 3,
    tag: "x_add_b",
  }];
  assert.throws(() => resolveRevision(twins, "x_add"), /ambiguous: it matches x_add_a, x_add_b/);
  assert.throws(
    () => resolveRevision(files, "nope"),
    /unknown revision "nope": the migrations are 0000_initial/,
  );
  // Any tag of the list resolves to its own index.
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,8}$/), { minLength: 1, maxLength: 8 }),
      (names) => {
        const list = names.map((n, i) => ({ idx: i, tag: `${String(i).padStart(4, "0")}_${n}` }));
        return list.every((f) =>
          resolveRevision(list, f.tag) === f.idx && resolveRevision(list, String(f.idx)) === f.idx
        );
      },
    ),
  );
});

dbTest(
  "migrator: 'already exists' on a partly migrated database names what is missing, not stamp head",
  async (db) => {
    // Newcomer finding 6: stamp head only when every table of the current schema is there.
    await migrate(db);
    await db.run(`DELETE FROM ${MIGRATIONS_TABLE}`);
    await db.run(
      db.dialect === "postgres" ? `DROP TABLE "login_throttles" CASCADE` : `DROP TABLE "login_throttles"`,
    );
    await assert.rejects(() => migrate(db), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.match(err.message, /already exists/);
      assert.match(
        err.message,
        /not the whole current schema \(missing: login_throttles\): it is partly migrated/,
      );
      assert.doesNotMatch(err.message, /stamp head/);
      return true;
    });
  },
);

dbTest(
  "migrator: seed 000's 'completely stuck' recipe — empty the table, migrate fails with the database's cause, stamp head",
  async (db) => {
    await migrate(db);
    const head = await headVersion(db);
    await db.run(`DELETE FROM ${MIGRATIONS_TABLE}`);
    assert.equal(await schemaVersion(db), null);
    await assert.rejects(() => migrate(db), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, "MIGRATION_FAILED");
      // The database's own words, the statement, and the way out.
      assert.match(err.message, /migration 0000_initial \(up\) failed at statement 1 of \d+/);
      assert.match(err.message, /already exists/);
      assert.match(err.message, db.dialect === "postgres" ? /\[42P07\]/ : /table `?assets`? already exists/);
      assert.match(err.message, /Nothing was changed: the run was rolled back/);
      // The whole schema is there: the way out is stamp head, not stamp 0000_initial (newcomer finding 6).
      assert.match(err.message, /every table of the current schema is there/);
      assert.match(err.message, /`deno task migrate stamp head`/);
      assert.doesNotMatch(err.message, /`deno task migrate stamp 0000_initial`(?! would)/);
      assert.doesNotMatch(err.message, /Failed query/);
      return true;
    });
    assert.equal(await schemaVersion(db), null, "the failed run recorded nothing");
    const r = await stamp(db, "head");
    assert.equal(r.before, null);
    assert.equal(r.after, head);
    assert.equal(r.marked.length, (await readMigrations(db)).length);
    assert.ok((await migrationStatus(db)).every((s) => s.state === "applied"));
    assert.deepEqual((await migrate(db)).applied, []);
    // stamp to an earlier revision forgets the later ones without running anything; stamp base forgets all.
    const s1 = await stamp(db, "0001");
    assert.equal(s1.after, "0001_login_throttles");
    assert.ok(s1.unmarked.length >= 2);
    assert.equal(await schemaVersion(db), "0001_login_throttles");
    await stamp(db, "base");
    assert.equal(await schemaVersion(db), null);
    const n = await db.rows<{ n: number }>(sql`SELECT COUNT(*) AS n FROM login_throttles`);
    assert.equal(Number(n[0].n), 0, "the tables are still there: stamp runs no SQL");
  },
  { migrated: false },
);

dbTest("migrator: stamp re-records a drifted migration with its file's hash", async (db) => {
  const root = await copyMigrations();
  try {
    await migrate(db, root);
    const folder = db.dialect === "sqlite" ? "sqlite" : "postgres";
    const file = new URL(`${folder}/0001_login_throttles.sql`, root);
    await Deno.writeTextFile(file, (await Deno.readTextFile(file)) + "\n-- edited\n");
    await assert.rejects(() => migrateDown(db, root), /migration drift/);
    const r = await stamp(db, "head", root);
    assert.deepEqual(r.rehashed, ["0001_login_throttles"]);
    assert.ok((await migrationStatus(db, root)).every((s) => s.state === "applied"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}, { migrated: false });

/** A migrations root with the given migrations (same SQL shape drizzle-kit writes). */
async function writeRoot(
  migrations: { tag: string; sqlite: [string, string]; postgres: [string, string] }[],
): Promise<URL> {
  const dir = await Deno.makeTempDir({ prefix: "seedbed-mig-custom-" });
  for (const d of ["sqlite", "postgres"] as const) {
    await Deno.mkdir(`${dir}/${d}/meta`, { recursive: true });
    const entries = migrations.map((m, idx) => ({
      idx,
      version: "7",
      when: 1_800_000_000_000 + idx,
      tag: m.tag,
      breakpoints: true,
    }));
    await Deno.writeTextFile(
      `${dir}/${d}/meta/_journal.json`,
      JSON.stringify({ version: "7", dialect: d, entries }),
    );
    for (const m of migrations) {
      await Deno.writeTextFile(`${dir}/${d}/${m.tag}.sql`, m[d][0]);
      await Deno.writeTextFile(`${dir}/${d}/${m.tag}.down.sql`, m[d][1]);
    }
  }
  return new URL(`file://${dir}/`);
}

const BP = "\n--> statement-breakpoint\n";
/** drizzle-kit's SQLite rebuild of `parents` with a new definition of `name`. */
const rebuild = (nameColumn: string) =>
  [
    "PRAGMA foreign_keys=OFF;",
    `CREATE TABLE \`__new_parents\` (\n\t\`id\` integer PRIMARY KEY NOT NULL,\n\t${nameColumn}\n);`,
    'INSERT INTO `__new_parents`("id", "name") SELECT "id", "name" FROM `parents`;',
    "DROP TABLE `parents`;",
    "ALTER TABLE `__new_parents` RENAME TO `parents`;",
    "PRAGMA foreign_keys=ON;",
  ].join(BP);
const PARENT_CHILD = {
  tag: "0000_parents",
  sqlite: [
    "CREATE TABLE `parents` (`id` integer PRIMARY KEY NOT NULL, `name` text NOT NULL);" + BP +
    "CREATE TABLE `children` (`id` integer PRIMARY KEY NOT NULL, `parent_id` integer NOT NULL REFERENCES `parents`(`id`) ON DELETE cascade);",
    "DROP TABLE `children`;" + BP + "DROP TABLE `parents`;",
  ] as [string, string],
  postgres: [
    'CREATE TABLE "parents" ("id" integer PRIMARY KEY NOT NULL, "name" text NOT NULL);' + BP +
    'CREATE TABLE "children" ("id" integer PRIMARY KEY NOT NULL, "parent_id" integer NOT NULL REFERENCES "parents"("id") ON DELETE cascade);',
    'DROP TABLE "children" CASCADE;' + BP + 'DROP TABLE "parents" CASCADE;',
  ] as [string, string],
};
const CHANGE_PARENT_COLUMN = {
  tag: "0001_parents_name_default",
  sqlite: [rebuild("`name` text DEFAULT 'unnamed'"), rebuild("`name` text NOT NULL")] as [string, string],
  postgres: [
    `ALTER TABLE "parents" ALTER COLUMN "name" DROP NOT NULL;${BP}ALTER TABLE "parents" ALTER COLUMN "name" SET DEFAULT 'unnamed';`,
    `ALTER TABLE "parents" ALTER COLUMN "name" DROP DEFAULT;${BP}ALTER TABLE "parents" ALTER COLUMN "name" SET NOT NULL;`,
  ] as [string, string],
};

async function counts(db: Database): Promise<{ parents: number; children: number }> {
  const [r] = await db.rows<{ p: number; c: number }>(
    sql`SELECT (SELECT COUNT(*) FROM parents) AS p, (SELECT COUNT(*) FROM children) AS c`,
  );
  return { parents: Number(r.p), children: Number(r.c) };
}

dbTest(
  "migrator: changing a parent table's column keeps every child row (SQLite rebuild with foreign keys off)",
  async (db) => {
    const root = await writeRoot([PARENT_CHILD, CHANGE_PARENT_COLUMN]);
    try {
      await migrate(db, root, { step: 1 });
      await db.run("INSERT INTO parents (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
      await db.run("INSERT INTO children (id, parent_id) VALUES (1, 1), (2, 1), (3, 2), (4, 3), (5, 3)");
      const before = await counts(db);
      assert.deepEqual(before, { parents: 3, children: 5 });
      assert.deepEqual((await migrate(db, root)).applied, ["0001_parents_name_default"]);
      assert.deepEqual(await counts(db), before, "the rebuild kept the child rows");
      await db.run("INSERT INTO parents (id) VALUES (4)"); // the new default applies
      await db.run("DELETE FROM parents WHERE id = 4");
      // The down migration rebuilds again: still every row.
      assert.deepEqual((await migrateDown(db, root)).reverted, ["0001_parents_name_default"]);
      assert.deepEqual(await counts(db), before, "the down rebuild kept the child rows");
      // Foreign keys are enforced again afterwards (the run switched them off for itself only).
      await assert.rejects(() => db.run("INSERT INTO children (id, parent_id) VALUES (9, 999)"));
      await db.run("DELETE FROM parents WHERE id = 3");
      assert.equal((await counts(db)).children, 3, "ON DELETE CASCADE works after the migration");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
  { migrated: false },
);

dbTest(
  "migrator: a migration that leaves dangling references is rolled back (foreign_key_check before commit)",
  async (db) => {
    const orphan = "INSERT INTO children (id, parent_id) VALUES (99, 12345);";
    const root = await writeRoot([PARENT_CHILD, {
      tag: "0001_orphan",
      sqlite: [orphan, "DELETE FROM children WHERE id = 99;"],
      postgres: [orphan, "DELETE FROM children WHERE id = 99;"],
    }]);
    try {
      await migrate(db, root, { step: 1 });
      await db.run("INSERT INTO parents (id, name) VALUES (1, 'a')");
      await db.run("INSERT INTO children (id, parent_id) VALUES (1, 1)");
      await assert.rejects(() => migrate(db, root), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, "MIGRATION_FAILED");
        assert.match(
          err.message,
          db.dialect === "sqlite"
            ? /1 row\(s\) pointing at rows that do not exist \(children row 99 → parents\)/
            : /foreign key/,
        );
        assert.match(err.message, /rolled back/);
        return true;
      });
      assert.deepEqual(await counts(db), { parents: 1, children: 1 });
      assert.equal(await schemaVersion(db), "0000_parents");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
  { migrated: false },
);

dbTest("migrator: planDown measures the data a down migration would destroy", async (db) => {
  const plan0 = await planDown(db, undefined, { to: "base" });
  assert.deepEqual(plan0.losses, [], "empty tables: nothing to lose");
  await db.run(
    db.dialect === "sqlite"
      ? `INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('a', 1, 0), ('b', 2, 0)`
      : `INSERT INTO login_throttles (key, failures, window_started_at) VALUES ('a', 1, now()), ('b', 2, now())`,
  );
  const plan = await planDown(db, undefined, { to: "0000" });
  assert.deepEqual(
    plan.steps.map((s) => s.tag),
    (await readMigrations(db)).slice(1).map((f) => f.tag).reverse(),
  );
  assert.equal(plan.target, "0000_initial");
  assert.deepEqual(plan.losses.map((l) => [l.tag, l.kind, l.table, l.rows]), [[
    "0001_login_throttles",
    "drop table",
    "login_throttles",
    2,
  ]]);
  assert.equal(describeLoss(plan.losses[0]), "drops table login_throttles (2 rows)");
  // A confirmed plan runs only if the database did not move in between.
  await migrateDown(db, undefined, { step: 1 });
  await assert.rejects(
    () => migrateDown(db, undefined, { to: "0000", expect: plan.steps.map((s) => s.tag) }),
    /changed while you were deciding/,
  );
});

Deno.test("migration safety: every DROP TABLE / DROP COLUMN / DELETE / TRUNCATE is found, in either quoting", () => {
  const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,15}$/);
  const quoted = (n: string) => fc.constantFrom(n, `"${n}"`, `\`${n}\``);
  fc.assert(fc.property(name, name, fc.boolean(), (t, c, lower) => {
    const cases: [string, LossTarget][] = [
      [`DROP TABLE ${`"${t}"`} CASCADE;`, { kind: "drop table", table: t }],
      [`DROP TABLE IF EXISTS \`${t}\`;`, { kind: "drop table", table: t }],
      [`ALTER TABLE "${t}" DROP COLUMN "${c}";`, { kind: "drop column", table: t, column: c }],
      [`ALTER TABLE \`${t}\` DROP COLUMN \`${c}\`;`, { kind: "drop column", table: t, column: c }],
      [`DELETE FROM ${t} WHERE 1 = 1;`, { kind: "delete rows", table: t }],
      [`TRUNCATE TABLE "${t}";`, { kind: "truncate", table: t }],
    ];
    return cases.every(([s, want]) => {
      const got = lossTargets([`-- comment\n${lower ? s.toLowerCase() : s}`]);
      return got.length === 1 && JSON.stringify(got[0]) === JSON.stringify(lower ? lowerTarget(want) : want);
    });
  }));
  fc.assert(fc.property(quoted("users"), (q) => lossTargets([`DROP TABLE ${q};`])[0]?.table === "users"));
  assert.deepEqual(
    lossTargets(['ALTER TABLE "t" ALTER COLUMN "c" DROP NOT NULL;', 'ALTER TABLE "t" DROP CONSTRAINT "x";']),
    [],
  );
});

function lowerTarget(t: LossTarget): LossTarget {
  return { ...t, table: t.table.toLowerCase(), ...(t.column ? { column: t.column.toLowerCase() } : {}) };
}

Deno.test("migration safety: a SQLite rebuild loses exactly the columns its copy leaves out", () => {
  const col = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/);
  fc.assert(
    fc.property(fc.uniqueArray(col, { minLength: 1, maxLength: 8 }), fc.func(fc.boolean()), (cols, keep) => {
      const kept = cols.filter((c, i) => i === 0 || keep(c));
      const statements = [
        `CREATE TABLE \`__new_t\` (${kept.map((c) => `\`${c}\` text`).join(", ")});`,
        `INSERT INTO \`__new_t\`(${kept.map((c) => `"${c}"`).join(", ")}) SELECT ${
          kept.map((c) => `"${c}"`).join(", ")
        } FROM \`t\`;`,
        "DROP TABLE `t`;",
        "ALTER TABLE `__new_t` RENAME TO `t`;",
      ];
      const lost = lossTargets(statements, () => cols).map((l) => l.column);
      return JSON.stringify(lost) === JSON.stringify(cols.filter((c) => !kept.includes(c)));
    }),
  );
});

dbTest(
  "migrator: a migration without its down file cannot be reverted, and says which file is missing",
  async (db) => {
    const root = await copyMigrations();
    try {
      await migrate(db, root);
      const folder = db.dialect === "sqlite" ? "sqlite" : "postgres";
      const last = (await readMigrations(db, root)).at(-1)!.tag;
      await Deno.remove(new URL(`${folder}/${last}.down.sql`, root));
      await assert.rejects(() => migrateDown(db, root), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, "MIGRATION_FAILED");
        assert.match(
          err.message,
          new RegExp(
            `${last} has no down migration \\(migrations/${folder}/${last}\\.down\\.sql is missing\\)`,
          ),
        );
        return true;
      });
      assert.equal(await schemaVersion(db), last, "nothing was reverted");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
  { migrated: false },
);
