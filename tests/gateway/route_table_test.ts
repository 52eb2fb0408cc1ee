/** The forward-auth route table: parsing, matching, canonical paths, deny by default. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalPath,
  matchRoute,
  parseRouteTable,
  RouteTableError,
} from "../../src/gateway/route_table.ts";
import { defaultRouteTable } from "../../src/gateway/default_routes.ts";
import { originalRequest } from "../../src/gateway/forward_auth.ts";

const table = (routes: unknown[]) => parseRouteTable(JSON.stringify({ routes }), () => []);

Deno.test("route table: patterns, first match wins, HEAD follows GET, unmapped is null", () => {
  const t = table([
    { method: "GET", path: "/api/v1/restaurants/*/menus", module: "menus", action: "read" },
    { method: "GET", path: "/api/v1/restaurants/**", module: "restaurants", action: "read" },
    { method: ["POST", "put"], path: "/api/v1/restaurants/{id}", module: "restaurants", action: "update" },
    { path: "/health", access: "public" },
  ]);
  const req = (m: string, p: string) => {
    const e = matchRoute(t, m, p);
    return e &&
      (e.requirement.kind === "permission"
        ? `${e.requirement.module}.${e.requirement.action}`
        : e.requirement.kind);
  };
  assert.equal(req("GET", "/api/v1/restaurants/7/menus"), "menus.read");
  assert.equal(req("GET", "/api/v1/restaurants"), "restaurants.read");
  assert.equal(req("GET", "/api/v1/restaurants/7/menus/3"), "restaurants.read");
  assert.equal(req("HEAD", "/api/v1/restaurants/7"), "restaurants.read");
  assert.equal(req("PUT", "/api/v1/restaurants/7"), "restaurants.update");
  assert.equal(req("PUT", "/api/v1/restaurants/7/x"), null);
  assert.equal(req("DELETE", "/api/v1/restaurants/7"), null);
  assert.equal(req("OPTIONS", "/health"), "public");
  assert.equal(req("GET", "/healthz"), null);
  assert.equal(req("GET", "/api/v1/restaurantsX"), null);
});

