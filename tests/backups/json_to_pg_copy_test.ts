/** The restore's JSON → COPY byte converter and byte-level document reader, property-tested. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter, JsonRowToCopy } from "../../src/backups/pg_copy/json_to_pg_copy.ts";
import { readDocumentBytes } from "../../src/backups/pg_copy/document_bytes.ts";
import { readDocument } from "../../src/backups/document.ts";
import { isIsoTimestamp } from "../../src/backups/format.ts";
import type { BackupTable, ColumnKind } from "../../src/backups/tables.ts";

const col = (name: string, kind: ColumnKind) => ({ name, prop: name, kind, notNull: false });
const TABLE: BackupTable = {
  name: "things",
  schemaKey: "organizations",
  columns: [
    col("id", "int"),
    col("big", "bigint"),
    col("flag", "bool"),
    col("at", "ts"),
    col("doc", "json"),
    col(
      "note",
      "text",
    ),
  ],
  primaryKey: col("id", "int"),
  references: [],
  selfReferences: [],
};

/** Postgres's reading of one COPY text field. */
function unescapeCopy(field: string): string | null {
  if (field === "\\N") return null;
  const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", "\\": "\\" };
  return field.replace(/\\(.)/gs, (_m, c: string) => map[c] ?? c);
}

function convert(rows: Record<string, unknown>[], rawLines?: string[]): (string | null)[][] {
  const conv = new JsonRowToCopy(TABLE);
  const w = new ByteWriter(64);
  const lines = rawLines ?? rows.map((r) => JSON.stringify(r));
  lines.forEach((line, i) => {
    const bytes = new TextEncoder().encode(line);
    conv.convert(bytes, 0, bytes.length, w, i + 1);
  });
  const text = new TextDecoder().decode(w.take());
  assert.ok(text === "" || text.endsWith("\n"));
  return text.split("\n").slice(0, -1).map((l) => l.split("\t").map(unescapeCopy));
}

const value = {
  id: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  big: fc.option(fc.maxSafeInteger()),
  flag: fc.option(fc.boolean()),
  at: fc.option(
    fc.date({
      min: new Date("1000-01-01T00:00:00Z"),
      max: new Date("9999-12-31T00:00:00Z"),
      noInvalidDate: true,
    })
      .map((d) => d.toISOString()),
  ),
  doc: fc.option(fc.jsonValue().filter((v) => v !== null)),
  note: fc.option(fc.string({ unit: "binary", maxLength: 30 }).map((s) => s.replaceAll("\0", ""))),
};

Deno.test("json→copy: every value kind round-trips through Postgres's COPY text reading", () => {
  fc.assert(
    fc.property(fc.array(fc.record(value), { maxLength: 15 }), (rows) => {
      const got = convert(rows);
      assert.equal(got.length, rows.length);
      rows.forEach((r, i) => {
        const [id, big, flag, at, doc, note] = got[i];
        assert.equal(id, String(r.id));
        assert.equal(big, r.big === null ? null : String(r.big));
        assert.equal(flag, r.flag === null ? null : r.flag ? "t" : "f");
        assert.equal(at, r.at);
        assert.deepEqual(
          doc === null ? null : JSON.parse(doc),
          r.doc === null ? null : JSON.parse(JSON.stringify(r.doc)),
        );
        // Lone surrogates become U+FFFD, as TextEncoder (and so every Postgres client) writes them.
        assert.equal(
          note,
          r.note === null ? null : new TextDecoder().decode(new TextEncoder().encode(r.note)),
        );
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("json→copy: escapes written by hand, whitespace, and other key orders", () => {
  const line = '{ "id" : 1 , "big":null,"flag":true,"at":"2025-01-15T12:00:00.5Z",' +
    '"doc":{"a":"x\\"y\\\\z\\n","b":[1,2,{"c":"\\u00e9"}]},"note":"tab\\there \\u2028 \\ud83d\\ude00 \\/ \\u0007" }';
  const [row] = convert([], [line]);
  assert.deepEqual(JSON.parse(row[4]!), { a: 'x"y\\z\n', b: [1, 2, { c: "é" }] });
  assert.equal(row[5], "tab\there \u2028 😀 / \u0007");
  // Keys in another order go through JSON.parse and come out the same.
  const [shuffled] = convert([], ['{"note":"n","doc":[1],"at":null,"flag":false,"big":5,"id":2}']);
  assert.deepEqual(shuffled, ["2", "5", "f", null, "[1]", "n"]);
  assert.throws(() => convert([], ['{"id":1}']), /lacks column "big"/);
  assert.throws(
    () => convert([], ['{"id":1,"big":1,"flag":true,"at":null,"doc":null,"note":"a\\u0000b"}']),
    /U\+0000/,
  );
});

Deno.test("document bytes reader: the same events as the text reader, in any chunking", async () => {
  const doc =
    '{\n"a":[\n{"id":1},\n{"id":2,"s":"ü\\n"}\n],\n"b":[\n],\n"c":[\n{"id":3}\n],\n"_manifest":{"x":1}\n}\n';
  const bytes = new TextEncoder().encode(doc);
  const stream = (cuts: number[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        let at = 0;
        for (
          const cut of [...new Set(cuts.map((x) => x % bytes.length))].sort((a, b) => a - b).concat(
            bytes.length,
          )
        ) {
          if (cut > at) c.enqueue(bytes.slice(at, cut));
          at = Math.max(at, cut);
        }
        c.close();
      },
    });
  const expected: string[] = [];
  for await (const ev of readDocument(stream([]))) {
    if (ev.type === "table") expected.push(`table:${ev.table}`);
    else if (ev.type === "rows") expected.push(...ev.lines.map((l) => `row:${l}`));
    else expected.push("manifest");
  }
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), async (cuts) => {
      const got: string[] = [];
      for await (const ev of readDocumentBytes(stream(cuts))) {
        if (ev.type === "table") got.push(`table:${ev.table}`);
        else if (ev.type === "rows") {
          for (let i = 0; i < ev.spans.length; i += 2) {
            got.push(`row:${new TextDecoder().decode(ev.data.subarray(ev.spans[i], ev.spans[i + 1]))}`);
          }
        } else got.push("manifest");
      }
      assert.deepEqual(got, expected);
    }),
    { numRuns: 100 },
  );
  const truncated = new TextEncoder().encode(doc.slice(0, doc.indexOf('{"id":3}') + 4));
  await assert.rejects(async () => {
    for await (const _ of readDocumentBytes(new Blob([truncated]).stream())) { /* drain */ }
  }, /ends inside a table|ends early/);
});

Deno.test("timestamps: ISO 8601 with an offset and a real calendar date", () => {
  for (
    const s of [
      "2025-01-15T12:00:00.123Z",
      "2024-02-29T23:59:59.123456Z",
      "2025-01-15T12:00:00+00:00",
      "2025-01-15T12:00Z",
    ]
  ) {
    assert.ok(isIsoTimestamp(s), s);
  }
  for (
    const s of [
      "2023-02-29T00:00:00Z",
      "2025-13-01T00:00:00Z",
      "2025-01-15T24:00:00Z",
      "2025-04-31T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "yesterday",
      "2025-01-15 12:00:00Z",
      "2025-01-15T12:00:00",
    ]
  ) {
    assert.ok(!isIsoTimestamp(s), s);
  }
});
