/**
 * The little of the `libsql` native binding (the driver under @libsql/client)
 * that `libsql.ts` uses. Declared here rather than taken from the package,
 * whose types pull in Node's and clash with the Web Crypto types jose uses.
 * Story: docs/architecture.md.
 */
export interface NativeStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Rows as arrays (throws for a statement that returns no data). */
  raw(on?: boolean): NativeStatement;
  safeIntegers(on?: boolean): NativeStatement;
  columns(): { name: string; type: string | null }[];
}
export default class NativeDatabase {
  constructor(path: string, options?: { timeout?: number });
  exec(sql: string): void;
  prepare(sql: string): NativeStatement;
  close(): void;
}