Deno.test("route table: a bad file names the entry and the problem", () => {
  const bad: [unknown, RegExp][] = [
    [{ path: "/x" }, /routes\[0\]: needs module and action/],
    [{ path: "x", access: "public" }, /routes\[0\]: path: must start with \//],
    [{ path: "/a/**/b", access: "public" }, /\*\* is allowed only as the last segment/],
    [{ path: "/a/b*", access: "public" }, /a wildcard must be a whole segment/],
    [{ path: "/a//b", access: "public" }, /empty segment/],
    [{ method: "FETCH", path: "/a", access: "public" }, /method "FETCH" is not one of/],
    [{ path: "/a", access: "public", module: "crm", action: "read" }, /either access/],
    [{ path: "/a", module: "CRM!", action: "read" }, /module: must be a module key/],
    [{ path: "/a", access: "public", extra: 1 }, /Unrecognized key/],
  ];
  for (const [entry, re] of bad) {
    assert.throws(() => table([entry]), (e: Error) => e instanceof RouteTableError && re.test(e.message));
  }
  assert.throws(() => parseRouteTable("{", () => []), /not valid JSON/);
  assert.throws(() => parseRouteTable('{"routs": []}', () => []), /expected \{"routes"/);
  // "defaults": true appends Seedbed's own routes after the file's.
  const withDefaults = parseRouteTable(
    JSON.stringify({ defaults: true, routes: [{ path: "/x", access: "public" }] }),
    defaultRouteTable,
  );
  assert.equal(withDefaults.length, defaultRouteTable().length + 1);
});

Deno.test("canonical paths: dot segments, encoded slashes, empty segments and controls are refused", () => {
  assert.equal(canonicalPath("/api/v1/users?x=1"), "/api/v1/users");
  assert.equal(canonicalPath("/api/v1/users/"), "/api/v1/users");
  assert.equal(canonicalPath("/api/v1/us%65rs"), "/api/v1/users");
  assert.equal(canonicalPath("/"), "/");
  for (
    const bad of [
      "/health/../api/v1/users",
      "/health/%2e%2e/api/v1/users",
      "/api/v1/./users",
      "/api//v1/users",
      // An empty first segment: the root has one trailing slash at most (a random seed found `//`).
      "//",
      "//api/v1/users",
      "/api/v1/users//",
      "/health%2f..%2fapi",
      "/a\\b",
      "/a%00",
      "/a%5cb",
      "/%zz",
      "api/v1/users",
      "",
    ]
  ) assert.equal(canonicalPath(bad), null, bad);
});

Deno.test("invariant: a canonical path never holds a dot segment or an empty segment", () => {
  const seg = fc.constantFrom(
    "api",
    "v1",
    "..",
    ".",
    "",
    "%2e",
    "%2E%2e",
    "%2f",
    "users",
    "a%5c",
    "x?y",
    "#",
  );
  fc.assert(fc.property(fc.array(seg, { maxLength: 8 }), (parts) => {
    const p = canonicalPath("/" + parts.join("/"));
    if (p === null) return true;
    return p === "/" ||
      p.slice(1).split("/").every((s) => s !== "" && s !== "." && s !== ".." && !s.includes("\\"));
  }));
});

Deno.test("invariant: matching is deny by default — only paths some entry covers match", () => {
  const t = defaultRouteTable();
  const seg = fc.constantFrom("api", "v1", "users", "crm", "leads", "1", "admin", "internal", "x", "health");
  fc.assert(fc.property(
    fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"),
    fc.array(seg, { maxLength: 6 }),
    (method, parts) => {
      const path = "/" + parts.join("/");
      const e = matchRoute(t, method, path);
      if (!e) return true;
      // The entry really covers the path: same length, or a trailing ** swallowing the rest.
      const segs = e.segments;
      const ps = path === "/" ? [] : path.slice(1).split("/");
      const open = segs.at(-1) === "**";
      const fixed = open ? segs.slice(0, -1) : segs;
      if (open ? ps.length < fixed.length : ps.length !== fixed.length) return false;
      return fixed.every((s, i) => s === "*" || s === ps[i]);
    },
  ));
  assert.equal(matchRoute(t, "OPTIONS", "/api/v1/users"), null);
  assert.equal(matchRoute(t, "GET", "/internal/admin"), null);
});

Deno.test("default table: Seedbed's own routes map to their guards' permissions", () => {
  const t = defaultRouteTable();
  const req = (m: string, p: string) => {
    const e = matchRoute(t, m, p)?.requirement;
    if (!e) return null;
    return e.kind === "permission"
      ? `${e.module}.${e.action}${e.submodule ? `/${e.submodule}` : ""}`
      : e.kind;
  };
  assert.equal(req("POST", "/api/v1/auth/login"), "public");
  assert.equal(req("GET", "/api/v1/auth/me"), "account");
  // Registry resources carry their submodule, as their guards do; other licensed modules map by method.
  assert.equal(req("GET", "/api/v1/restaurants/12"), "restaurants.read/restaurants");
  assert.equal(req("DELETE", "/api/v1/menus/3"), "menus.delete/menus");
  assert.equal(req("GET", "/api/v1/finance/5"), "finance.read");
  assert.equal(req("POST", "/api/v1/sales/orders"), "sales.create");
  assert.equal(req("GET", "/api/v1/crm/leads/5"), "crm.read/leads");
  assert.equal(req("POST", "/api/v1/crm/leads"), "crm.create/leads");
  assert.equal(req("PATCH", "/api/v1/users/5"), "users.update");
  assert.equal(req("POST", "/api/v1/users/5/deactivate"), "users.update");
  assert.equal(req("POST", "/api/v1/users"), "users.create");
  assert.equal(req("POST", "/api/v1/seeders/execute"), "seeders.execute");
  assert.equal(req("POST", "/api/v1/backups"), "seeders.execute");
  assert.equal(req("POST", "/api/v1/organizations"), "organization.create");
  assert.equal(req("GET", "/api/v1/nope"), null);
});

Deno.test("dialects: nginx, Traefik and Envoy name the original request; disagreeing headers are refused", () => {
  const r = (method: string, url: string, headers: Record<string, string> = {}) => ({
    method,
    url: `http://seedbed${url}`,
    header: (n: string) => headers[n.toLowerCase()],
  });
  const fa = "/access/v1/forward-auth";
  assert.deepEqual(
    originalRequest(
      "auto",
      r("GET", fa, { "x-original-uri": "/api/v1/users?a=1", "x-original-method": "delete" }),
    ),
    { dialect: "nginx", method: "DELETE", path: "/api/v1/users" },
  );
  // nginx's subrequest keeps the original method when X-Original-Method is not set.
  assert.deepEqual(originalRequest("auto", r("PATCH", fa, { "x-original-uri": "/a" })), {
    dialect: "nginx",
    method: "PATCH",
    path: "/a",
  });
  assert.deepEqual(
    originalRequest("auto", r("GET", fa, { "x-forwarded-uri": "/b/c", "x-forwarded-method": "POST" })),
    { dialect: "traefik", method: "POST", path: "/b/c" },
  );
  assert.deepEqual(originalRequest("auto", r("PUT", `${fa}/api/v1/x?y=1`)), {
    dialect: "envoy",
    method: "PUT",
    path: "/api/v1/x",
  });
  // A client that forges X-Original-URI behind Traefik (or Envoy) is refused, not let through.
  assert.throws(
    () =>
      originalRequest(
        "auto",
        r("GET", fa, {
          "x-original-uri": "/health",
          "x-forwarded-uri": "/api/v1/users",
          "x-forwarded-method": "GET",
        }),
      ),
    /name different requests/,
  );
  assert.throws(
    () => originalRequest("auto", r("GET", `${fa}/api/v1/users`, { "x-original-uri": "/health" })),
    /different/,
  );
  // Pinned dialect: the others' headers are ignored.
  assert.deepEqual(
    originalRequest(
      "traefik",
      r("GET", fa, { "x-original-uri": "/health", "x-forwarded-uri": "/z", "x-forwarded-method": "GET" }),
    ),
    { dialect: "traefik", method: "GET", path: "/z" },
  );
  assert.throws(() => originalRequest("auto", r("GET", fa)), /no original request/);
  assert.throws(
    () => originalRequest("traefik", r("GET", fa, { "x-forwarded-uri": "/z" })),
    /original method is missing/,
  );
  assert.throws(
    () => originalRequest("auto", r("GET", fa, { "x-original-uri": "/z", "x-original-method": "BREW" })),
    /not an HTTP method/,
  );
  assert.throws(
    () => originalRequest("auto", r("GET", fa, { "x-original-uri": "/health/../api" })),
    /not canonical/,
  );
});
