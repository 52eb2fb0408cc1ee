/**
 * The backup line readers (issue 12, finding 1): whatever the chunking, the
 * lines are exactly the input's; a line over the limit throws naming its
 * line number, without buffering the rest; the byte reader agrees.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { LayoutError, readDocument } from "../../src/backups/document.ts";
import { readDocumentBytes } from "../../src/backups/pg_copy/document_bytes.ts";
import { lines, LineTooLongError } from "../../src/backups/streams.ts";

const enc = new TextEncoder();

/** `bytes` cut at the given points. */
function chunked(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) parts.push(bytes.slice(prev, p));
    prev = Math.max(prev, p);
  }
  return new ReadableStream({
    pull(c) {
      const next = parts.shift();
      if (next) c.enqueue(next);
      else c.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, max?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of lines(stream, { maxLineBytes: max })) out.push(...batch);
  return out;
}

/** What lines() must return for `text`: split on "\n", without the empty piece after a final "\n". */
function expected(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}

const line = fc.string({
  unit: fc.oneof(
    fc.constantFrom("a", "é", "😀", "日", '"', "{", ","),
    fc.string({ unit: "grapheme", maxLength: 1 }),
  ),
});

Deno.test("lines: any text in any chunking gives exactly its lines", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(line.filter((l) => !l.includes("\n")), { maxLength: 30 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 40 }),
      async (ls, trailing, cuts) => {
        const text = ls.join("\n") + (trailing && ls.length ? "\n" : "");
        assert.deepEqual(await collect(chunked(enc.encode(text), cuts)), expected(text));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("lines: a line over the limit throws with its line number, in any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ maxLength: 20 }).filter((l) => !l.includes("\n")), { maxLength: 10 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      async (before, excess, cuts) => {
        const max = 64;
        const long = "x".repeat(max + excess);
        const text = [...before, long, "after"].join("\n");
        const bytesBefore = before.map((l) => enc.encode(l).length);
        // Only lines that fit come before: the first one over the limit is the long one.
        fc.pre(bytesBefore.every((n) => n <= max));
        await assert.rejects(
          collect(chunked(enc.encode(text), cuts), max),
          (e: unknown) =>
            e instanceof LineTooLongError && e.lineNumber === before.length + 1 && e.limit === max,
        );
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("lines: a 64 MiB line is refused after reading just past the limit, not buffered whole", async () => {
  const max = 1024 * 1024;
  let produced = 0;
  const slab = new Uint8Array(256 * 1024).fill(65);
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (produced >= 64 * 1024 * 1024) return c.close();
      produced += slab.length;
      c.enqueue(slab);
    },
  }, { highWaterMark: 0 });
  await assert.rejects(collect(stream, max), LineTooLongError);
  assert.ok(produced <= max + 2 * slab.length, `read ${produced} bytes for a limit of ${max}`);
});

Deno.test("document readers: an overlong row is a LayoutError naming the table and the line", async () => {
  const doc = '{\n"organizations":[\n{"id":1},\n{"id":2,"x":"' + "A".repeat(5000) +
    '"}\n],\n"_manifest":{}\n}\n';
  const bytes = enc.encode(doc);
  for (const cuts of [[], [7], [20, 21, 22, 100, 1000, 3000], Array.from({ length: 60 }, (_, i) => i * 97)]) {
    await assert.rejects(
      (async () => {
        for await (const _ of readDocument(chunked(bytes, cuts), { maxLineBytes: 1024 })) { /* read */ }
      })(),
      (e: unknown) =>
        e instanceof LayoutError &&
        /table "organizations", line 4: the line is longer than 1 KiB/.test(e.message),
    );
    await assert.rejects(
      (async () => {
        for await (const _ of readDocumentBytes(chunked(bytes, cuts), { maxLineBytes: 1024 })) { /* read */ }
      })(),
      (e: unknown) =>
        e instanceof LayoutError &&
        /table "organizations", line 4: the line is longer than 1 KiB/.test(e.message),
    );
  }
});
