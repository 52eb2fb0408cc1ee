/**
 * A real nginx (`auth_request`) in front of an upstream that echoes its
 * request headers, with Seedbed answering the subrequests: the configuration
 * is the one docs/gateway.md shows. Skipped, saying so, where nginx is not
 * installed (`apt-get install -y nginx`; `.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { dbTest } from "../helpers/db.ts";
import { testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import { freePort } from "../helpers/ports.ts";

function findNginx(): string | null {
  for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx", "/usr/local/bin/nginx"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}
const NGINX = findNginx();
if (!NGINX) {
  console.warn(
    "nginx_test: SKIPPED — nginx is not installed (apt-get install -y nginx); the gateway test did not run",
  );
}

/** The nginx configuration of docs/gateway.md, on test ports and a private prefix. */
export function nginxConf(dir: string, listen: number, seedbed: number, upstream: number): string {
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `${t}_temp_path ${dir}/${t};`).join("\n  ");
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  ${temps}
  server {
    listen 127.0.0.1:${listen};

    location = /_seedbed_auth {
      internal;
      proxy_pass http://127.0.0.1:${seedbed}/access/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }

    location / {
      auth_request /_seedbed_auth;
      auth_request_set $seedbed_user_id $upstream_http_x_user_id;
      auth_request_set $seedbed_user_email $upstream_http_x_user_email;
      auth_request_set $seedbed_user_role $upstream_http_x_user_role;
      auth_request_set $seedbed_org_id $upstream_http_x_organization_id;
      auth_request_set $seedbed_permissions $upstream_http_x_permissions;
      auth_request_set $seedbed_scope $upstream_http_x_record_scope;
      # Always set (empty when Seedbed sent none), so a client cannot smuggle its own.
      proxy_set_header X-User-Id $seedbed_user_id;
      proxy_set_header X-User-Email $seedbed_user_email;
      proxy_set_header X-User-Role $seedbed_user_role;
      proxy_set_header X-Organization-Id $seedbed_org_id;
      proxy_set_header X-Permissions $seedbed_permissions;
      proxy_set_header X-Record-Scope $seedbed_scope;
      proxy_pass http://127.0.0.1:${upstream};
    }
  }
}
`;
}

dbTest(
  "nginx auth_request in front of an echo upstream: entitled requests pass with identity, others 401 / 403",
  async (db) => {
    const w = await createWorld(db);
    const { app } = await testApp(db);
    const exec = await login(app, "exec@acme.test");
    const admin = await login(app, "admin@acme.test");

    const ac = new AbortController();
    const seedbed = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
      app.fetch,
    );
    let upstreamHits = 0;
    const upstream = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
      (req) => {
        upstreamHits++;
        return Response.json({
          method: req.method,
          url: new URL(req.url).pathname,
          headers: Object.fromEntries(req.headers),
        });
      },
    );
    const dir = await Deno.makeTempDir({ prefix: "seedbed-nginx-" });
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      nginxConf(dir, port, seedbed.addr.port, upstream.addr.port),
    );
    const child = new Deno.Command(NGINX!, {
      args: ["-p", dir, "-c", `${dir}/nginx.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      // Wait until nginx listens (or has died, with its error shown).
      for (let i = 0;; i++) {
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          break;
        } catch {
          if (i > 100) {
            const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
            throw new Error(`nginx did not start on ${port}: ${log}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const base = `http://127.0.0.1:${port}`;

      // Entitled: reaches the upstream with Seedbed's identity; a forged X-User-Id is replaced.
      let res = await fetch(`${base}/api/v1/crm/leads?skip=0`, {
        headers: { ...bearer(exec), "x-user-id": "1", "x-permissions": "*" },
      });
      assert.equal(res.status, 200);
      const echo = await res.json();
      assert.equal(echo.url, "/api/v1/crm/leads");
      assert.equal(echo.headers["x-user-id"], String(w.executive.id));
      assert.equal(echo.headers["x-user-email"], "exec@acme.test");
      assert.equal(echo.headers["x-user-role"], "executive");
      assert.equal(echo.headers["x-organization-id"], String(w.acme.id));
      assert.equal(echo.headers["x-record-scope"], "own");
      assert.notEqual(echo.headers["x-permissions"], "*");
      assert.equal(upstreamHits, 1);

      // The original method reaches the check (POST with a body; nginx drops the body for the subrequest).
      res = await fetch(`${base}/api/v1/crm/leads`, {
        method: "POST",
        headers: { ...bearer(exec), "content-type": "application/json" },
        body: JSON.stringify({ name: "x" }),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).method, "POST");

      // Refused: no token (401), missing permission, unlicensed module, unmapped route (403). Upstream untouched.
      const refused: [string, RequestInit, number][] = [
        ["/api/v1/crm/leads", {}, 401],
        ["/api/v1/crm/leads", { headers: { authorization: "Bearer forged.token.here" } }, 401],
        ["/api/v1/crm/leads/1", { method: "DELETE", headers: bearer(exec) }, 403],
        ["/api/v1/manufacturing/orders", { headers: bearer(admin) }, 403],
        ["/internal/metrics", { headers: bearer(admin) }, 403],
        ["/api/v1/crm/leads", { headers: bearer(admin, w.globex.id) }, 403],
      ];
      for (const [path, init, status] of refused) {
        res = await fetch(`${base}${path}`, init);
        await res.body?.cancel();
        assert.equal(res.status, status, `${init.method ?? "GET"} ${path}`);
      }
      assert.equal(upstreamHits, 2);

      // A public route passes without a token and without identity (nginx drops an empty header; a forged one too).
      res = await fetch(`${base}/health`, { headers: { "x-user-id": "1" } });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).headers["x-user-id"], undefined);
    } finally {
      child.kill("SIGTERM");
      const status = await child.status;
      await child.stderr.cancel().catch(() => {});
      ac.abort();
      await seedbed.finished;
      await upstream.finished;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      assert.ok(status.signal === "SIGTERM" || status.success, `nginx exited with ${JSON.stringify(status)}`);
    }
    // One dialect: the subject is nginx's auth_request; forward-auth's decisions run on both in forward_auth_test.
  },
  { only: ["libsql"], ignore: NGINX === null },
);
