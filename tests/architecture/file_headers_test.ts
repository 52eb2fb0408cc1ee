/**
 * File headers, the house rule: every file under src/ begins with a `/**` header that says what the file does
 * and what it must never break, and names the one doc that tells its story (`Story: docs/<page>.md`). Must
 * never pass a file without such a header, or one whose page does not exist (renamed, removed or misspelt):
 * the failure names each file. Story: docs/architecture.md.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";

const ROOT = new URL("../../", import.meta.url);
const STORY = /\bStory: docs\/([A-Za-z0-9_.-]+\.md)\b/;

/**
 * The text of the `/** … *\/` comment a file opens with, its lines joined with the ` * ` gutters dropped (so a
 * `Story:` wrapped before its path still counts), or null when the file does not begin with one.
 */
function headerOf(text: string): string | null {
  if (!text.startsWith("/**")) return null;
  const end = text.indexOf("*/");
  if (end < 0) return null;
  return text.slice(3, end).split("\n").map((l) => l.replace(/^\s*\*?\s?/, "").trim()).filter(Boolean)
    .join(" ");
}

/** The docs page a file's header names as its story, or null. */
function storyOf(text: string): string | null {
  return headerOf(text)?.match(STORY)?.[1] ?? null;
}

Deno.test("file headers: every src/ file begins with a header naming an existing docs page as its story", async () => {
  const pages = new Set((await readdir(new URL("docs/", ROOT))).filter((p) => p.endsWith(".md")));
  const files = (await readdir(new URL("src/", ROOT), { recursive: true }))
    .map((p) => p.replaceAll("\\", "/"))
    .filter((p) => p.endsWith(".ts"))
    .sort();
  assert.ok(files.length > 100, `src/ holds ${files.length} .ts files: the walk missed some`);
  const problems: string[] = [];
  for (const p of files) {
    const text = await readFile(new URL(`src/${p}`, ROOT), "utf8");
    if (headerOf(text) === null) {
      problems.push(`src/${p}: does not begin with a /** header`);
      continue;
    }
    const story = storyOf(text);
    if (story === null) problems.push(`src/${p}: its header names no story ("Story: docs/<page>.md.")`);
    else if (!pages.has(story)) problems.push(`src/${p}: its story docs/${story} does not exist`);
  }
  assert.deepEqual(
    problems,
    [],
    "each file's header ends with `Story: docs/<page>.md.`, the one page that tells it",
  );
});

Deno.test("file headers: the check reads the opening comment only, wrapped or not", () => {
  assert.equal(storyOf("/**\n * Does a thing. Story: docs/access.md.\n */\nexport {};"), "access.md");
  assert.equal(storyOf("/**\n * Does a thing. Story:\n * docs/architecture.md.\n */\n"), "architecture.md");
  assert.equal(storyOf(`/** One line. Story: docs/api.md ("Errors"). */\n`), "api.md");
  // Not a story: another wording, a comment that is not first, a story outside the header.
  assert.equal(storyOf("/**\n * Does a thing. See docs/access.md.\n */\n"), null);
  assert.equal(storyOf("import x from './x.ts';\n/** Story: docs/access.md. */\n"), null);
  assert.equal(storyOf("// Story: docs/access.md.\nexport {};\n"), null);
  assert.equal(storyOf("/** Does a thing. */\n// Story: docs/access.md.\n"), null);
  assert.equal(headerOf("export const x = 1;\n"), null);
});
