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

Deno.test("log: no line carries an e-mail address or a failed query's parameters (unless LOG_PERSONAL_DATA)", async () => {
  const fc = (await import("fast-check")).default;
  const { errorMessage, logPersonalData } = await import("../src/log.ts");
  const { lines, logger } = capture("debug");
  // Drizzle's wrapper: "Failed query: <sql>\nparams: <values>", around the driver's error.
  const driver = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
    code: "CONNECTION_CLOSED",
  });
  const failed = new Error(
    "Failed query: select * from users where email = $1\nparams: manager@testcorp.com,Bob O'Neil",
    { cause: driver },
  );
  logger.error("request_failed", { error: failed.message, stack: failed.stack, target: "admin@globex.com" });
  logger.info("x", { nested: { who: ["exec@testcorp.com"] } });
  assert.deepEqual(errorMessage(failed), { message: driver.message, stack: driver.stack });
  assert.deepEqual(errorMessage(new Error("Failed query: select 1\nparams: a")), {
    message: "a database statement failed",
  });
  const text = lines.join("\n");
  assert.doesNotMatch(text, /testcorp\.com|globex\.com|O'Neil/);
  assert.match(text, /params: \[redacted\]/);
  assert.match(text, /\[email\]/);
  assert.match(lines[0], /\\n {4}at /, "the stack frames after the parameters are kept");
  // Any e-mail address, in any field, at any depth.
  fc.assert(
    fc.property(fc.emailAddress(), fc.string(), (email, other) => {
      const out: string[] = [];
      createLogger("info", {}, (l) => out.push(l)).info("e", { a: `${other} ${email}`, b: { c: [email] } });
      return !out[0].toLowerCase().includes(email.toLowerCase());
    }),
  );
  // The explicit debug switch.
  logPersonalData(true);
  try {
    const out: string[] = [];
    createLogger("info", {}, (l) => out.push(l)).info("e", { a: "admin@globex.com" });
    assert.match(out[0], /admin@globex\.com/);
  } finally {
    logPersonalData(false);
  }
});

Deno.test("log guard: the test suite's default logger refuses a line with personal data", async () => {
  const { guardedLogger, personalDataIn } = await import("./helpers/log_guard.ts");
  const { logPersonalData } = await import("../src/log.ts");
  assert.equal(personalDataIn('{"event":"x","target":"[email]"}'), null);
  assert.equal(personalDataIn('{"error":"params: [redacted]"}'), null);
  assert.equal(personalDataIn('{"target":"manager@testcorp.com"}'), "manager@testcorp.com");
  assert.match(personalDataIn('{"error":"params: 42,Bob"}')!, /^params: 42/);
  guardedLogger().info("login", { target: "manager@testcorp.com" }); // scrubbed before the guard sees it
  logPersonalData(true);
  try {
    assert.throws(() => guardedLogger().info("login", { target: "manager@testcorp.com" }), /personal data/);
  } finally {
    logPersonalData(false);
  }
});
