/**
 * The migration files on disk: one folder per dialect (`migrations/sqlite`,
 * `migrations/postgres`), drizzle-kit's journal in `meta/_journal.json`, and
 * for every up file `<tag>.sql` its down file `<tag>.down.sql` next to it.
 *
 * Must never break: the up file's SHA-256 is what `seedbed_migrations`
 * records (drift detection); a journal entry without both files is an error
 * that `deno task db:check` reports. Story: docs/migrations.md.
 */

export const DIALECT_FOLDERS = ["sqlite", "postgres"] as const;
export type MigrationFolder = typeof DIALECT_FOLDERS[number];

export const DEFAULT_MIGRATIONS_ROOT = new URL("../../migrations/", import.meta.url);

/** One direction of a migration: its SQL split into statements. */
export interface MigrationScript {
  /** Path relative to the migrations root, e.g. `sqlite/0001_login_throttles.down.sql`. */
  path: string;
  hash: string;
  statements: string[];
  /** The leading `--` comment of the file (what the migration is for), if any. */
  comment: string;
}

export interface MigrationFile {
  idx: number;
  tag: string;
  /** Hash of the up file (what `seedbed_migrations` records). */
  hash: string;
  /** The up statements. */
  statements: string[];
  /** When drizzle-kit generated it (journal `when`). */
  createdAt: Date;
  up: MigrationScript;
  /** Null when `<tag>.down.sql` is missing (db:check fails; `migrate down` refuses). */
  down: MigrationScript | null;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `s` holds only whitespace and `--` comments (nothing to execute). */
export function isEmptyStatement(s: string): boolean {
  return s.split("\n").every((line) => line.trim() === "" || line.trim().startsWith("--"));
}

/** Splits a drizzle-kit SQL file into statements (`--> statement-breakpoint`), dropping empty ones. */
export function splitStatements(text: string, folder: MigrationFolder): string[] {
  // drizzle-kit qualifies references with "public"; dropping the qualifier lets the tables
  // live in any schema (DATABASE_URL ?schema=).
  const body = folder === "postgres" ? text.replaceAll('"public".', "") : text;
  return body.split("--> statement-breakpoint").map((s) => s.trim()).filter((s) => !isEmptyStatement(s));
}

function leadingComment(text: string): string {
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (!t.startsWith("--") || t.startsWith("-->")) break;
    lines.push(t.replace(/^--\s?/, ""));
  }
  return lines.join(" ").trim();
}

async function readScript(root: URL, path: string, folder: MigrationFolder): Promise<MigrationScript | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(new URL(path, root));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  return {
    path,
    hash: await sha256Hex(text),
    statements: splitStatements(text, folder),
    comment: leadingComment(text),
  };
}

interface JournalEntry {
  idx: number;
  tag: string;
  when: number;
}

async function readJournal(root: URL, folder: MigrationFolder): Promise<JournalEntry[]> {
  const text = await Deno.readTextFile(new URL(`${folder}/meta/_journal.json`, root));
  return (JSON.parse(text) as { entries: JournalEntry[] }).entries;
}

/** Reads one dialect's migrations in order. A missing up file is an error; a missing down file is `down: null`. */
export async function readMigrationFolder(
  folder: MigrationFolder,
  root: URL = DEFAULT_MIGRATIONS_ROOT,
): Promise<MigrationFile[]> {
  const out: MigrationFile[] = [];
  for (const e of await readJournal(root, folder)) {
    const up = await readScript(root, `${folder}/${e.tag}.sql`, folder);
    if (!up) {
      throw new Error(`migrations/${folder}/${e.tag}.sql is listed in meta/_journal.json but does not exist`);
    }
    out.push({
      idx: e.idx,
      tag: e.tag,
      hash: up.hash,
      statements: up.statements,
      createdAt: new Date(e.when),
      up,
      down: await readScript(root, `${folder}/${e.tag}.down.sql`, folder),
    });
  }
  return out.sort((a, b) => a.idx - b.idx);
}

/**
 * What `deno task db:check` enforces about the files themselves, for both dialects:
 * every journal entry has its up and down file, no down file is orphaned, and both
 * dialects list the same migrations under the same names (`db:generate --name`).
 * Returns one message per problem (empty when all is well).
 */
export async function checkMigrationFiles(root: URL = DEFAULT_MIGRATIONS_ROOT): Promise<string[]> {
  const problems: string[] = [];
  const tags: Record<string, string[]> = {};
  for (const folder of DIALECT_FOLDERS) {
    let files: MigrationFile[];
    try {
      files = await readMigrationFolder(folder, root);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
      continue;
    }
    tags[folder] = files.map((f) => f.tag);
    for (const f of files) {
      if (!f.down) {
        problems.push(
          `migrations/${folder}/${f.tag}.down.sql is missing: every migration needs a down file ` +
            `(write it by hand, or regenerate with \`deno task db:generate\`; see docs/migrations.md)`,
        );
      }
    }
    for await (const entry of Deno.readDir(new URL(`${folder}/`, root))) {
      const m = /^(.+)\.down\.sql$/.exec(entry.name);
      if (entry.isFile && m && !tags[folder].includes(m[1])) {
        problems.push(`migrations/${folder}/${entry.name} has no up migration in meta/_journal.json`);
      }
    }
  }
  if (tags.sqlite && tags.postgres && tags.sqlite.join() !== tags.postgres.join()) {
    const only = (a: string[], b: string[]) => a.filter((t) => !b.includes(t));
    problems.push(
      `the dialects' migrations differ: only in sqlite: ${
        only(tags.sqlite, tags.postgres).join(", ") || "-"
      }; ` +
        `only in postgres: ${only(tags.postgres, tags.sqlite).join(", ") || "-"}. ` +
        "Generate both with the same name: `deno task db:generate --name <name>`",
    );
  }
  return problems;
}

/** Per migrations root: the journals' modification times when last read, and the tables the up files create. */
const createdTablesCache = new Map<string, { stamp: string; tables: Set<string> }>();

/**
 * Whether an up migration of either dialect creates table `name` (`CREATE TABLE`, or a rebuilt table renamed
 * to it); null when the files cannot be read. Synchronous, for the database error translator: a table the
 * schema has but no migration creates needs `deno task db:generate`, not `deno task migrate`. Read again only
 * when a journal changed (`db:generate` while the server runs).
 */
export function migrationCreatesTable(name: string, root: URL = DEFAULT_MIGRATIONS_ROOT): boolean | null {
  try {
    const journals = DIALECT_FOLDERS.map((f) => new URL(`${f}/meta/_journal.json`, root));
    const stamp = journals.map((j) => Deno.statSync(j).mtime?.getTime()).join();
    let cached = createdTablesCache.get(root.href);
    if (cached?.stamp !== stamp) {
      const tables = new Set<string>();
      const created = /(?:CREATE TABLE(?: IF NOT EXISTS)?|RENAME TO)\s+(?:[`"]?public[`"]?\.)?[`"]?(\w+)/gi;
      DIALECT_FOLDERS.forEach((folder, i) => {
        const { entries } = JSON.parse(Deno.readTextFileSync(journals[i])) as { entries: JournalEntry[] };
        for (const e of entries) {
          const text = Deno.readTextFileSync(new URL(`${folder}/${e.tag}.sql`, root));
          for (const m of text.matchAll(created)) tables.add(m[1]);
        }
      });
      cached = { stamp, tables };
      createdTablesCache.set(root.href, cached);
    }
    return cached.tables.has(name);
  } catch {
    return null;
  }
}
