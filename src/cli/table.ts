/**
 * Aligned text tables for the CLI (`migrate history`, `migrate status`,
 * `backup list`, `seed --list`): a header row, columns padded to their
 * widest cell, numbers right-aligned. Plain text, no colour: pipes and
 * `grep` see the same as the terminal. Story: docs/cli.md ("Output").
 */

export interface Column {
  header: string;
  /** Right-align (numbers, sizes). */
  right?: boolean;
}

/** Display width of a string (code points; the CLI prints no wide characters). */
function width(s: string): number {
  return [...s].length;
}

/** Formats `rows` under `columns`; returns the lines (header first). Trailing spaces are trimmed. */
export function formatTable(
  columns: (Column | string)[],
  rows: (string | number | null | undefined)[][],
): string[] {
  const cols = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const cells = rows.map((r) =>
    cols.map((_, i) => (r[i] === null || r[i] === undefined ? "-" : String(r[i])))
  );
  const widths = cols.map((c, i) => Math.max(width(c.header), ...cells.map((r) => width(r[i]))));
  const line = (r: string[]) =>
    r.map((cell, i) => {
      const pad = " ".repeat(widths[i] - width(cell));
      return cols[i].right ? pad + cell : cell + pad;
    }).join("  ").trimEnd();
  return [line(cols.map((c) => c.header)), ...cells.map(line)];
}
