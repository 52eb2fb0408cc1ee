/**
 * `POST /access/v1/evaluation` answered before the router, for the ordinary
 * case only: a well-formed request from an authenticated caller who may ask,
 * answered 200. Anything else goes to the router untouched (or replayed from
 * the bytes already read). Must never answer differently from the router, nor
 * produce an error of its own (errors, 4xx codes and the audit stay in one
 * place): `tests/authzen/evaluation_fast_path_test.ts` compares the two byte
 * for byte. Story: docs/performance.md ("Access").
 */
import type { Metrics } from "../observability/metrics.ts";
import type { Logger } from "../log.ts";
import { httpRequestLine, resolveRequestId } from "../http/middleware.ts";
import { readAtMost } from "../http/body_limit.ts";
import { DEFAULT_MAX_JSON_DEPTH, jsonTextTooDeep, SURROGATE_ESCAPE } from "../http/input_rules.ts";
import type { AuthzenService, EvaluationInput } from "./authzen_service.ts";
import type { AccessService } from "../access/access_service.ts";

export const EVALUATION_PATH = "/access/v1/evaluation";
/** The largest declared body the fast path takes; larger ones go to the router. */
export const MAX_BODY_BYTES = 64 * 1024;

type Fetch<A extends unknown[]> = (req: Request, ...rest: A) => Response | Promise<Response>;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** `{type, id, properties?}` with strings where the schema wants them, or null. */
function entity(v: unknown): EvaluationInput["subject"] | null {
  if (!isObject(v) || typeof v.type !== "string" || typeof v.id !== "string") return null;
  if (v.properties === undefined) return { type: v.type, id: v.id };
  return isObject(v.properties) ? { type: v.type, id: v.id, properties: v.properties } : null;
}

/**
 * The evaluation request when it has exactly the shape the route's schema
 * accepts (unknown keys dropped, as the schema does), else null.
 */
export function parseEvaluation(body: unknown): EvaluationInput | null {
  if (!isObject(body)) return null;
  const subject = entity(body.subject);
  const resource = entity(body.resource);
  const a = body.action;
  if (!subject || !resource || !isObject(a) || typeof a.name !== "string") return null;
  if (a.properties !== undefined && !isObject(a.properties)) return null;
  if (body.context !== undefined && !isObject(body.context)) return null;
  const action = a.properties === undefined ? { name: a.name } : { name: a.name, properties: a.properties };
  const input: EvaluationInput = { subject, action, resource };
  if (body.context !== undefined) input.context = body.context;
  return input;
}

/** Deep-freezes a parsed JSON value (shared between requests by the parse cache). */
function freeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    for (const k of Object.keys(v)) freeze((v as Obj)[k]);
    Object.freeze(v);
  }
  return v;
}

/**
 * Parsed evaluation requests by body text. A PEP asks the same few questions
 * over and over (this user, this action, this module), and parsing is a good
 * part of what is left of an evaluation's cost; the parsed request depends on
 * the bytes alone, so it is shared (frozen) until evicted. Bounded in entries
 * and in body size; bodies that are not the schema's shape are not kept.
 */
export class ParseCache {
  #map = new Map<string, EvaluationInput>();
  constructor(
    readonly maxEntries = 2048,
    readonly maxBodyLength = 1024,
    readonly maxDepth = DEFAULT_MAX_JSON_DEPTH,
  ) {}

  /** The request `text` holds when it is well-formed JSON of the schema's shape, else null. */
  get(text: string): EvaluationInput | null {
    const hit = this.#map.get(text);
    if (hit) return hit;
    // U+0000 can only be spelled `\u0000` in JSON, and a lone surrogate only `\ud800`…`\udfff` (the body
    // was decoded from UTF-8): the router refuses both (src/http/input_rules.ts). Any surrogate escape, a
    // pair's included, goes to the router, which answers it as it must.
    if (text.includes("\\u") && (text.includes("\\u0000") || SURROGATE_ESCAPE.test(text))) return null;
    // Nested deeper than JSON_MAX_DEPTH: the router refuses it too (one linear pass, no recursion).
    if (jsonTextTooDeep(text, this.maxDepth)) return null;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return null;
    }
    const input = parseEvaluation(body);
    if (input && text.length <= this.maxBodyLength) {
      if (this.#map.size >= this.maxEntries) this.#map.delete(this.#map.keys().next().value!);
      this.#map.set(text, freeze(input));
    }
    return input;
  }

