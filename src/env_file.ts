/**
 * `.env` support for the entry points (`main.ts`, `cli.ts`): configuration
 * comes from the environment, then from `.env` in the working directory when
 * there is one. Real variables always win over the file.
 *
 * Must never break: a value from the file never replaces a variable that is
 * set in the environment (even to an empty string); a malformed line fails
 * with its line number, never with its value (it may hold a secret).
 * Story: docs/cli.md ("Configuration: the environment, then `.env`").
 */

/** Raised for a line of `.env` that is not `NAME=value`. */
export class EnvFileError extends Error {}

/** A double-quoted value: `\n` is a newline, `\"` a quote, `\\` a backslash. Returns [value, rest]. */
function doubleQuoted(v: string, file: string, n: number): [string, string] {
  let out = "";
  for (let i = 1; i < v.length; i++) {
    const c = v[i];
    if (c === "\\" && i + 1 < v.length) {
      const next = v[++i];
      out += next === "n"
        ? "\n"
        : next === "r"
        ? "\r"
        : next === "t"
        ? "\t"
        : next === '"' || next === "\\"
        ? next
        : c + next;
    } else if (c === '"') return [out, v.slice(i + 1)];
    else out += c;
  }
  throw new EnvFileError(`${file} line ${n}: the value's closing " is missing`);
}

function unquote(raw: string, file: string, n: number): string {
  const v = raw.trim();
  const q = v[0];
  if (q === '"' || q === "'" || q === "`") {
    let value: string;
    let rest: string;
    if (q === '"') [value, rest] = doubleQuoted(v, file, n);
    else {
      const end = v.indexOf(q, 1);
      if (end === -1) throw new EnvFileError(`${file} line ${n}: the value's closing ${q} is missing`);
      [value, rest] = [v.slice(1, end), v.slice(end + 1)];
    }
    if (rest.trim() && !rest.trim().startsWith("#")) {
      throw new EnvFileError(`${file} line ${n}: unexpected text after the quoted value`);
    }
    return value;
  }
  // Unquoted: a ` #` starts a comment.
  const hash = v.search(/\s#/);
  return (hash === -1 ? v : v.slice(0, hash)).trim();
}

/**
 * Parses dotenv text: `NAME=value`, optional `export `, `#` comments, blank
 * lines, single/double/back-quoted values (double quotes understand `\n`).
 */
export function parseEnvFile(text: string, file = ".env"): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!m) {
      throw new EnvFileError(`${file} line ${i + 1}: expected NAME=value (names are letters, digits and _)`);
    }
    let value = m[2];
    // A double-quoted value may span lines (a PEM key): join lines until its closing quote.
    const closed = (text: string) => /^\s*"(?:[^"\\]|\\.)*"/.test(text);
    if (/^\s*"/.test(value) && !closed(value)) {
      while (i + 1 < lines.length && !closed(value)) value += "\n" + lines[++i];
    }
    out[m[1]] = unquote(value, file, i + 1);
  }
  return out;
}

/**
 * The environment with `.env` (in `cwd`) beneath it: returns `{...file, ...env}`
 * and the path of the file that was read (null when there is none).
 */
export async function withEnvFile(
  env: Record<string, string | undefined>,
  cwd: string = Deno.cwd(),
): Promise<{ env: Record<string, string | undefined>; file: string | null }> {
  const path = `${cwd.replace(/\/$/, "")}/.env`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.IsADirectory) {
      return { env, file: null };
    }
    throw err;
  }
  const fromFile = parseEnvFile(text, ".env");
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  return { env: merged, file: path };
}
