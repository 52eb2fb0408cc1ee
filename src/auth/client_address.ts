/**
 * The client's address for throttling and audit. `X-Forwarded-For` is only
 * believed when TRUST_PROXY says a gateway in front of us sets it; then the
 * right-most entry (the address our gateway saw) is used, since entries to
 * its left are whatever the client chose to send. Otherwise the socket's
 * peer address (Deno.serve's `remoteAddr`).
 * Story: docs/access.md ("Authentication").
 */
import type { Context } from "hono";

export function clientAddress(c: Context, trustProxy: boolean): string | null {
  if (trustProxy) {
    const xff = c.req.header("x-forwarded-for");
    if (xff) {
      const parts = xff.split(",").map((s) => s.trim()).filter(Boolean);
      const last = parts[parts.length - 1];
      if (last && /^[0-9A-Fa-f:.]{2,45}$/.test(last)) return last;
    }
  }
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? null;
}
