/**
 * The production image holds what the service loads: every top-level folder that `src/main.ts` and
 * `src/cli.ts` import from is copied into it, and deno.json's `links` (the patched postgres.js) are copied
 * before `deno install` reads them. No Docker engine here, so this reads the Dockerfile against Deno's own
 * module graph (`deno info --json`). Story: docs/deploying.md.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../../", import.meta.url);

/** The Dockerfile's COPY sources, in order, with the line of each and of `deno install`. */
async function dockerfile(): Promise<{ copies: { from: string; line: number }[]; install: number }> {
  const lines = (await Deno.readTextFile(new URL("Dockerfile", ROOT))).split("\n");
  const copies = lines.flatMap((l, line) => {
    const m = l.match(/^COPY\s+(.+)\s+\S+\s*$/);
    return m ? m[1].trim().split(/\s+/).map((from) => ({ from: from.replace(/\/$/, ""), line })) : [];
  });
  const install = lines.findIndex((l) => /deno install/.test(l));
  return { copies, install };
}

Deno.test("Dockerfile: every folder the service and the CLI import from, and the linked postgres.js, are in the image", async () => {
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
  assert.ok(folders.has("src") && folders.has("modules"), `the graph: ${[...folders]}`);
  const { copies, install } = await dockerfile();
  const copied = new Set(copies.map((c) => c.from));
  for (const f of folders) {
    assert.ok(copied.has(f), `the Dockerfile does not COPY ${f}/, which the service imports`);
  }
  const { links = [] } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const link of links as string[]) {
    const from = link.replace(/^\.\//, "").replace(/\/$/, "");
    const copy = copies.find((c) => c.from === from || from.startsWith(`${c.from}/`));
    assert.ok(copy && copy.line < install, `${from} (deno.json links) is copied before \`deno install\``);
  }
});
