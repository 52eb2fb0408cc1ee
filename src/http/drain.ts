/**
 * Graceful draining for `Deno.serve`. Deno's `server.shutdown()` waits for
 * handlers, but a request whose body is still arriving loses it ("Cannot read
 * body"). So on SIGTERM we first drain ourselves: new requests get 503 with
 * `Connection: close` (the gateway retries them elsewhere), requests already
 * in flight run to completion, and only then is the server shut down.
 * Story: docs/architecture.md.
 */
import { AppError } from "../errors.ts";
import { plainErrorResponse } from "./errors.ts";

export interface Drainer {
  /** Wraps a fetch handler, counting requests in flight. */
  wrap<A extends unknown[]>(
    handler: (req: Request, ...rest: A) => Response | Promise<Response>,
  ): (req: Request, ...rest: A) => Promise<Response>;
  /** Starts draining; resolves when no request is in flight or after `timeoutMs` (false). */
  drain(timeoutMs: number): Promise<boolean>;
  readonly inFlight: number;
  /** Requests accepted so far (the idle collector watches it). */
  readonly started: number;
  readonly draining: boolean;
}

export function createDrainer(): Drainer {
  let inFlight = 0;
  let started = 0;
  let draining = false;
  let onIdle: (() => void) | null = null;
  return {
    get inFlight() {
      return inFlight;
    },
    get started() {
      return started;
    },
    get draining() {
      return draining;
    },
    wrap(handler) {
      return async (req, ...rest) => {
        if (draining) {
          return plainErrorResponse(
            req,
            new AppError("SERVICE_UNAVAILABLE", "the service is shutting down; retry the request"),
            { connection: "close", "retry-after": "1" },
          );
        }
        inFlight++;
        started++;
        try {
          return await handler(req, ...rest);
        } finally {
          inFlight--;
          if (draining && inFlight === 0) onIdle?.();
        }
      };
    },
    drain(timeoutMs) {
      draining = true;
      if (inFlight === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
  };
}
