import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { singleDialectTest } from "../helpers/db.ts";
import { json, testApp } from "../helpers/app.ts";
import { RESOURCES } from "../../src/modules/resources.ts";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; description?: string }>>;
  components?: { securitySchemes?: Record<string, unknown> };
};

/** Routes reachable without a token. */
const PUBLIC = new Set([
  "/health",
  "/ready",
  "/api/v1/auth/login",
  "/.well-known/authzen-configuration",
  "/.well-known/jwks.json",
]);
/** Routes that serve the documentation itself. */
const DOCS = /^\/(docs|openapi\.json)/;

function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)(\{[^}]*\})?/g, "{$1}");
}

singleDialectTest("openapi: the document is valid OpenAPI 3.1", async (db) => {
  const { app } = await testApp(db);
  const res = await app.request("/openapi.json");
  assert.equal(res.status, 200);
  const doc = await json<Doc>(res);
  assert.equal(doc.openapi, "3.1.0");
  const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  assert.ok(doc.components?.securitySchemes?.bearer, "bearer security scheme declared");
});

singleDialectTest(
  "openapi: every route the app serves is in the document, guarded ones with bearer security",
  async (db) => {
    const { app } = await testApp(db);
    const doc = await json<Doc>(await app.request("/openapi.json"));
    const served = app.routes.filter((r) => r.method !== "ALL" && !DOCS.test(r.path));
    assert.ok(served.length >= 2);
    const missing: string[] = [];
    const unsecured: string[] = [];
    for (const r of served) {
      const p = toOpenApiPath(r.path);
      const op = doc.paths[p]?.[r.method.toLowerCase()];
      if (!op) {
        missing.push(`${r.method} ${r.path}`);
        continue;
      }
      if (!PUBLIC.has(p) && !(op.security && op.security.length)) unsecured.push(`${r.method} ${r.path}`);
    }
    assert.deepEqual(missing, [], "routes missing from /openapi.json");
    assert.deepEqual(unsecured, [], "guarded routes without bearer security in /openapi.json");
  },
);

singleDialectTest("docs: /docs serves Swagger UI with its assets, pointed at /openapi.json", async (db) => {
  const { app } = await testApp(db);
  const page = await app.request("/docs");
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /swagger-ui-bundle\.js/);
  // A strict policy the page itself never trips: every script and stylesheet is one of its own files.
  const csp = new Map(
    (page.headers.get("content-security-policy") ?? "").split(";").map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
  assert.deepEqual(csp.get("default-src"), ["'none'"]);
  assert.deepEqual(csp.get("script-src"), ["'self'"], "no inline or evaluated script");
  assert.deepEqual(csp.get("frame-ancestors"), ["'none'"]);
  assert.deepEqual(csp.get("connect-src"), ["'self'"]);
  // "Try it out" shows a downloaded image or sound through a blob: URL.
  assert.deepEqual(csp.get("img-src"), ["'self'", "data:", "blob:"]);
  assert.deepEqual(csp.get("media-src"), ["'self'", "blob:"]);
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length >= 3);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs, /^ src="\/docs\/[^"]+"$/, "a script of its own, by path");
    assert.equal(body.trim(), "", "no inline script");
  }
  for (const [, href] of html.matchAll(/<link[^>]*href="([^"]+)"/g)) assert.match(href, /^\/docs\//);
  assert.doesNotMatch(html, /\sstyle=|<style|\son\w+=/, "no inline style or handler in the page itself");
  const init = await (await app.request("/docs/init.js")).text();
  assert.match(init, /\/openapi\.json/);
  // Swagger UI's online validator would load an image from validator.swagger.io: off (the policy forbids it).
  assert.match(init, /validatorUrl: null/);
  for (const asset of ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"]) {
    const r = await app.request(`/docs/assets/${asset}`);
    assert.equal(r.status, 200, asset);
    assert.ok((await r.arrayBuffer()).byteLength > 1000, asset);
  }
  assert.equal((await app.request("/docs/assets/../../etc/passwd")).status, 404);
});

singleDialectTest(
  "openapi: every module's money field says it is an amount in integer cents, ≥ 0 on input",
  async (db) => {
    const { app } = await testApp(db);
    const doc = await json<{ components: { schemas: Record<string, Schema> } }>(
      await app.request("/openapi.json"),
    );
    const schemas = doc.components.schemas;
    let seen = 0;
    for (const r of RESOURCES) {
      for (const [prop, f] of Object.entries(r.source.fields)) {
        if (f.spec.kind !== "money" || f.spec.zod) continue;
        const column = prop.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
        const where = `${r.source.schemaName}.${column}`;
        assert.match(
          schemas[r.source.schemaName].properties[column].description ?? "",
          /cents \(integer\)/,
          where,
        );
        for (const body of r.create ? ["Create", "Update"] : []) {
          const p = schemas[`${r.source.schemaName}${body}`].properties[column];
          assert.match(p.description ?? "", /^Amount in cents \(integer, ≥ 0\)\.$/, `${where} (${body})`);
          assert.equal(p.minimum, 0, `${where} (${body})`);
        }
        seen++;
      }
    }
    assert.ok(seen >= 4, "the shipped modules have money fields (crm, hr, marketing, asset)");
  },
);

interface Schema {
  properties: Record<string, { description?: string; minimum?: number }>;
}
