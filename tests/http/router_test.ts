/**
 * The app's router (src/http/router.ts) routes every request exactly as Hono's TrieRouter over the same
 * routes would (the router the app had before): the same handlers, in the same order, with the same
 * parameters — for every route of the app with any parameter values, with and without a trailing slash,
 * under every method; and the TrieRouter is left only the paths the RegExpRouter refuses.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Result } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { SplitRouter } from "../../src/http/router.ts";
import { testApp } from "../helpers/app.ts";
import { singleDialectTest } from "../helpers/db.ts";

type Route = { method: string; path: string; handler: unknown };
type Entry = [unknown, Route];

/** A router's answer as (route, parameters) pairs, whichever way it stores the parameters. */
function normalized(result: Result<Entry>): [Route, Record<string, string>][] {
  const [entries, stash] = result as [[Entry, Record<string, string | number>][], string[] | undefined];
  return entries.map(([[, route], params]) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) out[k] = stash ? stash[v as number] : v as string;
    return [route, out];
  });
}

singleDialectTest("router: the app's routes are matched exactly as by Hono's TrieRouter", async (db) => {
  const { app } = await testApp(db);
  const routes = app.routes as Route[];
  const split = new SplitRouter<Entry>();
  const trie = new TrieRouter<Entry>();
  for (const r of routes) {
    split.add(r.method, r.path, [r.handler, r]);
    trie.add(r.method, r.path, [r.handler, r]);
  }
  const segment = fc.constantFrom("1", "42", "abc", "x.y", "bucket", "me", "verify", "%20", "0");
  const pathArb = fc.oneof(
    fc.tuple(fc.constantFrom(...routes.map((r) => r.path)), fc.array(segment, { maxLength: 3 }), fc.boolean())
      .map(([path, values, slash]) => {
        let i = 0;
        const filled = path.replace(/:\w+(\{[^}]*\})?\??/g, () => values[i++] ?? "7").replace(/\*$/, "x/y");
        return slash && !filled.endsWith("/") ? `${filled}/` : filled;
      }),
    fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/api/v1/${s.join("/")}`),
    fc.constantFrom(
      "/",
      "/api/v1/backups/",
      "/api/v1/backups",
      "/api/v1/backups//",
      "/access/v1/evaluation/",
    ),
  );
  const methodArb = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
  fc.assert(
    fc.property(methodArb, pathArb, (method, path) => {
      assert.deepStrictEqual(
        normalized(split.match(method, path)),
        normalized(trie.match(method, path)),
        `${method} ${path}`,
      );
    }),
    { numRuns: 3000 },
  );
  // The TrieRouter answers only under /api/v1/backups/ (the RegExpRouter refuses /api/v1/backups/{id} beside
  // /api/v1/backups/bucket and /api/v1/backups/), the app's own router as this one.
  assert.deepEqual(split.trieRouted, ["/api/v1/backups/"]);
  const res = await app.request("/api/v1/restaurants/1");
  assert.equal(res.status, 401);
  assert.deepEqual((app.router as SplitRouter<unknown>).trieRouted, ["/api/v1/backups/"]);
});

Deno.test("router: a wildcard under a refused prefix also matches the prefix without its slash, as the TrieRouter does", () => {
  const split = new SplitRouter<string>();
  const trie = new TrieRouter<string>();
  for (
    const [m, p, h] of [
      ["ALL", "/api/v1/backups/*", "guard"],
      ["GET", "/api/v1/backups", "list"],
      ["GET", "/api/v1/backups/bucket", "bucket"],
      ["GET", "/api/v1/backups/:id", "one"],
      ["GET", "/api/v1/users", "users"],
    ] as const
  ) {
    split.add(m, p, h);
    trie.add(m, p, h);
  }
  for (const path of ["/api/v1/backups", "/api/v1/backups/", "/api/v1/backups/7", "/api/v1/users"]) {
    const names = (r: unknown) => (r as [[string, unknown][]])[0].map(([h]) => h);
    assert.deepEqual(names(split.match("GET", path)), names(trie.match("GET", path)), path);
  }
});
