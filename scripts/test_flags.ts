/**
 * The flags `deno task test` (scripts/test.ts) hands `deno test`. Deno ≥ 2.9 checks for leaked async ops and
 * resources only when asked, so every test is held to it here (dbTest asks for itself too). Must keep both
 * sanitizers: tests/architecture/sanitizers_test.ts runs a leaking test with these flags. Story:
 * docs/testing.md.
 */
export const DENO_TEST_FLAGS = [
  "--allow-all",
  "--no-check",
  "--parallel",
  "--sanitize-ops",
  "--sanitize-resources",
] as const;
