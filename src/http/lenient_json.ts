/**
 * `curl -d '{"email": …}'` without `-H "Content-Type: application/json"`
 * sends `application/x-www-form-urlencoded` (and `fetch` with a string body
 * sends `text/plain`); several curl examples of the
 * seeds do exactly that. For API paths, a body sent as form-urlencoded, text/plain
 * or with no content type, that is in fact a JSON object is treated as JSON, so
 * those examples work as written. Real form bodies (`a=1&b=2`) are untouched.
 *
 * Only `/api/` by default: the AuthZEN endpoints under `/access/` must answer
 * 400 to a body that is not sent as `application/json` (the specification's
 * HTTPS binding and its certification scenario), so they are never rewritten.
 * Story: docs/access.md ("Quick tour").
 */
import type { MiddlewareHandler } from "hono";
import { readAtMost } from "./body_limit.ts";
import type { HttpEnv } from "./types.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const MAX_SNIFF_BYTES = 1024 * 1024;
/**
 * `prefixes`: the paths it applies to. `publicBodies`: the routes that take a body without credentials (login);
 * an anonymous body anywhere else is never read here.
 */
export function lenientJson(
  options: { prefixes?: readonly string[]; publicBodies?: readonly string[] } = {},
): MiddlewareHandler<HttpEnv> {
  const prefixes = options.prefixes ?? ["/api/"];
  const publicBodies = new Set(options.publicBodies ?? []);
  return async (c, next) => {
    const raw = c.req.raw;
    if (!BODY_METHODS.has(raw.method) || !raw.body || !prefixes.some((p) => c.req.path.startsWith(p))) {
      return await next();
    }
    // An anonymous request is read only where it may be served (login): anywhere else its answer is a 401
    // from the route's guard, which needs no body — never buffered for whoever opens many connections.
    if (!raw.headers.has("authorization") && !publicBodies.has(c.req.path)) return await next();
    const type = (raw.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type !== "" && type !== "application/x-www-form-urlencoded" && type !== "text/plain") {
      return await next();
    }
    const length = Number(raw.headers.get("content-length") ?? "0");
    if (length > MAX_SNIFF_BYTES) return await next();
    // Never more than MAX_SNIFF_BYTES read here, whatever the framing (a chunked body declares no length, and
    // the upload route is exempt from the body limit): a longer body goes on, unread past that, as it came.
    const read = await readAtMost(raw.body, MAX_SNIFF_BYTES);
    if (read.replay) {
      c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body: read.replay });
      return await next();
    }
    const text = new TextDecoder().decode(read.bytes);
    const trimmed = text.trimStart();
    // A body that opens like a JSON object or array is JSON (broken JSON then answers 422
    // "malformed JSON" rather than a content-type complaint); `a=1&b=2` is left alone.
    const isJson = trimmed.startsWith("{") || trimmed.startsWith("[");
    const headers = new Headers(raw.headers);
    if (isJson) headers.set("content-type", "application/json");
    // Bytes, not a string: a string body would make Request add `text/plain`,
    // and an empty body stays empty (curl -X POST with no -d).
    c.req.raw = new Request(raw.url, {
      method: raw.method,
      headers,
      body: text === "" ? null : new TextEncoder().encode(text),
    });
    await next();
  };
}
