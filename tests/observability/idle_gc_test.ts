/**
 * The idle collector (src/observability/idle_gc.ts) on a fake clock: two full collections once the server has
 * been quiet for the idle time after serving requests, never while a request is in flight, never twice for
 * one busy spell, never before any request. No wall-clock time is involved.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { startIdleCollector } from "../../src/observability/idle_gc.ts";

function harness(idleMs = 10_000) {
  const state = { now: 0, started: 0, inFlight: 0, gcs: 0 };
  const collector = startIdleCollector({
    started: () => state.started,
    inFlight: () => state.inFlight,
    idleMs,
    gc: () => void state.gcs++,
    now: () => state.now,
    intervalMs: 0,
  });
  return { state, collector };
}

Deno.test("idle collector: collects twice after a busy spell once quiet for the idle time, once", () => {
  const { state, collector } = harness();
  assert.equal(collector.tick(), false, "nothing served yet");
  state.now = 60_000;
  assert.equal(collector.tick(), false, "idle since start, but never busy");
  state.started = 500;
  state.now = 61_000;
  assert.equal(collector.tick(), false, "activity seen: the quiet time starts now");
  state.now = 61_000 + 9_999;
  assert.equal(collector.tick(), false, "not quiet long enough");
  assert.equal(state.gcs, 0);
  state.now = 61_000 + 10_000;
  assert.equal(collector.tick(), true);
  assert.equal(state.gcs, 2, "one collection frees, the second compacts");
  state.now += 60_000;
  assert.equal(collector.tick(), false, "once per busy spell");
  assert.equal(state.gcs, 2);
});

Deno.test("idle collector: a request in flight (or a new one) holds it off", () => {
  const { state, collector } = harness();
  state.started = 1;
  state.inFlight = 1;
  collector.tick();
  state.now = 100_000;
  assert.equal(collector.tick(), false, "a long request is still running");
  state.inFlight = 0;
  assert.equal(collector.tick(), false, "quiet only from now on");
  state.now += 5_000;
  state.started = 2;
  assert.equal(collector.tick(), false, "a new request restarts the quiet time");
  state.now += 9_000;
  assert.equal(collector.tick(), false);
  state.now += 1_000;
  assert.equal(collector.tick(), true);
});

Deno.test("idle collector: without V8's gc (no --expose-gc) it never collects and sets no timer", () => {
  const c = startIdleCollector({
    started: () => 1,
    inFlight: () => 0,
    gc: undefined,
    now: () => 0,
    idleMs: 0,
  });
  // globalThis.gc is absent in the test runner unless --expose-gc was given.
  if (!(globalThis as { gc?: unknown }).gc) assert.equal(c.tick(), false);
  c.stop();
});

Deno.test("idle collector (property): it collects only when the last activity is idleMs behind and nothing runs", () => {
  fc.assert(fc.property(
    fc.array(
      fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), newRequests: fc.nat(3), inFlight: fc.nat(2) }),
      {
        maxLength: 60,
      },
    ),
    (steps) => {
      const idleMs = 10_000;
      const { state, collector } = harness(idleMs);
      let lastActivity = 0;
      let dirty = false;
      for (const s of steps) {
        state.now += s.dt;
        state.started += s.newRequests;
        state.inFlight = s.inFlight;
        const before = state.gcs;
        const collected = collector.tick();
        if (s.newRequests > 0 || s.inFlight > 0) {
          lastActivity = state.now;
          dirty = true;
          assert.equal(collected, false, "never while busy");
        } else if (dirty && state.now - lastActivity >= idleMs) {
          assert.equal(collected, true);
          dirty = false;
        } else assert.equal(collected, false);
        assert.equal(state.gcs - before, collected ? 2 : 0);
      }
    },
  ));
});
