/**
 * The forward-auth route table: (method, path) of the request a gateway is
 * about to let through → what it needs (public, any authenticated caller, or
 * `module.action`). Pure: parsing, validation and matching, no I/O.
 *
 * Must never break: an unmapped route is DENIED (`matchRoute` returns null and
 * the caller refuses); a path that is not canonical (dot segments, `;` path
 * parameters, encoded dots, slashes, backslashes or percents, `//`, control
 * characters; `canonicalPath`) is refused, so a gateway and its upstream can
 * never disagree on which route a request is.
 * Story: docs/gateway.md ("The route table").
 *
 * Patterns: literal segments; `*` or `{name}` / `:name` matches exactly one
 * segment; a final `**` matches zero or more segments. The first matching
 * entry wins, in file order.
 */
import { z } from "zod";
import { catalogActions, isCatalogAction } from "../access/actions.ts";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** What a route requires of the caller. */
export type RouteRequirement =
  | { kind: "public" }
  /** Any authenticated caller whose account is in order (not one who must change his password first). */
  | { kind: "authenticated" }
  /** Any authenticated caller, even one who must change his password (his own account: me, password change). */
  | { kind: "account" }
  | {
    kind: "permission";
    module: string;
    action: string;
    submodule?: string;
    platformWhenUnscoped?: boolean;
  };

export interface RouteEntry {
  /** Upper-case methods; `*` for any. */
  methods: ReadonlySet<string> | "*";
  /** The pattern as written (for messages and the decision log). */
  pattern: string;
  segments: readonly string[];
  requirement: RouteRequirement;
}

const WORD = /^[a-z][a-z0-9_]*$/;
const Entry = z.object({
  method: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  path: z.string().startsWith("/", "must start with /"),
  access: z.enum(["public", "authenticated", "account"]).optional(),
  module: z.string().regex(WORD, "must be a module key such as crm").optional(),
  action: z.string().regex(WORD, "must be an action such as read").optional(),
  submodule: z.string().regex(WORD, "must be a submodule key such as leads").optional(),
  platform_when_unscoped: z.boolean().optional(),
}).strict();
const TableFile = z.object({
  /** Append Seedbed's own routes after these. */
  defaults: z.boolean().optional(),
  routes: z.array(z.unknown()),
}).strict();

/** A bad route table: names the entry and what was wrong. */
export class RouteTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RouteTableError";
  }
}

/** Splits a pattern into segments, refusing shapes the matcher would misread. */
function compilePattern(pattern: string, where: string): string[] {
  const segments = pattern === "/" ? [] : pattern.slice(1).split("/");
  segments.forEach((s, i) => {
    if (s === "") throw new RouteTableError(`${where}: path "${pattern}" has an empty segment`);
    if (s === "**" && i !== segments.length - 1) {
      throw new RouteTableError(`${where}: path "${pattern}": ** is allowed only as the last segment`);
    }
    if (s !== "**" && s !== "*" && /[*?]/.test(s)) {
      throw new RouteTableError(`${where}: path "${pattern}": a wildcard must be a whole segment (* or **)`);
    }
  });
  return segments.map((s) => (/^(\{[^}]+\}|:\w+)$/.test(s) ? "*" : s));
}

