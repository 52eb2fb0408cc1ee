/**
 * One drizzle-kit config for both dialects. `DRIZZLE_DIALECT` picks which
 * (`postgres` or `sqlite`); `deno task db:generate` runs both, and
 * `deno task db:check` fails when the committed migrations lag the schema.
 */
import { defineConfig } from "drizzle-kit";

const dialect = Deno.env.get("DRIZZLE_DIALECT") === "sqlite" ? "sqlite" : "postgresql";
const folder = dialect === "sqlite" ? "sqlite" : "postgres";

export default defineConfig({
  dialect,
  schema: `./src/db/schema_${folder === "sqlite" ? "sqlite" : "pg"}.ts`,
  // DRIZZLE_OUT lets the drift check generate into a scratch copy.
  out: Deno.env.get("DRIZZLE_OUT") ?? `./migrations/${folder}`,
  strict: true,
});
