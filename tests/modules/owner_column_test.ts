/**
 * The record-scope column is the module's to declare (issue 13: "the record-scope column (owner)"): a
 * resource with `owner: "assigneeId"` gets an `assignee_id` column (a user of the organization, indexed)
 * in place of `owner_id` on both dialects, and the registry, the JSON shapes (record and create body) and
 * the create body's owner field follow it. The shipped modules keep `owner_id`. The whole path on a real
 * database (migration, seeding, REST, own scope) is in new_module_test.ts (`--owner`).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { getTableConfig as pgConfig, type PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { defineModuleTables } from "../../src/db/module_tables.ts";
import { pgKit, sqliteKit } from "../../src/db/schema_kit.ts";
import { pgSchema, sqliteSchema } from "../../src/db/schema.ts";
import { defineModule, type ModuleInput, text, user } from "../../src/modules/define.ts";
import { REGISTRY_RESOURCES, resolveRegistry } from "../../src/modules/registry.ts";
import { createShape, RESOURCES } from "../../src/modules/resources.ts";

const desk = (owner?: string) =>
  defineModule({
    key: "desk",
    licensing: { tiers: ["starter"] },
    resources: {
      tickets: {
        table: "desk_tickets",
        type: "desk_ticket",
        noun: "ticket",
        schemaName: "DeskTicket",
        ...(owner ? { owner } : {}),
        fields: { subject: text().notNull(), reviewerId: user() },
        unique: [{ columns: ["subject"] }],
      },
    },
  }) as ModuleInput;

Deno.test("owner: a declared record-scope column replaces owner_id on both dialects, indexed, a user", () => {
  for (
    const [kit, core, dialect] of [[pgKit, pgSchema, "pg"], [sqliteKit, sqliteSchema, "sqlite"]] as const
  ) {
    // The same surface on both dialects for what is read here (columns, foreign keys, indexes).
    const getTableConfig = (t: unknown) =>
      (dialect === "pg" ? pgConfig(t as PgTable) : sqliteConfig(t as SQLiteTable)) as ReturnType<
        typeof pgConfig
      >;
    const tables = defineModuleTables(kit, core, [desk("assigneeId")]) as unknown as Record<string, PgTable>;
    const cfg = getTableConfig(tables.deskTickets);
    const cols = cfg.columns.map((c) => c.name);
    assert.deepEqual(cols.slice(0, 5), ["id", "organization_id", "assignee_id", "created_at", "updated_at"]);
    assert.ok(!cols.includes("owner_id"), "no owner_id beside the declared owner");
    const owner = cfg.columns.find((c) => c.name === "assignee_id")!;
    assert.equal(owner.notNull, true);
    const fk = cfg.foreignKeys.map((f) => f.reference()).find((r) => r.columns[0].name === "assignee_id");
    assert.ok(fk, "assignee_id references users");
    assert.equal(getTableConfig(fk.foreignTable).name, "users");
    const idx = cfg.indexes.find((i) => i.config.name === "desk_tickets_owner_idx");
    assert.deepEqual(idx?.config.columns.map((c) => (c as { name: string }).name), ["assignee_id"]);
    // Without a declaration: owner_id, as every shipped module has.
    const plain = getTableConfig(
      (defineModuleTables(kit, core, [desk()]) as unknown as Record<string, PgTable>).deskTickets,
    );
    assert.equal(plain.columns[2].name, "owner_id");
  }
});

Deno.test("owner: the registry resolves it, and refuses an owner that is no property or already a column", () => {
  const [r] = resolveRegistry([desk("assigneeId")])[0].resources;
  assert.equal(r.ownerKey, "assigneeId");
  assert.equal(r.ownerColumn, "assignee_id");
  assert.equal(resolveRegistry([desk()])[0].resources[0].ownerColumn, "owner_id");
  assert.throws(() => resolveRegistry([desk("reviewerId")]), /owner reviewer_id is already a column/);
  assert.throws(() => resolveRegistry([desk("createdAt")]), /owner created_at is already a column/);
  assert.throws(
    () => resolveRegistry([desk("assignee_id")]),
    /owner "assignee_id" is not a camelCase property/,
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,6}(Id)?$/), (prop) => {
      const clash = ["id", "subject", "createdAt", "updatedAt", "organizationId", "reviewerId"].includes(
        prop,
      );
      if (clash) assert.throws(() => resolveRegistry([desk(prop)]), /already a column/);
      else assert.equal(resolveRegistry([desk(prop)])[0].resources[0].ownerKey, prop);
    }),
  );
});

Deno.test("owner: the create body names the declared owner; every resource that declares none keeps owner_id", () => {
  const [r] = resolveRegistry([desk("assigneeId")])[0].resources;
  const body = createShape(r.fields, "DeskTicketCreate", r.ownerColumn);
  assert.ok("assignee_id" in body.shape && !("owner_id" in body.shape));
  assert.equal(body.safeParse({ subject: "s", assignee_id: 3 }).success, true);
  assert.equal(body.safeParse({ subject: "s", owner_id: 3 }).success, false, "owner_id is no field here");
  // The shipped modules declare none; a user's (`deno task new module … --owner author_id`) may.
  for (const res of RESOURCES) {
    const declared = REGISTRY_RESOURCES.find((x) => x.table === res.sqlTable)!.owner;
    const column = declared ? declared.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`) : "owner_id";
    assert.equal(res.source.ownerColumn, column, `${res.sqlTable}: ${declared ?? "unchanged"}`);
    assert.ok(column in res.output.shape);
  }
  assert.equal(REGISTRY_RESOURCES.length, RESOURCES.length);
});
