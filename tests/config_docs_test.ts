/** docs/configuration.md is generated from src/config.ts's zod schema; this fails when the two drift. */
import assert from "node:assert/strict";
import { CONFIGURATION_DOC, configurationDoc, renderConfigurationDoc } from "../scripts/config_docs.ts";
import { envSchema } from "../src/config.ts";

Deno.test("docs/configuration.md is what `deno task docs:config` generates (run it after changing src/config.ts)", async () => {
  const committed = await Deno.readTextFile(CONFIGURATION_DOC);
  assert.equal(
    committed,
    await configurationDoc(),
    "docs/configuration.md is stale: run `deno task docs:config`",
  );
});

Deno.test("every variable of the config schema is on the page, with a description", () => {
  const page = renderConfigurationDoc();
  for (const name of Object.keys(envSchema.shape)) {
    assert.match(page, new RegExp(`- \\*\\*\`${name}\`\\*\\*`));
  }
});
