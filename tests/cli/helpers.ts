/** Running the CLI in tests: as a process (what a user runs), or in-process with its console captured. */

const ROOT = new URL("../../", import.meta.url);
export const CLI = new URL("src/cli.ts", ROOT).pathname;
export const CONFIG = new URL("deno.json", ROOT).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run src/cli.ts …` with exactly `env` (plus PATH/HOME and quiet logs);
 * `cwd` is where `.env` is looked for (a fresh temporary directory by default, so no `.env` is found).
 */
export async function cli(args: string[], env: Record<string, string>, cwd?: string): Promise<CliRun> {
  const dir = cwd ?? await Deno.makeTempDir({ prefix: "seedbed-cli-cwd-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, CLI, ...args],
      cwd: dir,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        DENO_DIR: Deno.env.get("DENO_DIR") ?? "",
        APP_ENV: "test",
        LOG_LEVEL: "error",
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    if (!cwd) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs `fn` with console.log / console.error and raw writes to stderr (progress lines) captured
 * (in-process CLI runs). stderr keeps the order in which lines and raw writes came.
 */
export async function captureConsole(fn: () => Promise<number>): Promise<CliRun> {
  const out: string[] = [];
  let err = "";
  const { log, error } = console;
  const writeSync = Deno.stderr.writeSync;
  const decoder = new TextDecoder();
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => (err += a.join(" ") + "\n");
  Deno.stderr.writeSync = (data: Uint8Array) => {
    err += decoder.decode(data);
    return data.length;
  };
  try {
    const code = await fn();
    return { code, stdout: out.join("\n") + "\n", stderr: err };
  } finally {
    console.log = log;
    console.error = error;
    Deno.stderr.writeSync = writeSync;
  }
}

/**
 * Runs the CLI in this process (much faster than a process: no module loading), with no
 * terminal attached unless `answers` are given, and `env` as the whole environment.
 */
export async function cliInProcess(
  args: string[],
  env: Record<string, string>,
  answers?: string[],
  options: { progressEveryMs?: number } = {},
): Promise<CliRun> {
  const { runCli } = await import("../../src/cli.ts");
  return await captureConsole(() =>
    runCli(args, { APP_ENV: "test", LOG_LEVEL: "error", ...env }, {
      terminal: answers ? { interactive: true, answers } : { interactive: false },
      progressEveryMs: options.progressEveryMs,
    })
  );
}
