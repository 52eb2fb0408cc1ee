/**
 * `GET /.well-known/jwks.json`: the public keys tokens are signed with (asymmetric ALGORITHM), each with
 * its `kid`, the previous ones included during a rotation — so a gateway verifies Seedbed's tokens with
 * this URL alone. With an HMAC algorithm there is no public key: 404 saying so.
 * Story: docs/gateway.md ("JWKS").
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppError } from "../errors.ts";
import { createRouter, errorResponses, jsonResponse } from "../http/openapi.ts";
import type { TokenService } from "./tokens.ts";

const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("JWKS");

export function jwksRoutes(deps: { tokens: TokenService }) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/.well-known/jwks.json",
      tags: ["auth"],
      summary: "JSON Web Key Set: the public keys of the token signatures (asymmetric ALGORITHM only)",
      responses: { 200: jsonResponse(Jwks, "The public keys, current first"), ...errorResponses(404) },
    }),
    (c) => {
      const jwks = deps.tokens.jwks();
      if (jwks.keys.length === 0) {
        throw new AppError(
          "NOT_FOUND",
          `ALGORITHM is ${deps.tokens.algorithm}: tokens are signed with a shared secret, there is no public key to publish (use RS256, ES256 or EdDSA)`,
        );
      }
      c.header("Cache-Control", "public, max-age=300");
      return c.json(jwks, 200);
    },
  );
  return app;
}
