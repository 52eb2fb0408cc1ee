/**
 * Confirmation of destructive operations in production (issue 12, finding
 * 6): a reset or a restore replaces every tenant's data, so in production
 * the API needs `"confirm": "<database name>"` and the CLI asks on a
 * terminal (or needs --force). Dry runs touch nothing and need none.
 * Story: docs/backups.md ("Production confirmation").
 */
import { AppError } from "../errors.ts";

/** The name an operator types to confirm: the Postgres database, the libSQL file or host. */
export function databaseName(label: string): string {
  const pg = /^postgres(?:ql)?:\/\/[^/]*\/([^?]+)/.exec(label);
  if (pg) return decodeURIComponent(pg[1]);
  if (label.startsWith("file:")) return label.slice(5).split(/[\\/]/).pop() || label;
  const url = /^[a-z]+:\/\/([^/?]+)/.exec(label);
  if (url) return url[1];
  return label;
}

/** Throws CONFIRMATION_REQUIRED unless `confirm` names the database (production only). */
export function requireConfirmation(
  opts: { production: boolean; label: string; confirm?: string; what: string },
): void {
  if (!opts.production) return;
  const name = databaseName(opts.label);
  if (opts.confirm === name) return;
  throw new AppError(
    "CONFIRMATION_REQUIRED",
    `${opts.what} in production replaces every tenant's data: ` +
      (opts.confirm === undefined
        ? `repeat the request with "confirm": "${name}" (the database name)`
        : `"confirm" must be the database name "${name}", got "${opts.confirm.slice(0, 100)}"`) +
      " — or preview it first with a dry run",
    { extra: { database: name } },
  );
}
