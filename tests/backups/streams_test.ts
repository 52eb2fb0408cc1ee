/**
 * The backup line readers (issue 12, finding 1): whatever the chunking, the
 * lines are exactly the input's; a line over the limit throws naming its
 * line number, without buffering the rest; the byte reader agrees.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { LayoutError, readDocument } from "../../src/backups/document.ts";
import { readDocumentBytes } from "../../src/backups/pg_copy/document_bytes.ts";
import { gzipSync } from "node:zlib";
import {
  Channel,
  channelToStream,
  gunzipStream,
  GzipSink,
  lines,
  LineTooLongError,
} from "../../src/backups/streams.ts";

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

/** Writes through `pipelines` gzip sinks at once for `ms` while one HTTP request is asked; its latency. */
async function httpLatencyWhileWriting(
  pipelines: number,
  ms: number,
): Promise<{ timerAt: number; answeredIn: number }> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, () => new Response("ok"));
  const row = enc.encode(JSON.stringify({ id: 1, name: "a row with some text in it", n: 12345.678 }) + ",\n");
  const chunk = new Uint8Array(row.length * 2000);
  for (let i = 0; i < 2000; i++) chunk.set(row, i * row.length);
  const t0 = performance.now();
  let timerAt = -1;
  setTimeout(() => (timerAt = performance.now() - t0), 0);
  const asking = (async () => {
    const s = performance.now();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/health`);
    await res.text();
    return performance.now() - s;
  })();
  // A verify's side: gunzip → lines → JSON.parse, over and over.
  const verifying = async () => {
    const gz = gzipSync(chunk.subarray(0, chunk.length));
    while (performance.now() - t0 < ms) {
      const source = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 40; i++) {
            for (let o = 0; o < gz.length; o += 65536) c.enqueue(gz.subarray(o, o + 65536));
          }
          c.close();
        },
      });
      for await (const batch of lines(source.pipeThrough(gunzipStream()))) {
        for (const l of batch) if (l) JSON.parse(l.replace(/,$/, ""));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: pipelines }, async (_, i) => {
      if (i === 1) return await verifying();
      const ch = new Channel<Uint8Array>(8);
      const sink = new GzipSink(3, ch);
      const draining = (async () => {
        for await (const _ of channelToStream(ch)) { /* the upload */ }
      })();
      while (performance.now() - t0 < ms) await sink.write(chunk);
      await sink.end();
      await draining;
    }));
    return { timerAt, answeredIn: await asking };
  } finally {
    await server.shutdown();
  }
}

Deno.test("gzip sink: long backup writes let timers and HTTP requests run (/health during a backup)", async () => {
  // node:zlib calls a write back without the event loop turning, so a writer with data at hand never let
  // /health in: 0.3–2 s answers during a 1M-row backup. A restore writes its safety backup while it
  // verifies: a backup and a verify at once, which must breathe together (docs/backups.md).
  for (const pipelines of [1, 2]) {
    const { timerAt, answeredIn } = await httpLatencyWhileWriting(pipelines, 1500);
    assert.ok(timerAt >= 0 && timerAt < 300, `${pipelines}: a timer waited ${timerAt.toFixed(0)} ms`);
    assert.ok(answeredIn < 300, `${pipelines}: an HTTP request waited ${answeredIn.toFixed(0)} ms`);
  }
});
