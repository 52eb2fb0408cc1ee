/**
 * Every failure of the suite used to end with Deno's "This program assigned to Object.prototype.__proto__ …
 * run again with --unsafe-proto" (newcomer finding 16): s3rver's request logger (koa-logger → chalk 2)
 * assigns `builder.__proto__` on the first request. The embedded S3 drops that logger; a program that uses it
 * and then fails shows only its own error.
 */
import assert from "node:assert/strict";

Deno.test("embedded S3: a failure after using it carries no --unsafe-proto hint", async () => {
  const program = new URL("./fixtures/proto_hint_program.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", program],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  assert.match(stderr, /the expected failure/);
  assert.doesNotMatch(stderr, /unsafe-proto|Object\.prototype\.__proto__/);
});