  get size(): number {
    return this.#map.size;
  }
}

/** The two spellings of a JSON body the fast path takes; others go through the router. */
function isJsonType(type: string | null): boolean {
  if (type === null) return false;
  const t = type.toLowerCase();
  return t === "application/json" || t === "application/json; charset=utf-8";
}

/** The path of a request URL when it has no query string (`http://host:port/path` → `/path`). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  return start < 0 ? "/" : url.slice(start);
}

/**
 * Wraps the router's fetch: `POST /access/v1/evaluation` is served here when
 * it is the ordinary case, everything else goes to `router` untouched.
 */
export function evaluationFastPath<A extends unknown[]>(
  deps: {
    access: AccessService;
    authzen: AuthzenService;
    logger: Logger;
    metrics?: Metrics;
    /** JSON_MAX_DEPTH (the router's input rule). */
    maxJsonDepth?: number;
  },
  router: Fetch<A>,
): Fetch<A> {
  const { access, authzen, logger, metrics } = deps;

  const parsed = new ParseCache(undefined, undefined, deps.maxJsonDepth);

  const serve = async (req: Request, rest: A): Promise<Response> => {
    const logging = logger.enabled("info");
    const start = logging || metrics ? performance.now() : 0;
    const headers = req.headers;
    const authorization = headers.get("authorization");
    const length = headers.get("content-length");
    // A body declared larger than a question needs goes to the router untouched: its body limit
    // (MAX_BODY_BYTES) refuses it with 413 unread, or reads it counting as it goes.
    if (
      authorization === null || !isJsonType(headers.get("content-type")) ||
      (length !== null && !(Number(length) <= MAX_BODY_BYTES))
    ) return await router(req, ...rest);
    // The caller first, from the headers alone: a body is never read for someone not authenticated
    // (the router answers him, without reading it either).
    let user;
    try {
      user = await access.authenticate(authorization);
    } catch {
      return await router(req, ...rest);
    }
    // A deactivated organization's caller: the router refuses him (403, audited), as on every path.
    if (user.mustChangePassword || !(await access.organizationActive(user))) {
      return await router(req, ...rest);
    }
    let text: string;
    try {
      if (length !== null || req.body === null) {
        // A declared length bounds what text() reads (HTTP framing). Not `req.body` here: touching it
        // makes Deno build a stream, where text() takes the body whole.
        text = await req.text();
      } else {
        // No declared length (chunked): never more than MAX_BODY_BYTES is read here; a longer body goes
        // to the router whole (what was read, then the rest), whose body limit counts it.
        const read = await readAtMost(req.body, MAX_BODY_BYTES);
        if (read.replay) {
          return await router(
            new Request(req.url, { method: "POST", headers, body: read.replay }),
            ...rest,
          );
        }
        text = new TextDecoder().decode(read.bytes);
      }
    } catch {
      // The body could not be read (the client went away): the router answers as for no body.
      return await router(new Request(req.url, { method: "POST", headers }), ...rest);
    }
    // The request context's own rules (the AuthZEN paths echo the incoming id verbatim).
    const { id: requestId, echoed } = resolveRequestId(headers.get("x-request-id"), true);
    let out;
    try {
      const input = parsed.get(text);
      if (input) out = await authzen.evaluate(authzen.caller(user), input, { requestId });
    } catch { /* the router answers it */ }
    if (!out) {
      // Not the ordinary case: the router answers it, from the same bytes.
      return await router(
        new Request(req.url, {
          method: "POST",
          headers,
          body: text === "" ? null : text,
        }),
        ...rest,
      );
    }
    metrics?.httpRequests.inc({ method: "POST", route: EVALUATION_PATH, status: "200" });
    metrics?.httpDuration.observe(
      { method: "POST", route: EVALUATION_PATH, status: "200" },
      (performance.now() - start) / 1000,
    );
    if (logging) {
      logger.info("http_request", {
        request_id: requestId,
        ...httpRequestLine("POST", EVALUATION_PATH, 200, start),
      });
    }
    return new Response(JSON.stringify(out), {
      status: 200,
      headers: {
        "content-type": "application/json",
        "x-content-type-options": "nosniff",
        "x-request-id": echoed,
      },
    });
  };

  return (req, ...rest) =>
    req.method === "POST" && pathOf(req.url) === EVALUATION_PATH ? serve(req, rest) : router(req, ...rest);
}
