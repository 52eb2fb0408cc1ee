/**
 * Which driver a DATABASE_URL selects, read from the URL alone (config validates it before any database is
 * opened; `openDatabase` in client.ts dispatches on it).
 * Story: docs/configuration.md.
 */

/** Which driver a DATABASE_URL selects. */
export type DatabaseKind = "libsql" | "postgres";

/** Classifies a DATABASE_URL, or returns null when no driver accepts it. */
export function databaseKind(url: string): DatabaseKind | null {
  if (
    url === ":memory:" || url.startsWith("file:") || /^libsql:\/\//.test(url)
  ) return "libsql";
  if (/^https?:\/\//.test(url) || /^wss?:\/\//.test(url)) return "libsql";
  if (/^postgres(ql)?:\/\//.test(url)) return "postgres";
  return null;
}
