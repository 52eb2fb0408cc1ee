import { denoInvocation } from "../../src/deno_command.ts";
import assert from "node:assert/strict";
import { AppError } from "../../src/errors.ts";
import { openDatabase } from "../../src/db/client.ts";
import { isConnectionLoss, translateDbError } from "../../src/db/errors.ts";
import { dbTest } from "../helpers/db.ts";
import { DIALECT_FOLDERS, migrationCreatesTable } from "../../src/db/migration_files.ts";

dbTest(
  "db errors: unique and foreign-key violations become CONFLICT",
  async (db) => {
    const { organizations, users } = db.t;
    await db.db.insert(organizations).values({ name: "Acme", slug: "acme" });
    const dup = await db.db.insert(organizations).values({
      name: "Acme",
      slug: "acme-2",
    }).catch((e) => e);
    const e1 = translateDbError(dup);
    assert.ok(e1 instanceof AppError, String(dup));
    assert.equal(e1.code, "CONFLICT");
    assert.match(e1.message, /already exists/);

    const fk = await db.db.insert(users).values({
      email: "x@example.com",
      passwordHash: "h",
      role: "admin",
      organizationId: 9999,
    }).catch((e) => e);
    const e2 = translateDbError(fk);
    assert.ok(e2 instanceof AppError, String(fk));
    assert.equal(e2.code, "CONFLICT");
    assert.match(e2.message, /reference/);
  },
);

dbTest("db: a failed transaction leaves nothing behind", async (db) => {
  const { organizations } = db.t;
  await assert.rejects(() =>
    db.transaction(async (tx) => {
      await tx.insert(organizations).values({ name: "Gone", slug: "gone" });
      throw new Error("boom");
    })
  );
  assert.equal((await db.db.select().from(organizations)).length, 0);
});

Deno.test("db errors: connection refused becomes DATABASE_UNAVAILABLE", async () => {
  const err = await openDatabase("postgres://postgres@127.0.0.1:1/none").catch((
    e,
  ) => e);
  assert.ok(err instanceof AppError, String(err));
  assert.equal(err.code, "DATABASE_UNAVAILABLE");
  assert.ok(!err.message.includes("postgres@"));
  assert.equal(err.headers?.["Retry-After"], "1", "an outage is worth retrying: say when");
});

Deno.test("db errors: lost connections are 503 with Retry-After and retryable; bad credentials are not retryable", () => {
  const lost = ["ECONNRESET", "EPIPE", "CONNECTION_CLOSED", "57P01", "08006"];
  for (const code of lost) {
    const e = translateDbError(Object.assign(new Error(`x ${code}`), { code }));
    assert.ok(e instanceof AppError && e.code === "DATABASE_UNAVAILABLE", code);
    assert.equal(e.headers?.["Retry-After"], "1", code);
    assert.ok(isConnectionLoss(e.cause), code);
  }
  // Drizzle's wrapper around the driver's error: found through the cause chain.
  const wrapped = new Error("Failed query: select 1\nparams: ", {
    cause: Object.assign(new Error("This socket has been ended by the other party"), { code: "EPIPE" }),
  });
  assert.ok(isConnectionLoss(wrapped));
  for (const code of ["28P01", "3D000", "CONNECT_TIMEOUT", "23505"]) {
    assert.ok(!isConnectionLoss(Object.assign(new Error(code), { code })), code);
  }
  const timeout = translateDbError(
    Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014" }),
  );
  assert.ok(timeout instanceof AppError);
  assert.equal(timeout.status, 503);
  assert.equal(timeout.headers?.["Retry-After"], "1");
  assert.match(timeout.message, /DATABASE_STATEMENT_TIMEOUT_MS/);
});

dbTest(
  "db errors: a query on an unmigrated database says to run the migrations",
  async (db) => {
    const err = translateDbError(
      await db.db.select().from(db.t.organizations).catch((e) => e),
    );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, "DATABASE_NOT_MIGRATED");
    assert.match(
      err.message,
      /table organizations is missing\): run `(deno|npx -y deno@2) task migrate` first$/,
    );
    assert.doesNotMatch(err.message, /db:generate/, "a migration creates it: migrating is the way");
  },
  { migrated: false },
);

dbTest(
  "db errors: a table no migration creates (a new module before db:generate) says to run db:generate first",
  async (db) => {
    // Every migration applied; the schema has a table none of them creates (`deno task new module bookings`).
    const err = translateDbError(await db.run("SELECT id FROM bookings").catch((e) => e));
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, "DATABASE_NOT_MIGRATED");
    // Commands as the user can run them (`deno …`, or `npx -y deno@2 …` without Deno), dev named.
    const d = denoInvocation();
    assert.equal(
      err.message,
      "the database is not migrated (table bookings is missing) and no migration creates it yet: run " +
        `\`${d} task db:generate --name add_bookings\` first (a running \`deno task dev\` then applies it by ` +
        `itself; elsewhere \`${d} task migrate\`)`,
    );
  },
);

