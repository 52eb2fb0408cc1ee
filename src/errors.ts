/**
 * The service's closed error vocabulary. Every failure that reaches a client
 * is an AppError with one of these codes; `http/errors.ts` maps each code to
 * its status in one place and renders `{detail, code, request_id}`.
 * Story: docs/api.md.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 422,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PASSWORD_CHANGE_REQUIRED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  SEEDING_IN_PROGRESS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SEEDING_FAILED: 500,
  RESTORE_FAILED: 500,
  BACKUP_FAILED: 500,
  NOT_IMPLEMENTED: 501,
  STORAGE_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  DATABASE_UNAVAILABLE: 503,
  DATABASE_NOT_MIGRATED: 503,
  STORAGE_UNAVAILABLE: 503,
  BACKUP_INVALID: 422,
  MIGRATION_DRIFT: 500,
  MIGRATION_FAILED: 500,
  /** A destructive operation that needs an explicit confirmation (production reset/restore, a shrinking restore). */
  CONFIRMATION_REQUIRED: 428,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface AppErrorOptions {
  /** Extra, client-safe fields merged into the error body (e.g. `execution_id`). */
  extra?: Record<string, unknown>;
  /** Response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An expected failure with a code, a client-safe message and optional extras. */
export class AppError extends Error {
  readonly status: number;
  readonly extra?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.status = ERROR_STATUS[code];
    this.extra = options.extra;
    this.headers = options.headers;
  }
}

/** Shorthand constructors, one per common case. */
export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const forbidden = (message: string, extra?: Record<string, unknown>) =>
  new AppError("FORBIDDEN", message, { extra });
export const conflict = (message: string, extra?: Record<string, unknown>) =>
  new AppError("CONFLICT", message, { extra });
export const validation = (message: string, extra?: Record<string, unknown>) =>
  new AppError("VALIDATION_ERROR", message, { extra });
