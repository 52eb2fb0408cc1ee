/**
 * The production image holds what the service loads: every top-level folder that `src/main.ts` and
 * `src/cli.ts` import from is copied into it (vendor/ too: the patched postgres.js). No Docker engine
 * here, so this reads the Dockerfile against Deno's own module graph (`deno info --json`).
 * Story: docs/deploying.md.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../../", import.meta.url);

/** The Dockerfile's COPY sources. */
async function copied(): Promise<Set<string>> {
  const lines = (await Deno.readTextFile(new URL("Dockerfile", ROOT))).split("\n");
  return new Set(lines.flatMap((l) => {
    const m = l.match(/^COPY\s+(.+)\s+\S+\s*$/);
    return m ? m[1].trim().split(/\s+/).map((from) => from.replace(/\/$/, "")) : [];
  }));
}

Deno.test("Dockerfile: every folder the service and the CLI import from, vendor/ included, is in the image", async () => {
  const folders = new Set<string>();
  for (const entry of ["src/main.ts", "src/cli.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: fileURLToPath(ROOT),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: { specifier: string }[] };
    for (const m of info.modules) {
      const path = m.specifier.startsWith(ROOT.href) ? m.specifier.slice(ROOT.href.length) : "";
      if (path.includes("/") && !path.startsWith("node_modules/")) folders.add(path.split("/")[0]);
    }
  }
  assert.ok(["src", "modules", "vendor"].every((f) => folders.has(f)), `the graph: ${[...folders]}`);
  const copies = await copied();
  for (const f of folders) {
    assert.ok(copies.has(f), `the Dockerfile does not COPY ${f}/, which the service imports`);
  }
});
