/**
 * How the user runs Deno, for every command a CLI hint prints (`next: deno task migrate`): `deno` when a `deno`
 * executable is on PATH, else `npx -y deno@2` (the README's quick start for a machine with Node only). Must
 * never take npm's own `node_modules/.bin` for an installed Deno: `npx -y deno@2 task …` puts one there for the
 * command it runs, and the user's shell has none. Story: docs/cli.md.
 */

/** The prefix of a printed Deno command: `deno`, or `npx -y deno@2` when no Deno is installed. */
export type DenoInvocation = "deno" | "npx -y deno@2";

const isExecutable = (path: string): boolean => {
  try {
    const s = Deno.statSync(path);
    return s.isFile && (Deno.build.os === "windows" || s.mode === null || (s.mode & 0o111) !== 0);
  } catch {
    return false;
  }
};

/**
 * `deno` when a directory of `path` (PATH's value; the process's own by default) holds a `deno` executable,
 * other than a `node_modules/.bin` (npm's, where `npx` puts the Deno it runs); else `npx -y deno@2`.
 */
export function denoInvocation(
  path: string | undefined = Deno.env.get("PATH"),
  exists: (file: string) => boolean = isExecutable,
): DenoInvocation {
  const windows = Deno.build.os === "windows";
  const names = windows ? ["deno.exe", "deno.cmd", "deno"] : ["deno"];
  for (const dir of (path ?? "").split(windows ? ";" : ":")) {
    if (!dir || /(^|[\\/])node_modules[\\/]\.bin[\\/]?$/.test(dir)) continue;
    const base = dir.replace(/[\\/]+$/, "");
    if (names.some((n) => exists(`${base}/${n}`))) return "deno";
  }
  return "npx -y deno@2";
}

/** `args` as the user can run them: `deno task migrate`, or `npx -y deno@2 task migrate` (see `denoInvocation`). */
export function deno(args: string, path?: string): string {
  return `${denoInvocation(path)} ${args}`;
}
