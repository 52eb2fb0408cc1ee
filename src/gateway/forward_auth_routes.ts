/**
 * `/access/v1/forward-auth` (any method, and any path below it for Envoy's
 * ext_authz): the gateway's authorization subrequest. The check itself lives
 * in forward_auth.ts. Story: docs/gateway.md (with each gateway's configuration).
 */
import { Hono } from "hono";
import { markDenialAudited } from "../audit/forbidden_audit.ts";
import type { HttpEnv } from "../http/types.ts";
import { FORWARD_AUTH_PATH, type ForwardAuth } from "./forward_auth.ts";

export function forwardAuthRoutes(deps: { forwardAuth: ForwardAuth }) {
  const app = new Hono<HttpEnv>();
  const handler = (c: Parameters<ForwardAuth["check"]>[0]) => {
    // The check audits the denials of authenticated callers itself; anonymous refusals stay out of the table.
    markDenialAudited(c);
    return deps.forwardAuth.check(c);
  };
  app.all(FORWARD_AUTH_PATH, handler);
  app.all(`${FORWARD_AUTH_PATH}/*`, handler);
  return app;
}
