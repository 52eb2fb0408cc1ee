/**
 * The application's router: Hono's RegExpRouter for every path it can take, Hono's TrieRouter for the few
 * it cannot. Hono's default (SmartRouter) takes the first router that accepts every route, and the
 * RegExpRouter refuses a parameter beside a static sibling on some paths (`/api/v1/backups/{id}` beside
 * `/api/v1/backups/bucket` and `/api/v1/backups/`), so the whole app was routed by the TrieRouter, which
 * walks its tree and allocates for every request (~4 KB and ~15 µs of CPU per guarded get on the bench's
 * machine); the RegExpRouter answers a static path from a map and any other with one prebuilt regular
 * expression.
 *
 * Here the TrieRouter holds every route. When the first request is routed, a RegExpRouter is built from
 * every route it accepts: a route it refuses makes the static beginning of its path (up to its first
 * parameter or wildcard: `/api/v1/backups/`) a prefix of the TrieRouter's, and every route under such a
 * prefix is left out of the RegExpRouter. A request whose path starts with such a prefix is matched by the
 * TrieRouter (with every route: the same answer as before); any other by the RegExpRouter, which holds
 * every route that can match it (a route under a prefix matches only paths that start with it). Both are
 * Hono's own routers, which Hono keeps interchangeable (the SmartRouter picks either); tests/http/router_test.ts
 * compares this one with the TrieRouter over the app's routes. Story: docs/modules.md ("Speed").
 */
import { type Result, type Router, UnsupportedPathError } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";

/** The static beginning of a route path: up to its first parameter or wildcard. */
const staticPrefix = (path: string) => path.slice(0, path.search(/[:*]|$/));

export class SplitRouter<T> implements Router<T> {
  readonly name = "SplitRouter";
  readonly #all = new TrieRouter<T>();
  readonly #routes: [string, string, T][] = [];
  /** Built on the first match (null: the RegExpRouter could not be built; the TrieRouter routes all). */
  #fast: RegExpRouter<T> | null | undefined;
  #prefixes: string[] = [];

  add(method: string, path: string, handler: T): void {
    this.#all.add(method, path, handler);
    this.#routes.push([method, path, handler]);
    // A route added after the first request (Hono's own routers refuse that, or build again): built anew.
    this.#fast = undefined;
  }

  match(method: string, path: string): Result<T> {
    const fast = this.#fast === undefined ? (this.#fast = this.#build()) : this.#fast;
    if (fast === null) return this.#all.match(method, path);
    const prefixes = this.#prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      if (underPrefix(path, prefixes[i])) return this.#all.match(method, path);
    }
    return fast.match(method, path);
  }

  /** The path prefixes the TrieRouter answers for (null: it answers for every path). */
  get trieRouted(): readonly string[] | null {
    if (this.#fast === undefined) this.#fast = this.#build();
    return this.#fast === null ? null : this.#prefixes;
  }

  #build(): RegExpRouter<T> | null {
    const prefixes: string[] = [];
    for (let attempt = 0; attempt <= this.#routes.length; attempt++) {
      const fast = new RegExpRouter<T>();
      let current = "";
      try {
        for (const [method, path, handler] of this.#routes) {
          if (prefixes.some((p) => underPrefix(path, p))) continue;
          current = path;
          fast.add(method, path, handler);
        }
        current = "";
        fast.match("GET", "/"); // builds its matchers: a refusal now names no route
        this.#prefixes = prefixes;
        return fast;
      } catch (err) {
        if (!(err instanceof UnsupportedPathError) || current === "") break;
        prefixes.push(staticPrefix(current));
      }
    }
    this.#prefixes = [];
    return null;
  }
}

/**
 * A path under a prefix, the prefix without its trailing slash included: Hono's `/a/b/*` also matches `/a/b`,
 * so a wildcard route under `/a/b/` must be matched there by the router that holds it.
 */
function underPrefix(path: string, prefix: string): boolean {
  return path.startsWith(prefix) || (prefix.endsWith("/") && path === prefix.slice(0, -1));
}
