/**
 * Generates docs/configuration.md from the zod schema in src/config.ts (every
 * variable's description and default), so the page cannot drift from the code:
 * `deno task docs:config` writes it, tests/config_docs_test.ts fails when the
 * committed page differs from what this renders.
 */
import { z } from "zod";
import { envSchema, SECRET_VARIABLES } from "../src/config.ts";

const HEAD = `# Configuration

<!-- Generated from the zod schema in src/config.ts by \`deno task docs:config\`; do not edit by hand. -->

Seedbed reads its configuration from the environment once, at startup, and validates it with one zod schema
(\`src/config.ts\`). A bad or missing value stops the process with a message naming the variable and what is
wrong — never the value of a secret. The server and the CLI also read \`.env\` in the working directory
(\`cp .env.example .env\`); variables set in the environment win.
A new variable is added to that schema with a description; this page is then regenerated.
`;

const TAIL = `
Tests also read \`TEST_DATABASE_URL\` (a Postgres server for the Postgres half of the suite; each test file gets
a database of its own; without it, \`deno task test\` starts a throw-away one) and \`TEST_S3_ENDPOINT\` (an S3 server
instead of the embedded one, with \`TEST_S3_ACCESS_KEY_ID\` / \`TEST_S3_SECRET_ACCESS_KEY\`); see
[testing.md](testing.md).
`;

interface Described {
  description?: string;
  defaultText?: string;
}

/** The variable's metadata and plain default, looked up through the wrappers (default, optional, pipe, …). */
function describe(schema: z.ZodType): { meta: Described; fallback?: unknown } {
  let meta: Described = {};
  let fallback: unknown;
  let s: z.ZodType | undefined = schema;
  while (s) {
    const m = z.globalRegistry.get(s) as Described | undefined;
    meta = { ...m, ...meta };
    type Def = { type: string; defaultValue?: unknown; innerType?: z.ZodType; in?: z.ZodType };
    const def: Def = (s as unknown as { _zod: { def: Def } })._zod.def;
    if ((def.type === "default" || def.type === "prefault") && fallback === undefined) {
      fallback = typeof def.defaultValue === "function" ? def.defaultValue() : def.defaultValue;
    }
    s = def.innerType ?? def.in;
  }
  return { meta, fallback };
}

/** The page, before formatting. */
export function renderConfigurationDoc(): string {
  const rows: string[] = [];
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const { meta, fallback } = describe(schema as z.ZodType);
    if (!meta.description) {
      throw new Error(`src/config.ts: ${name} has no description (.meta({ description }))`);
    }
    const dflt = meta.defaultText ?? (fallback === undefined ? undefined : `\`${String(fallback)}\``);
    const secret = SECRET_VARIABLES.has(name) ? " Secret: never logged or echoed." : "";
    rows.push(`- **\`${name}\`**${dflt ? ` (default ${dflt})` : ""}: ${meta.description}${secret}`);
  }
  return `${HEAD}\n${rows.join("\n")}\n${TAIL}`;
}

/** The page as `deno fmt` leaves it (what is committed). */
export async function configurationDoc(): Promise<string> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: new URL("..", import.meta.url),
  });
  const child = cmd.spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(renderConfigurationDoc()));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

export const CONFIGURATION_DOC = new URL("../docs/configuration.md", import.meta.url);
export const ENV_EXAMPLE = new URL("../.env.example", import.meta.url);

/** Values `.env.example` sets (a development start that keeps its data); every other variable is commented. */
const ENV_EXAMPLE_VALUES: Record<string, string> = {
  APP_ENV: "development",
  DATABASE_URL: "file:./.data/seedbed.db",
  LOG_LEVEL: "info",
};

function wrapComment(text: string, width = 100): string[] {
  const plain = text.replaceAll("**", "").replaceAll("`", "");
  const lines: string[] = [];
  let line = "#";
  for (const word of plain.split(/\s+/)) {
    if (line.length + word.length + 1 > width && line !== "#") {
      lines.push(line);
      line = "#";
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/**
 * `.env.example`, generated from the same schema: every variable with its description, the values a
 * development start uses set, the others commented out with their default. `cp .env.example .env` works as is.
 */
export function renderEnvExample(): string {
  const out = [
    "# Seedbed configuration: copy to .env (`cp .env.example .env`) and edit. The server and the CLI read",
    "# .env from the working directory; variables set in the environment win. Generated from src/config.ts",
    "# by `deno task docs:config` (docs/configuration.md); never put production secrets in this file.",
  ];
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const { meta, fallback } = describe(schema as z.ZodType);
    out.push("", ...wrapComment(meta.description ?? ""));
    const value = ENV_EXAMPLE_VALUES[name];
    out.push(
      value !== undefined
        ? `${name}=${value}`
        : `# ${name}=${fallback === undefined ? "" : String(fallback)}`,
    );
  }
  return out.join("\n") + "\n";
}

if (import.meta.main) {
  await Deno.writeTextFile(CONFIGURATION_DOC, await configurationDoc());
  console.log("wrote docs/configuration.md");
  await Deno.writeTextFile(ENV_EXAMPLE, renderEnvExample());
  console.log("wrote .env.example");
}
