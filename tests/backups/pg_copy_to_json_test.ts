/** The COPY text → row JSON byte converter: property-tested against a reference, in any chunking. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { CopyRowEncoder } from "../../src/backups/pg_copy/pg_copy_to_json.ts";
import type { BackupTable, ColumnKind } from "../../src/backups/tables.ts";

const col = (name: string, kind: ColumnKind, notNull = false) => ({ name, prop: name, kind, notNull });
const TABLE: BackupTable = {
  name: "things",
  schemaKey: "organizations",
  columns: [
    col("id", "int", true),
    col("big", "bigint"),
    col("flag", "bool"),
    col("at", "ts"),
    col("doc", "json"),
    col("note", "text"),
    col("name", "text", true),
  ],
  primaryKey: col("id", "int", true),
  references: [],
  selfReferences: [],
};

/** What Postgres's COPY TO (text format) writes for a text value. */
function copyText(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === "\\") out += "\\\\";
    else if (c === 8) out += "\\b";
    else if (c === 12) out += "\\f";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c === 9) out += "\\t";
    else if (c === 11) out += "\\v";
    else out += ch;
  }
  return out;
}

interface Row {
  id: number;
  big: number | null;
  flag: boolean | null;
  at: Date | null;
  doc: unknown;
  note: string | null;
  name: string;
}

function copyLine(r: Row): string {
  const ts = (d: Date) => {
    const iso = d.toISOString(); // 2025-01-15T12:00:00.123Z
    return `${iso.slice(0, 10)} ${iso.slice(11, 23)}+00`;
  };
  return [
    String(r.id),
    r.big === null ? "\\N" : String(r.big),
    r.flag === null ? "\\N" : r.flag ? "t" : "f",
    r.at === null ? "\\N" : ts(r.at),
    r.doc === null ? "\\N" : copyText(JSON.stringify(r.doc)),
    r.note === null ? "\\N" : copyText(r.note),
    copyText(r.name),
  ].join("\t") + "\n";
}

const text = fc.string({ unit: "binary", maxLength: 40 }).map((s) => s.replaceAll("\0", ""));
const row: fc.Arbitrary<Row> = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  big: fc.option(fc.maxSafeInteger()),
  flag: fc.option(fc.boolean()),
  at: fc.option(
    fc.date({
      min: new Date("1000-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
  ),
  doc: fc.option(fc.jsonValue().filter((v) => v !== null && JSON.stringify(v) !== undefined)),
  note: fc.option(text),
  name: text,
});

function run(rows: Row[], cuts: number[]): unknown[] {
  const bytes = new TextEncoder().encode(rows.map(copyLine).join(""));
  const enc = new CopyRowEncoder(TABLE, 256);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
    if (cut < at) continue;
    out.push(...enc.push(bytes.subarray(at, cut)));
    at = cut;
  }
  const last = enc.finish();
  if (last) out.push(last);
  const json = new TextDecoder().decode(new Uint8Array(out.flatMap((c) => [...c])));
  assert.equal(enc.rows, rows.length);
  assert.ok(!json.includes("\n{") || json.split(",\n").length === rows.length, "one row per line");
  return rows.length ? JSON.parse(`[${json}]`) : [];
}

Deno.test("copy→json: every value kind, any chunking, equals the reference", () => {
  fc.assert(
    fc.property(fc.array(row, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (rows, cuts) => {
      const got = run(rows, cuts) as Record<string, unknown>[];
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const g = got[i];
        assert.deepEqual(Object.keys(g), TABLE.columns.map((c) => c.name));
        assert.equal(g.id, r.id);
        assert.equal(g.big, r.big);
        assert.equal(g.flag, r.flag);
        assert.equal(g.at === null ? null : new Date(g.at as string).getTime(), r.at?.getTime() ?? null);
        if (g.at !== null) assert.match(g.at as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        assert.deepEqual(g.doc, r.doc === null ? null : JSON.parse(JSON.stringify(r.doc))); // -0 is 0 in JSON
        assert.equal(g.note, r.note);
        assert.equal(g.name, r.name);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("copy→json: rows larger than the output buffer, cut into tiny chunks", () => {
  const big = "x".repeat(5000) + '\u2028\u{1F600}"\\';
  const got = run([{ id: 1, big: null, flag: true, at: null, doc: { a: "\n" }, note: big, name: "" }], [
    3,
    7,
    4000,
  ]);
  assert.equal((got[0] as Record<string, unknown>).note, big);
  assert.deepEqual((got[0] as Record<string, unknown>).doc, { a: "\n" });
});

Deno.test("copy→json: malformed COPY rows and unrepresentable timestamps are refused, naming the column", () => {
  const enc = () => new CopyRowEncoder(TABLE);
  const b = (s: string) => new TextEncoder().encode(s);
  assert.throws(() => enc().push(b("1\t2\n")), /one field per column/);
  assert.throws(() => enc().push(b("1\t2\tt\t\\N\t{}\tx\ty\textra\n")), /one field per column/);
  assert.throws(() => enc().push(b("1\t\\N\tt\tinfinity\t\\N\t\\N\tx\n")), /things\.at = "infinity"/);
  const partial = enc();
  partial.push(b("1\t\\N\tt\t\\N"));
  assert.throws(() => partial.finish(), /ended inside a row/);
});
