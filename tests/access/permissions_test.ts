import assert from "node:assert/strict";
import fc from "fast-check";
import {
  GrantSet,
  normalizePermission,
  parsePermission,
  requirePermission,
} from "../../src/access/permissions.ts";
import { AppError } from "../../src/errors.ts";

Deno.test("permission grammar: the accepted forms", () => {
  assert.deepEqual(parsePermission("crm.read"), {
    kind: "action",
    module: "crm",
    action: "read",
    name: "crm.read",
  });
  assert.deepEqual(parsePermission("users:create"), {
    kind: "action",
    module: "users",
    action: "create",
    name: "users.create",
  });
  assert.deepEqual(parsePermission("crm.*"), { kind: "module", module: "crm", name: "crm.*" });
  assert.deepEqual(parsePermission("crm:*"), { kind: "module", module: "crm", name: "crm.*" });
  assert.deepEqual(parsePermission("crm_admin"), { kind: "module", module: "crm", name: "crm_admin" });
  assert.deepEqual(parsePermission("crm_leads_read"), {
    kind: "submodule",
    module: "crm",
    submodule: "leads",
    action: "read",
    name: "crm_leads_read",
  });
  assert.equal(normalizePermission("CRM.Read"), "crm.read");
  assert.equal(normalizePermission(" seeders:execute "), "seeders.execute");
});

Deno.test("permission grammar: malformed names are rejected with 422 naming the value", () => {
  for (
    const bad of [
      "crm-read",
      "crm read",
      "crm",
      "crm.",
      ".read",
      "crm.read.extra",
      "crm_read",
      "",
      "*",
      "1crm.read",
      "crm:",
    ]
  ) {
    assert.equal(parsePermission(bad), null, bad);
    assert.throws(() => requirePermission(bad), (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.status, 422);
      assert.ok(e.message.includes(`"${bad}"`));
      return true;
    });
  }
});

Deno.test("grant sets: module.*, module_admin, action and submodule grants", () => {
  const g = GrantSet.fromNames(["crm.*", "hr_admin", "users:read", "sales.read", "inventory_stock_update"]);
  assert.ok(g.allows("crm", "delete"));
  assert.ok(g.allows("crm", "anything", "leads"));
  assert.ok(g.allows("hr", "update"));
  assert.ok(g.allows("users", "read"));
  assert.ok(!g.allows("users", "create"));
  assert.ok(g.allows("sales", "read", "orders"));
  assert.ok(!g.allows("sales", "update"));
  assert.ok(g.allows("inventory", "update", "stock"));
  assert.ok(!g.allows("inventory", "update"), "a submodule grant does not cover the whole module");
  assert.ok(!g.allows("inventory", "update", "other"));
  assert.ok(!g.allows("inventory", "read", "stock"));
  const invalid: string[] = [];
  GrantSet.fromNames(["crm-read", "ok.read"], (n) => invalid.push(n));
  assert.deepEqual(invalid, ["crm-read"]);
});

Deno.test("permission grammar: the colon form always means the dotted form (property)", () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
  fc.assert(fc.property(word, word, (m, a) => {
    const dot = parsePermission(`${m}.${a}`);
    const colon = parsePermission(`${m}:${a}`);
    assert.deepEqual(colon, dot);
    const set = GrantSet.fromNames([`${m}:${a}`]);
    assert.ok(set.allows(m, a));
  }));
});

Deno.test("permission grammar: a space, hyphen, slash or hash inside a name is malformed (property)", () => {
  fc.assert(fc.property(fc.string(), fc.constantFrom(" ", "-", "/", "#"), fc.string(), (a, sep, b) => {
    const name = `${a}${sep}${b}`;
    if (name.trim().includes(sep)) assert.equal(parsePermission(name), null);
  }));
});
