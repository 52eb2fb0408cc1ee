/**
 * Interactive API docs at `/docs`: Swagger UI served from the
 * `swagger-ui-dist` npm package (no CDN, so it works offline and behind
 * strict CSPs), pointed at `/openapi.json`. Log in with
 * `POST /api/v1/auth/login` ("Try it out"), paste the token under
 * "Authorize", then try any route. Must never run a script that is not its own,
 * nor be framed (its Content-Security-Policy). Story: docs/api.md.
 */
import { Hono } from "hono";
import { createRequire } from "node:module";
import type { HttpEnv } from "./types.ts";

const require = createRequire(import.meta.url);
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Seedbed API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});`;

/**
 * The page runs its own files only: no inline or evaluated script, no other origin (Swagger UI's online
 * validator, which init.js turns off, included), never inside another site's frame. Inline styles stay:
 * Swagger UI sets them; `blob:` images and media are how "Try it out" shows a downloaded file.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** `/docs`, its init script and the Swagger UI assets. */
export function docsRoutes() {
  const app = new Hono<HttpEnv>();
  const cache = new Map<string, Uint8Array>();
  app.get("/docs", (c) => c.html(PAGE, 200, { "Content-Security-Policy": CSP }));
  app.get(
    "/docs/init.js",
    (c) => c.body(INIT, 200, { "Content-Type": "application/javascript; charset=utf-8" }),
  );
  app.get("/docs/assets/:name", async (c) => {
    const name = c.req.param("name");
    const type = ASSETS[name];
    if (!type) return c.notFound();
    let bytes = cache.get(name);
    if (!bytes) {
      bytes = await Deno.readFile(require.resolve(`swagger-ui-dist/${name}`));
      cache.set(name, bytes);
    }
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=86400",
    });
  });
  return app;
}
