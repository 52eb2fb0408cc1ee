/**
 * The global request body limit (MAX_BODY_BYTES, 1 MiB by default): a body
 * over it answers 413 before more than the limit has been read, on every
 * route, unauthenticated ones included. Must never let a route (or the
 * lenient-JSON sniff, or a validator) read past the limit, and must never read
 * a body nobody asked for: a declared `Content-Length` over the limit is
 * refused unread; any other body is wrapped in a counting stream that is
 * pulled only as the route reads it, and that cancels the client's stream the
 * moment the count passes the limit. Uploads (`POST /api/v1/files`) are
 * exempt: they stream to S3 under MAX_UPLOAD_BYTES (`src/files/`).
 * Story: docs/access.md ("Limits").
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "../errors.ts";
import type { HttpEnv } from "./types.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface BodyLimitOptions {
  maxBytes: number;
  /** Requests whose body the route streams under a limit of its own (uploads). */
  exempt?: (method: string, path: string) => boolean;
}

/** The 413 every oversized body gets. */
export const tooLarge = (maxBytes: number) =>
  new AppError(
    "PAYLOAD_TOO_LARGE",
    `the request body is larger than the limit of ${maxBytes} bytes (MAX_BODY_BYTES)`,
    { extra: { max_bytes: maxBytes } },
  );

/**
 * Wraps `body` so that reading past `maxBytes` fails (and cancels `body`) instead of buffering it;
 * `onExceeded` is called once when that happens.
 */
export function limitStream(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  onExceeded: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      size += value.byteLength;
      if (size > maxBytes) {
        onExceeded();
        // Nothing more is pulled from the client: its stream is cancelled here.
        reader.cancel().catch(() => {});
        return controller.error(tooLarge(maxBytes));
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler<HttpEnv> {
  const { maxBytes } = options;
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body || !BODY_METHODS.has(raw.method) || options.exempt?.(raw.method, c.req.path)) {
      return await next();
    }
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding") && !(Number(declared) <= maxBytes)) {
      // Refused unread: nothing of it is pulled.
      await raw.body.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    let exceeded = false;
    c.req.raw = new Request(raw.url, {
      method: raw.method,
      headers: raw.headers,
      body: limitStream(raw.body, maxBytes, () => (exceeded = true)),
    });
    try {
      await next();
    } catch (err) {
      // Whatever the reader made of the failed read (malformed JSON, a validation error), it was this.
      if (exceeded) throw tooLarge(maxBytes);
      throw err;
    }
    if (exceeded) throw tooLarge(maxBytes);
  };
}

/**
 * Reads at most `maxBytes` of `body`. Returns the bytes when the body ended within the limit; otherwise
 * `replay`, a stream of everything (the bytes already read, then the unread rest), for a reader with a
 * larger limit — nothing past `maxBytes` (and one chunk) has been pulled.
 */
export async function readAtMost(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<
  { bytes: Uint8Array; replay?: undefined } | { bytes?: undefined; replay: ReadableStream<Uint8Array> }
> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > maxBytes) {
      let i = 0;
      return {
        replay: new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (i < chunks.length) return controller.enqueue(chunks[i++]);
            const next = await reader.read();
            if (next.done) controller.close();
            else controller.enqueue(next.value);
          },
          cancel(reason) {
            return reader.cancel(reason);
          },
        }, { highWaterMark: 0 }),
      };
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { bytes };
}