Deno.test("db errors: which tables the migrations create is read again when a journal changes", async () => {
  const root = await Deno.makeTempDir({ prefix: "seedbed-created-tables-" });
  const url = new URL(`file://${root}/`);
  const write = async (tables: string[]) => {
    for (const folder of DIALECT_FOLDERS) {
      await Deno.mkdir(`${root}/${folder}/meta`, { recursive: true });
      const entries = tables.map((t, idx) => ({ idx, tag: `000${idx}_add_${t}`, when: 0 }));
      for (const [i, t] of tables.entries()) {
        const q = folder === "sqlite" ? "`" : '"';
        const sql = i % 2
          ? `CREATE TABLE ${q}__new_${t}${q} (id integer);\nALTER TABLE ${q}__new_${t}${q} RENAME TO ${q}${t}${q};`
          : `CREATE TABLE ${q}${t}${q} (id integer);`;
        await Deno.writeTextFile(`${root}/${folder}/${entries[i].tag}.sql`, sql);
      }
      await Deno.writeTextFile(`${root}/${folder}/meta/_journal.json`, JSON.stringify({ entries }));
      // A journal written in the same millisecond as the last one would keep the cache.
      await Deno.utime(
        `${root}/${folder}/meta/_journal.json`,
        new Date(),
        new Date(Date.now() + tables.length),
      );
    }
  };
  try {
    assert.equal(migrationCreatesTable("bookings", url), null, "no migrations to read");
    await write(["organizations"]);
    assert.equal(migrationCreatesTable("organizations", url), true);
    assert.equal(migrationCreatesTable("bookings", url), false);
    await write(["organizations", "bookings"]);
    assert.equal(migrationCreatesTable("bookings", url), true, "a rebuilt table renamed to it counts");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  // The shipped migrations create every module table of the registry.
  assert.equal(migrationCreatesTable("restaurants"), true);
  assert.equal(migrationCreatesTable("crm_leads"), true);
});

Deno.test({
  name: "db errors: a database that does not exist is named as such, not as unreachable",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  fn: async () => {
    const u = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    u.pathname = `/seedbed_missing_${crypto.randomUUID().slice(0, 8)}`;
    u.search = "";
    const err = await openDatabase(u.toString()).catch((e) => e);
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, "DATABASE_UNAVAILABLE");
    assert.match(err.message, /does not exist: create it first/);
  },
});

Deno.test({
  name: "db errors: a database that refuses connections is 503, never a 500",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  fn: async () => {
    const admin = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    admin.search = "";
    const name = `seedbed_closed_${crypto.randomUUID().slice(0, 8)}`;
    // CREATE / DROP DATABASE copy and remove a whole database: under load they outlast the default
    // statement timeout, which is not what this test is about.
    const root = await openDatabase(admin.toString(), {
      maxConnections: 1,
      timeouts: { statementTimeoutMs: 0 },
    });
    try {
      await root.run(`CREATE DATABASE ${name} ALLOW_CONNECTIONS false`);
      const u = new URL(admin);
      u.pathname = `/${name}`;
      const err = await openDatabase(u.toString()).catch((e) => e);
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, "DATABASE_UNAVAILABLE");
      assert.match(err.message, /not accepting connections/);
    } finally {
      await root.run(`DROP DATABASE IF EXISTS ${name}`);
      await root.close();
    }
  },
});

Deno.test({
  name: "db errors: refused credentials (28000) and no free connections (53300) are 503s that say so",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  fn: async () => {
    const admin = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    admin.search = "";
    const root = await openDatabase(admin.toString(), { maxConnections: 1 });
    const suffix = crypto.randomUUID().slice(0, 8);
    // A role that may not log in (the server refuses the credentials) and one allowed no connection at all.
    const refused = `seedbed_nologin_${suffix}`;
    const full = `seedbed_nolimit_${suffix}`;
    try {
      // (With passwords, for a server that asks for one: the throw-away server of scripts/test.ts does.)
      await root.run(`CREATE ROLE ${refused} NOLOGIN PASSWORD 'right-password'`);
      await root.run(`CREATE ROLE ${full} LOGIN CONNECTION LIMIT 0 PASSWORD 'right-password'`);
      const as = (user: string) => {
        const u = new URL(admin);
        u.username = user;
        u.password = "right-password";
        return u.toString();
      };
      let err = await openDatabase(as(refused)).catch((e) => e);
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, "DATABASE_UNAVAILABLE");
      assert.match(err.message, /refused the credentials in DATABASE_URL/);
      err = await openDatabase(as(full)).catch((e) => e);
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, "DATABASE_UNAVAILABLE");
      assert.match(err.message, /no free connections; retry shortly/);
      assert.equal(err.headers?.["Retry-After"], "1");
    } finally {
      await root.run(`DROP ROLE IF EXISTS ${refused}`);
      await root.run(`DROP ROLE IF EXISTS ${full}`);
      await root.close();
    }
  },
});
