/**
 * Rows-based progress for backup, verify and restore: the services open a
 * pass (what, which object, how many rows when known) and report rows per
 * batch — never per row, so the hot path stays as it was. The default does
 * nothing; the CLI draws a progress line (src/cli/context.ts).
 * Story: docs/cli.md ("Output").
 */

export interface RowPass {
  kind: "backup" | "verify" | "restore";
  /** The object written or read. */
  key: string;
  /** Rows in all, when known (a manifest's total_rows); null for a backup being written. */
  totalRows: number | null;
}

export interface RowProgress {
  /** `n` more rows of `table` done (called once per batch). */
  rows(n: number, table: string): void;
  /** The pass is over (finished or failed). */
  done(): void;
}

export type RowProgressFactory = (pass: RowPass) => RowProgress;

const NONE: RowProgress = { rows() {}, done() {} };

/** Reports nothing. */
export const noRowProgress: RowProgressFactory = () => NONE;
