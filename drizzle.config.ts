/**
 * One drizzle-kit config for both dialects. `DRIZZLE_DIALECT` picks which
 * (`postgres` or `sqlite`); `deno task db:generate` runs both, and
 * `deno task db:check` fails when the committed migrations lag the schema.
 *
 * drizzle-kit reads tables from a file's named exports. The tables come from
 * the schema and the module registry (`modules/mod.ts`), so no file lists
 * them by hand: this config writes the export file for the dialect into
 * `.data/drizzle/` (gitignored) on every run. Story: docs/modules.md.
 */
import { defineConfig } from "drizzle-kit";
import { pgSchema } from "./src/db/schema.ts";

const dialect = Deno.env.get("DRIZZLE_DIALECT") === "sqlite" ? "sqlite" : "postgresql";
const folder = dialect === "sqlite" ? "sqlite" : "postgres";
const exportsFile = `./.data/drizzle/schema_${folder}.ts`;
const name = folder === "sqlite" ? "sqliteSchema" : "pgSchema";

Deno.mkdirSync("./.data/drizzle", { recursive: true });
Deno.writeTextFileSync(
  exportsFile,
  `// Written by drizzle.config.ts for drizzle-kit: every table of the schema, one named export each.\n` +
    `import { ${name} } from "../../src/db/schema.ts";\n\n` +
    Object.keys(pgSchema).map((k) => `export const ${k} = ${name}.${k};\n`).join(""),
);

export default defineConfig({
  dialect,
  schema: exportsFile,
  // DRIZZLE_OUT lets the drift check generate into a scratch copy.
  out: Deno.env.get("DRIZZLE_OUT") ?? `./migrations/${folder}`,
  strict: true,
});
