/**
 * Issue 12, finding 1: a small crafted object (one huge line after many
 * valid rows) served from real S3 must be refused with a 422 naming the
 * table and line, while /health keeps answering over real HTTP — and an
 * overwritten catalogued backup is refused as soon as it passes its
 * recorded size. A row holding a lone UTF-16 surrogate (`\ud800`, in text
 * or JSON, value or key) is refused naming table, row and column — not a
 * 500 on Postgres nor U+FFFD stored in its place (src/http/input_rules.ts).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { json } from "../helpers/app.ts";
import { dbTest } from "../helpers/db.ts";
import { insertSampleData, snapshot } from "./fixtures.ts";
import { downloadText, gzip, plant } from "./helpers.ts";
import { setup } from "./http.ts";

const ROWS = 40_000;
const LONG = 24 * 1024 * 1024;

/** A real backup's text with ROWS valid organizations and then one LONG-byte row; and that row's line number. */
function craft(text: string): { bytes: Uint8Array; line: number } {
  const header = '"organizations":[\n';
  const at = text.indexOf(header) + header.length;
  const firstRow = text.slice(at, text.indexOf("\n", at)).replace(/,$/, "");
  const rows: string[] = [];
  for (let i = 0; i < ROWS; i++) rows.push(firstRow.replace(/^\{"id":\d+/, `{"id":${100000 + i}`) + ",\n");
  const long = `{"id":1,"name":"${"A".repeat(LONG)}"},\n`;
  const crafted = text.slice(0, at) + rows.join("") + long + text.slice(at);
  const line = text.slice(0, at).split("\n").length + ROWS;
  return { bytes: new Uint8Array(gzipSync(crafted, { level: 1 })), line };
}

dbTest(
  "crafted long-line object: refused with 422 naming table and line; /health answers throughout",
  async (db) => {
    const t = await setup(db);
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, t.app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      await insertSampleData(db);
      const good = await t.deps.backups.create({ kind: "manual", createdBy: "test" });
      const { bytes, line } = craft(await downloadText(t.s3, good.s3Key));
      assert.ok(bytes.length < 2 * 1024 * 1024, `the crafted object is small (${bytes.length} bytes)`);
      const before = await snapshot(db);

      const call = (path: string, body?: unknown) =>
        fetch(`${base}${path}`, {
          method: body === undefined ? "GET" : "POST",
          headers: { authorization: `Bearer ${t.tokens.root}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });

      /** Runs `request`, polling /health meanwhile; returns the response and the health answers seen. */
      const whilePolling = async (request: Promise<Response>) => {
        let done = false;
        const answered: number[] = [];
        const polling = (async () => {
          while (!done) {
            const h = await fetch(`${base}/health`);
            await h.body?.cancel();
            if (!done) answered.push(h.status);
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        const res = await request.finally(() => (done = true));
        await polling;
        return { res, answered };
      };

      // 1. Imported by key as untrusted (the operator's explicit choice): read row by row, refused at the line.
      await plant(t.s3, "database-backups/crafted.json.gz", bytes);
      const imported = await whilePolling(
        call("/api/v1/seeders/restore", { s3_key: "database-backups/crafted.json.gz", trust: "untrusted" }),
      );
      assert.equal(imported.res.status, 422, await imported.res.clone().text());
      const err = await json<{ code: string; detail: string }>(imported.res);
      assert.equal(err.code, "BACKUP_INVALID");
      assert.match(
        err.detail,
        new RegExp(`table "organizations", line ${line}: the line is longer than 8 MiB`),
      );
      assert.ok(
        imported.answered.length >= 3,
        `/health answered ${imported.answered.length} times during the restore`,
      );
      assert.ok(imported.answered.every((s) => s === 200));

      // 2. Without "untrusted" it is refused before a byte of it is read: it is neither catalogued nor signed.
      const refused = await call("/api/v1/seeders/restore", { s3_key: "database-backups/crafted.json.gz" });
      assert.equal(refused.status, 422);
      assert.match(
        (await json<{ detail: string }>(refused)).detail,
        /cannot be trusted: it has no signed manifest/,
      );

      // 3. Overwriting a catalogued backup: verify and restore stop once it passes its recorded size.
      await t.s3.store.upload(good.s3Key, new Blob([bytes as BlobPart]).stream());
      const verify = await whilePolling(call(`/api/v1/backups/${good.id}/verify`, {}));
      assert.equal(verify.res.status, 422);
      assert.match(
        (await json<{ detail: string }>(verify.res)).detail,
        new RegExp(`size mismatch: the object is larger than the recorded ${good.sizeBytes} bytes`),
      );
      const latest = await call("/api/v1/seeders/restore", { s3_key: good.s3Key });
      assert.equal(latest.status, 422);
      assert.match((await json<{ detail: string }>(latest)).detail, /larger than the recorded/);

      assert.deepEqual(await snapshot(db), before);
    } finally {
      await server.shutdown();
      await t.s3.close();
    }
  },
);

dbTest(
  "crafted lone surrogates: refused naming table, row and column; a surrogate pair restores as written",
  async (db) => {
    const t = await setup(db);
    try {
      await insertSampleData(db);
      const good = await t.deps.backups.create({ kind: "manual", createdBy: "test" });
      const text = await downloadText(t.s3, good.s3Key);
      const before = await snapshot(db);
      const restore = (key: string) =>
        t.call("POST", "/api/v1/seeders/restore", t.tokens.root, { s3_key: key, trust: "untrusted" });
      /** `text` with `from` replaced by `to` (which must be there; jsonb's text may space its JSON). */
      const edit = (from: string | RegExp, to: string) => {
        assert.ok(typeof from === "string" ? text.includes(from) : from.test(text), String(from));
        return text.replace(from, to);
      };
      const cases: [string, string, RegExp][] = [
        [
          "text",
          edit('"name":"Lead a 1"', '"name":"Lead \\ud800a 1"'),
          /crm_leads row \d+: "name" must be well-formed Unicode \(no lone surrogate U\+D800–U\+DFFF\)/,
        ],
        [
          "json-value",
          edit('"Zoë"', '"\\udc00Zoë"'),
          /files row 1: "metadata" at author must be well-formed Unicode/,
        ],
        [
          "json-key",
          edit(/"hr":( ?)"2030/, '"h\\uD800r":$1"2030'),
          /organizations row \d+: "trial_ends" at h\\ud800r must be well-formed Unicode/,
        ],
      ];
      for (const [name, crafted, pattern] of cases) {
        const key = `database-backups/surrogate_${name}.json.gz`;
        await plant(t.s3, key, gzip(crafted));
        const res = await restore(key);
        const body = await json<{ code: string; detail: string }>(res);
        assert.equal(res.status, 422, `${name}: ${JSON.stringify(body)}`);
        assert.equal(body.code, "BACKUP_INVALID", name);
        assert.match(body.detail, pattern, name);
      }
      assert.deepEqual(await snapshot(db), before);
      // Refusals, not failures: no 500, every failed restore logged as the invalid backup it is.
      assert.ok(!t.logger.records.some((r) => r.event === "request_failed"));
      const failed = t.logger.records.filter((r) => r.event === "restore_failed");
      assert.equal(failed.length, cases.length);
      assert.ok(failed.every((r) => r.code === "BACKUP_INVALID"), JSON.stringify(failed));

      // Escaped surrogate pairs are well-formed: restored, as the characters they spell.
      await plant(
        t.s3,
        "database-backups/surrogate_pair.json.gz",
        gzip(edit('"name":"Lead a 1"', '"name":"Lead \\ud83d\\ude00 1"')),
      );
      const ok = await restore("database-backups/surrogate_pair.json.gz");
      assert.equal(ok.status, 200, await ok.clone().text());
      const names = (await db.db.select().from(db.t.crmLeads)).map((l) => l.name);
      assert.ok(names.includes("Lead 😀 1"), JSON.stringify(names));
    } finally {
      await t.s3.close();
    }
  },
);
