/**
 * Turning whatever stopped a run into (a) what the execution record stores —
 * message and full stack trace — and (b) the AppError the caller gets, which
 * always names the execution id.
 * Story: docs/seeding.md ("How the engine works").
 */
import { AppError } from "../errors.ts";
import { translateDbError } from "../db/errors.ts";
import { SeederFailure } from "./runner.ts";

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error) {
      parts.push(depth === 0 ? (cur.stack ?? cur.message) : `Caused by: ${cur.stack ?? cur.message}`);
      cur = cur instanceof SeederFailure ? cur.original : cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join("\n");
}

/** What the record stores about a failure. */
export function describeFailure(err: unknown): { message: string; traceback: string } {
  if (err instanceof SeederFailure) {
    const inner = translateDbError(err.original);
    const message = inner instanceof Error ? inner.message : String(inner);
    return {
      message: `${err.seeder} failed: ${message}`,
      traceback: `${err.seeder} failed\n${stackOf(err.original)}`,
    };
  }
  const e = translateDbError(err);
  return { message: e instanceof Error ? e.message : String(e), traceback: stackOf(err) };
}

/**
 * The error for the caller: the original code when it has one, else SEEDING_FAILED; always with
 * `run_execution_id`, the failed run's own record — never `execution_id`, which is the restore request's field
 * (a restore of `{"execution_id": 99}` that fails must not answer `"execution_id": 9`).
 */
export function failureError(err: unknown, executionId: number): AppError {
  const { message } = describeFailure(err);
  const inner = err instanceof SeederFailure ? translateDbError(err.original) : translateDbError(err);
  if (inner instanceof AppError && !(err instanceof SeederFailure)) {
    return new AppError(inner.code, inner.message, {
      extra: { ...inner.extra, run_execution_id: executionId },
      headers: inner.headers,
      cause: err,
    });
  }
  return new AppError("SEEDING_FAILED", `seeding failed (execution ${executionId}): ${message}`, {
    extra: { run_execution_id: executionId, ...(err instanceof SeederFailure ? { seeder: err.seeder } : {}) },
    cause: err,
  });
}
