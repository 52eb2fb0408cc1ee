# Seedbed production image (untested here: no Docker engine on the build machine).
FROM denoland/deno:2.9.6

WORKDIR /app
ENV APP_ENV=production \
    PORT=8000 \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_DIR=/app/.deno-cache

# Dependencies first, in their own layer: only deno.json / deno.lock and vendor/ (the patched
# postgres.js) invalidate it.
COPY deno.json deno.lock ./
COPY vendor/ vendor/
RUN deno install --frozen

# Then the code (a code change rebuilds from here on), with its module graph cached.
COPY src/ src/
COPY modules/ modules/
COPY seeders/ seeders/
COPY migrations/ migrations/
RUN deno cache --frozen src/main.ts src/cli.ts \
 && mkdir -p .data \
 && chown -R deno:deno /app

USER deno
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8000') + '/health'); if (!r.ok) Deno.exit(1);"]
CMD ["deno", "task", "start"]
