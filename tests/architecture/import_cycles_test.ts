/**
 * No import cycles in src/, modules/ and seeders/ (issue 16), counting type-only imports: a cycle through a
 * type is still two files that cannot be read, changed or moved one without the other. The graph is Deno's
 * own (`deno info --json`), so every import form counts: static, `import type`, re-exports and dynamic
 * imports with a literal specifier. Story: docs/architecture.md.
 */
import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";

const ROOT = new URL("../../", import.meta.url);
const DIRS = ["src", "modules", "seeders"];

async function* tsFiles(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    const u = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) yield* tsFiles(u);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) yield u;
  }
}

interface InfoDep {
  code?: { specifier?: string };
  type?: { specifier?: string };
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDep[];
}

/** The import graph of every file under `DIRS`, restricted to those files (file URL → file URLs). */
export async function importGraph(): Promise<Map<string, Set<string>>> {
  const files: string[] = [];
  for (const d of DIRS) for await (const u of tsFiles(new URL(`${d}/`, ROOT))) files.push(u.href);
  const dir = await Deno.makeTempDir({ prefix: "seedbed_cycles_" });
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(entry, files.map((f) => `import ${JSON.stringify(f)};`).join("\n"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", fromFileUrl(new URL("deno.json", ROOT)), entry],
      cwd: fromFileUrl(ROOT),
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    const inScope = new Set(files);
    const graph = new Map<string, Set<string>>();
    for (const m of info.modules) {
      if (!inScope.has(m.specifier)) continue;
      const deps = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) if (s && inScope.has(s)) deps.add(s);
      }
      graph.set(m.specifier, deps);
    }
    assert.equal(graph.size, files.length, "deno info saw every file");
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The strongly connected components with more than one file (or a file importing itself): the cycles. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || graph.get(v)?.has(v)) out.push(c.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

Deno.test("cycles: the finder reports a cycle, a self-import, and nothing for a DAG", () => {
  const g = (edges: Record<string, string[]>) =>
    new Map(Object.entries(edges).map(([k, v]) => [k, new Set(v)] as [string, Set<string>]));
  assert.deepEqual(cycles(g({ a: ["b"], b: ["c"], c: ["a"], d: ["a"] })), [["a", "b", "c"]]);
  assert.deepEqual(cycles(g({ a: ["a"], b: [] })), [["a"]]);
  assert.deepEqual(cycles(g({ a: ["b", "c"], b: ["c"], c: [] })), []);
});

Deno.test("cycles: no import cycle in src/, modules/ or seeders/ (type-only imports count)", async () => {
  const root = fromFileUrl(ROOT);
  const found = cycles(await importGraph()).map((c) =>
    c.map((f) => fromFileUrl(f).slice(root.length)).join(" ↔ ")
  );
  assert.deepEqual(found, [], "break these cycles (docs/architecture.md says how the layers depend)");
});