/** Builds one entry from its file form; throws RouteTableError naming `where`. */
export function compileEntry(raw: unknown, where: string): RouteEntry {
  const parsed = Entry.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "entry"}: ${i.message}`);
    throw new RouteTableError(`${where}: ${issues.join("; ")}`);
  }
  const e = parsed.data;
  const list = e.method === undefined ? ["*"] : Array.isArray(e.method) ? e.method : [e.method];
  const upper = list.map((m) => m.trim().toUpperCase());
  for (const m of upper) {
    if (m !== "*" && !(HTTP_METHODS as readonly string[]).includes(m)) {
      throw new RouteTableError(`${where}: method "${m}" is not one of ${HTTP_METHODS.join(", ")} or *`);
    }
  }
  let requirement: RouteRequirement;
  if (e.access) {
    if (e.module || e.action) {
      throw new RouteTableError(`${where}: give either access (${e.access}) or module and action, not both`);
    }
    requirement = { kind: e.access };
  } else {
    if (!e.module || !e.action) {
      throw new RouteTableError(
        `${where}: needs module and action (e.g. "module": "crm", "action": "read") or "access": "public" | "authenticated" | "account"`,
      );
    }
    const [m, a, sub] = [e.module, e.action, e.submodule].map((v) => v?.trim().toLowerCase());
    if (!isCatalogAction(m!, a!, sub)) {
      throw new RouteTableError(
        `${where}: ${e.module}.${e.action}${
          e.submodule ? ` (${e.submodule})` : ""
        } is not in the action catalog; actions of module ${m}: ${
          catalogActions(m!).join(", ") || "none (unknown module)"
        }`,
      );
    }
    requirement = {
      kind: "permission",
      module: e.module,
      action: e.action,
      submodule: e.submodule,
      platformWhenUnscoped: e.platform_when_unscoped,
    };
  }
  const methods = upper.includes("*") ? "*" as const : new Set(upper);
  return { methods, pattern: e.path, segments: compilePattern(e.path, where), requirement };
}

/** Parses a route table file's JSON text (`{"defaults": true, "routes": [...]}`). */
export function parseRouteTable(
  text: string,
  defaults: () => RouteEntry[],
  source = "route table",
): RouteEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RouteTableError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const file = TableFile.safeParse(json);
  if (!file.success) {
    throw new RouteTableError(
      `${source}: expected {"routes": [...], "defaults"?: boolean} (${
        file.error.issues.map((i) => `${i.path.join(".") || "top level"}: ${i.message}`).join("; ")
      })`,
    );
  }
  const own = file.data.routes.map((r, i) => compileEntry(r, `${source}: routes[${i}]`));
  return file.data.defaults ? [...own, ...defaults()] : own;
}

/**
 * The path of a request target, when it is canonical; null otherwise (the caller denies).
 *
 * Canonical: starts with `/`; no empty (`//`), `.` or `..` segment; no `;` (path parameters: Tomcat and
 * Spring drop `;...`, so `/docs/..;/api` is `/api` to them); no backslash or control character; and no
 * percent-encoding of anything an upstream could read as structure — `%2e` (dot), `%2f` (slash), `%5c`
 * (backslash), `%3b` (semicolon) or `%25` (percent: a second encoding layer, `%252e`, at any depth). Other
 * percent-encodings are decoded (`/us%65rs` is `/users`), the query string and fragment are ignored and
 * one trailing slash names the same route. So what is left after decoding once is all an upstream can
 * make of it, whichever way it decodes and normalises.
 */
export function canonicalPath(target: string): string | null {
  const q = target.search(/[?#]/);
  const raw = q === -1 ? target : target.slice(0, q);
  if (!raw.startsWith("/") || raw.length > 4096) return null;
  if (/[;\\]|%(2e|2f|5c|3b|25)/i.test(raw)) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what is refused
  if (/[;\\%\x00-\x1f\x7f]/.test(decoded)) return null;
  // No dot segment, and no empty segment but the last: one trailing slash names the same route (`/` too).
  const segments = decoded.slice(1).split("/");
  if (segments.some((s, i) => (s === "" && i < segments.length - 1) || s === "." || s === "..")) return null;
  return decoded.length > 1 && decoded.endsWith("/") ? decoded.slice(0, -1) : decoded;
}

function matches(segments: readonly string[], path: string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === "**") return true;
    if (i >= path.length) return false;
    if (s !== "*" && s !== path[i]) return false;
  }
  return segments.length === path.length;
}

/**
 * The first entry that matches the method and canonical path; null when none
 * does (deny). HEAD is served by entries for GET.
 */
export function matchRoute(table: readonly RouteEntry[], method: string, path: string): RouteEntry | null {
  const m = method.toUpperCase();
  const parts = path === "/" ? [] : path.slice(1).split("/");
  for (const e of table) {
    if (e.methods !== "*" && !e.methods.has(m) && !(m === "HEAD" && e.methods.has("GET"))) continue;
    if (matches(e.segments, parts)) return e;
  }
  return null;
}
