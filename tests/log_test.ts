/** The JSON-lines logger: one object per line, no repeated keys, secrets redacted. */
import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";

function capture(level: "debug" | "info" = "info") {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, { service: "seedbed" }, (l) => lines.push(l)) };
}

/** Every key of a JSON object line, in order, repeats included (JSON.parse would hide them). */
function keysOf(line: string): string[] {
  return [...line.matchAll(/[{,]"([^"]+)":/g)].map((m) => m[1]);
}

Deno.test("log: a child's field given again replaces it instead of repeating the key", () => {
  const { lines, logger } = capture();
  const child = logger.child({ execution_id: 7, seeder: "RolesSeeder" });
  child.info("seeder_completed", { execution_id: 7, created: 3 });
  child.info("seeder_started", { created: 0 });
  for (const line of lines) {
    const keys = keysOf(line);
    assert.deepEqual(keys, [...new Set(keys)], `repeated key in ${line}`);
  }
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: JSON.parse(lines[0]).ts,
    level: "info",
    event: "seeder_completed",
    service: "seedbed",
    execution_id: 7,
    seeder: "RolesSeeder",
    created: 3,
  });
  const overridden = JSON.parse((child.info("x", { seeder: "Other" }), lines[2]));
  assert.equal(overridden.seeder, "Other");
});

Deno.test("log: levels filter, and credentials are redacted at any depth", () => {
  const { lines, logger } = capture("info");
  logger.debug("hidden");
  logger.info("login", { password: "hunter2", nested: { access_token: "abc.def.ghi", ok: 1 } });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("hunter2"));
  assert.ok(!lines[0].includes("abc.def.ghi"));
  assert.equal(JSON.parse(lines[0]).nested.ok, 1);
});
