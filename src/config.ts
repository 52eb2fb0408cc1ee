/**
 * Configuration: one zod schema for every environment variable, read once by
 * an entry point (`main.ts`, `cli.ts`) and passed down as a typed object.
 * A bad value fails fast with the variable's name and what is wrong — never
 * the value of a secret. Story: docs/configuration.md.
 */
import { passwordProblems } from "./auth/password_policy.ts";
import { base64url } from "jose";
import { z } from "zod";
import { parseSchedule } from "./backups/cron.ts";
import { placeholderProblems } from "./placeholders.ts";
import { type DatabaseKind, databaseKind } from "./db/database_url.ts";

/** Fewer distinct characters than this in a production SECRET_KEY: refused as hand-made. */
const MIN_SECRET_DISTINCT = 10;
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export const APP_ENVS = ["development", "test", "production"] as const;
export type AppEnv = typeof APP_ENVS[number];
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = typeof LOG_LEVELS[number];
export const ALGORITHMS = [
  "HS256",
  "HS384",
  "HS512",
  "RS256",
  "ES256",
  "EdDSA",
] as const;
export type JwtAlgorithm = typeof ALGORITHMS[number];

/** Variables whose values must never appear in messages or logs. */
export const SECRET_VARIABLES = new Set([
  "SECRET_KEY",
  "JWT_PRIVATE_KEY",
  "AWS_SECRET_ACCESS_KEY",
  "SUPERADMIN_PASSWORD",
  "DATABASE_URL",
  "METRICS_TOKEN",
  "BACKUP_SIGNING_KEY",
  "BACKUP_SIGNING_KEYS_PREVIOUS",
  "BACKUP_ENCRYPTION_KEY",
  "BACKUP_ENCRYPTION_KEYS_PREVIOUS",
]);

/** An S3 endpoint: http(s) only (the SDK fails at the first request otherwise), no credentials in it. */
const s3Url = z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as http://localhost:9000" })
  .refine((u) => {
    const url = URL.parse(u);
    return !url || (!url.username && !url.password);
  }, {
    error: "must not carry credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
  });

const bool = z.enum(["true", "false", "1", "0", "yes", "no"], {
  error: "must be true or false",
}).transform((v) => v === "true" || v === "1" || v === "yes");

const intIn = (min: number, max: number) =>
  z.string().regex(/^-?\d+$/, "must be a whole number").transform(Number).pipe(
    z.number().int().min(min, `must be at least ${min}`).max(
      max,
      `must be at most ${max}`,
    ),
  );

/**
 * Every environment variable Seedbed reads, with its description (and, where the default is not a plain value,
 * a `defaultText`): `docs/configuration.md` is generated from this (`deno task docs:config`).
 */
export const envSchema = z.object({
  APP_ENV: z.enum(APP_ENVS, { error: `must be one of ${APP_ENVS.join(", ")}` })
    .default("development").meta(
      {
        description:
          "`development`, `test` or `production`. Production requires `SECRET_KEY`, a real `DATABASE_URL` and `S3_ENDPOINT`-or-AWS S3, seeds no demo data and never the published default password.",
      },
    ),
  DATABASE_URL: z.string().default(":memory:").refine(
    (v) => databaseKind(v) !== null,
    {
      message: "must be :memory:, file:<path>, libsql://… (libSQL) or postgres:// / postgresql:// (Postgres)",
    },
  ).meta(
    {
      description:
        "`:memory:`, `file:<path>`, `libsql://…` / `https://…` pick **libSQL**; `postgres://…` / `postgresql://…` pick **Postgres**. A `?schema=<name>` query parameter puts Seedbed's tables in that Postgres schema (created if missing); `?host=/run/postgresql` connects over the Unix socket in that directory.",
    },
  ),
  DATABASE_AUTH_TOKEN: z.string().optional().meta(
    { description: "Auth token for a remote libSQL server (Turso, `sqld`)." },
  ),
  SECRET_KEY: z.string().optional().meta(
    {
      description:
        "HMAC key for HS* tokens. Required in production, at least 32 characters. In development a random key is generated per process and a warning says so (tokens then die with the process). Published placeholders (docker-compose.yml's, seed 000's) are refused in production, as are the compose file's SUPERADMIN_PASSWORD, MinIO secret and database password (src/placeholders.ts).",
      defaultText: "random in development and test",
    },
  ),
  ALGORITHM: z.enum(ALGORITHMS, {
    error: `must be one of ${ALGORITHMS.join(", ")}`,
  }).default("HS256").meta(
    {
      description:
        "Token algorithm: `HS256`, `HS384`, `HS512`, `RS256`, `ES256` or `EdDSA`. The only algorithm accepted when verifying.",
    },
  ),
  JWT_PRIVATE_KEY: z.string().optional().meta(
    { description: "PKCS#8 PEM private key for the asymmetric algorithms (required with them)." },
  ),
  JWT_PUBLIC_KEY: z.string().optional().meta(
    {
      description:
        "SPKI PEM public key for the asymmetric algorithms (the gateway can verify tokens with the public key alone).",
    },
  ),
  JWT_ISSUER: z.string().min(1).default("seedbed").meta(
    { description: "`iss` of issued tokens; checked on every request." },
  ),
  JWT_AUDIENCE: z.string().min(1).default("seedbed-api").meta(
    { description: "`aud` of issued tokens; checked on every request." },
  ),
  ACCESS_TOKEN_EXPIRE_MINUTES: intIn(1, 7 * 24 * 60).prefault("30").meta(
    { description: "Token lifetime in minutes." },
  ),
  PORT: intIn(0, 65535).prefault("8000").meta(
    { description: "Port the HTTP server listens on." },
  ),
  HOST: z.string().min(1).default("0.0.0.0").meta(
    { description: "Address the HTTP server listens on." },
  ),
  LOG_LEVEL: z.enum(LOG_LEVELS, {
    error: `must be one of ${LOG_LEVELS.join(", ")}`,
  }).default("info").meta(
    { description: "`debug`, `info`, `warn`, `error` or `silent`. Logs are JSON lines on stdout." },
  ),
  LOG_PERSONAL_DATA: bool.prefault("false").meta(
    {
      description:
        "Debug switch: when `true`, log lines may hold e-mail addresses and the parameters of failed queries (row values). Off, they read `[email]` and `params: [redacted]`. Never in production.",
    },
  ),
  TRUST_PROXY: bool.prefault("false").meta(
    {
      description:
        "When `true`, the client address for login throttling comes from `X-Forwarded-For` (set it only behind a gateway that overwrites that header).",
    },
  ),
  PUBLIC_URL: z.string().optional().refine((v) => {
    if (v === undefined) return true;
    try {
      const u = new URL(v);
      return (u.protocol === "https:" || u.protocol === "http:") && !u.search && !u.hash && !u.username;
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL without query, fragment or credentials, e.g. https://pdp.example.com")
    .meta(
      {
        description:
          "The service's public base URL (e.g. `https://pdp.example.com`, a path prefix allowed). The AuthZEN metadata advertises it as `policy_decision_point` and builds its endpoint URLs from it; unset, they come from the request (`X-Forwarded-Proto/Host` only with `TRUST_PROXY`), which behind a TLS gateway may be an internal `http://` address.",
      },
    ),
  AUTHZEN_MAX_EVALUATIONS: intIn(1, 10_000).prefault("100").meta(
    {
      description:
        "Most entries one `POST /access/v1/evaluations` batch may hold; a longer batch is refused whole with 400 (also advertised in the AuthZEN metadata as `max_evaluations`).",
    },
  ),
  SHUTDOWN_TIMEOUT_SECONDS: intIn(1, 600).prefault("10").meta(
    { description: "How long SIGTERM/SIGINT wait for in-flight requests before closing." },
  ),
  DATABASE_CONNECT_TIMEOUT_SECONDS: intIn(1, 120).prefault("5").meta(
    { description: "Postgres: a connection attempt gives up after this many seconds (503, then retried)." },
  ),
  DATABASE_RECONNECT_MAX_MS: intIn(0, 30_000).prefault("500").meta(
    {
      description:
        "Postgres: a lost connection is re-opened after at most this many ms (with jitter). The driver's own backoff grows to 20 s and never comes down.",
    },
  ),
  DATABASE_STATEMENT_TIMEOUT_MS: intIn(0, 86_400_000).prefault("30000").meta(
    {
      description:
        "Postgres: the server cancels a statement running longer than this (503 with `Retry-After`; 0 = never). Seeding, restore, backup and migrations lift it for their own transactions.",
    },
  ),
  DATABASE_RESPONSE_TIMEOUT_MS: intIn(0, 86_400_000).optional().meta(
    {
      description:
        "Postgres: a connection whose server sent nothing for this many ms while a statement was outstanding is dropped (503): a black-holed network, which the server's statement timeout cannot reach. Must exceed `DATABASE_STATEMENT_TIMEOUT_MS`; lifted with it for bulk work; not applied over TLS. 0 = never; default: the statement timeout + 5000 (never when that is 0).",
    },
  ),
  READY_TIMEOUT_MS: intIn(50, 10_000).prefault("1000").meta(
    {
      description:
        "`GET /ready` answers within this many ms whatever the database does (503 `timeout` past it).",
    },
  ),
  ACCESS_FRESHNESS: z.enum(["read", "lease"], { error: "must be read or lease" }).optional().meta(
    {
      description:
        "How replicas learn of security changes: `read` — one coalesced security-version read per batch of requests (also sees raw-SQL changes at once); `lease` — no read on the request path, replicas poll under a lease and every change made through Seedbed waits until all of them have applied it. See [freshness.md](freshness.md).",
      defaultText: "`lease` on Postgres, `read` on libSQL",
    },
  ),
  ACCESS_LEASE_MS: intIn(100, 60_000).prefault("2000").meta(
    { description: "`lease` mode: lease length in ms (the longest a dead replica can hold up a change)." },
  ),
  ACCESS_POLL_MS: intIn(1, 10_000).prefault("10").meta(
    {
      description:
        "`lease` mode: poll interval in ms (how soon a change returns); must be at most a quarter of `ACCESS_LEASE_MS`.",
    },
  ),
  S3_BUCKET_NAME: z.string().regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)",
  ).default("seedbed-backups").meta(
    { description: "Bucket for backups and files." },
  ),
  AWS_REGION: z.string().min(1).default("us-east-1").meta(
    { description: "S3 region." },
  ),
  AWS_ACCESS_KEY_ID: z.string().optional().meta(
    {
      description:
        "S3 access key id (set both keys or neither; neither = the SDK's default chain, e.g. an IAM role).",
    },
  ),
  AWS_SECRET_ACCESS_KEY: z.string().optional().meta(
    { description: "S3 secret access key (set both keys or neither)." },
  ),
  S3_ENDPOINT: s3Url
    .optional().meta(
      {
        description:
          "S3-compatible endpoint, e.g. `http://localhost:9000` for MinIO. Unset in development: Seedbed starts an embedded S3 server.",
      },
    ),
  S3_PUBLIC_ENDPOINT: s3Url
    .optional().meta(
      {
        description:
          "The S3 endpoint as clients reach it, when it is not `S3_ENDPOINT`: presigned download URLs (`GET /api/v1/files/{id}/presigned-url`) are signed for it. Compose: `S3_ENDPOINT=http://minio:9000` inside, `S3_PUBLIC_ENDPOINT=http://localhost:9000` from the host.",
        defaultText: "`S3_ENDPOINT`",
      },
    ),
  S3_FORCE_PATH_STYLE: bool.optional().meta(
    { description: "Path-style addressing (MinIO needs it).", defaultText: "`true` with an endpoint" },
  ),
  S3_SSE: z.enum(["AES256", "aws:kms"], { error: "must be AES256 or aws:kms" })
    .optional().meta(
      { description: "Server-side encryption for written objects: `AES256` or `aws:kms`." },
    ),
  S3_SSE_KMS_KEY_ID: z.string().optional().meta(
    { description: "The KMS key id for `S3_SSE=aws:kms` (optional)." },
  ),
  S3_EMBEDDED_DIR: z.string().default(".data/s3").meta(
    { description: "Where the embedded development S3 server keeps its objects." },
  ),
  BACKUP_RETENTION_COUNT: intIn(1, 100000).optional().meta(
    {
      description:
        "Keep this many newest backups; older ones are pruned after a successful new one (never the last good one).",
    },
  ),
  BACKUP_RETENTION_DAYS: intIn(1, 36500).optional().meta(
    {
      description:
        "Prune backups older than this many days after a successful new one (never the last good one).",
    },
  ),
  BACKUP_STALE_MINUTES: intIn(1, 10_080).prefault("60").meta(
    {
      description:
        "A `pending` backup whose writer cannot be proven alive (libSQL), and an incomplete multipart upload under the backup prefix that belongs to no running backup, are abandoned after this many minutes: the sweep marks the row `failed` and aborts the upload. On Postgres a dead writer's row is failed at the next sweep.",
    },
  ),
  BACKUP_SWEEP_INTERVAL_MINUTES: intIn(0, 1440).prefault("15").meta(
    {
      description:
        "How often each replica sweeps abandoned backups (also once at startup; 0 = at startup only).",
    },
  ),
  BACKUP_MAX_ROW_BYTES: intIn(64 * 1024, 1024 ** 3).prefault(String(8 * 1024 * 1024)).meta({
    description:
      "Longest row (one line of a backup) a verify or restore accepts; a longer one is refused (422) without reading the rest of it.",
    defaultText: "`8388608` (8 MiB)",
  }),
  BACKUP_SIGNING_KEY: z.string().min(32, "must be at least 32 characters").optional().meta({
    description:
      "HMAC-SHA256 key signing every backup's manifest (docs/backups.md, Trust); a backup outside the catalog is restored only with a valid signature.",
    defaultText: "derived from `SECRET_KEY`",
  }),
  BACKUP_SIGNING_KEYS_PREVIOUS: z.string().optional().meta({
    description:
      "Rotation: comma-separated earlier signing keys (or earlier `SECRET_KEY`s), so backups signed before keep verifying.",
  }),
  BACKUP_ENCRYPTION_KEY: z.string().min(32, "must be at least 32 characters").optional().meta({
    description:
      "Encrypts backups before upload (AES-256-GCM in authenticated 64 KiB chunks); a restore without it refuses with a clear message.",
    defaultText: "unset: not encrypted",
  }),
  BACKUP_ENCRYPTION_KEYS_PREVIOUS: z.string().optional().meta({
    description:
      "Rotation: comma-separated earlier encryption keys, so older encrypted backups can be restored.",
  }),
  MAX_UPLOAD_BYTES: intIn(1, 5 * 1024 ** 3).prefault(String(50 * 1024 * 1024)).meta(
    { description: "Largest accepted file upload, in bytes.", defaultText: "`52428800` (50 MiB)" },
  ),
  JSON_MAX_DEPTH: intIn(4, 256).prefault("32").meta({
    description:
      "Deepest nesting of objects and arrays a JSON body (or query, header, path value) may have; deeper answers 422 naming the field (400 on the AuthZEN API).",
  }),
  MAX_BODY_BYTES: intIn(1024, 64 * 1024 ** 2).prefault(String(1024 * 1024)).meta(
    {
      description:
        "Largest request body any route reads, in bytes (uploads excepted: `MAX_UPLOAD_BYTES`); a larger one answers 413 before more than this is read.",
      defaultText: "`1048576` (1 MiB)",
    },
  ),
  SUPERADMIN_EMAIL: z.email({ error: "must be an email address" }).optional().meta(
    { description: "The super admin the `SuperAdminSeeder` creates.", defaultText: "`admin@foodfleet.com`" },
  ),
  SUPERADMIN_PASSWORD: z.string().optional().meta(
    {
      description:
        "Production: the initial super admin password (must be changed at first login); when unset, one is generated and printed once. In production it must pass the API's password policy (12+ characters, three character classes, not well known, not the email) and the published default is refused.",
      defaultText: "dev: `SuperAdmin@123`",
    },
  ),
  SEED_DEMO: bool.optional().meta(
    {
      description:
        "Run the demo seeders (Test Corp and a second organization, with module data). Refused in production: the demo seeders run only in development and test, on every path (`only`, `--demo`, this switch).",
      defaultText: "on in dev/test, off in production",
    },
  ),
  FORWARD_AUTH_ROUTES: z.string().min(1).optional().meta({
    description:
      "Path of the forward-auth route table (JSON, docs/gateway.md); Seedbed's own routes when unset.",
  }),
  FORWARD_AUTH_DIALECT: z.enum(["auto", "nginx", "traefik", "envoy"], {
    error: "must be auto, nginx, traefik or envoy",
  }).default("auto").meta({
    description:
      "Which gateway's headers name the original request at `/access/v1/forward-auth` (`auto`: all present must agree).",
  }),
  FORWARD_AUTH_REQUIRE_KEY: bool.optional().meta({
    description:
      "Forward-auth answers only gateways presenting a service key with scope `forward-auth` in `X-Seedbed-Key`.",
    defaultText: "`true` in production, else `false`",
  }),
  BACKUP_SCHEDULE: z.string().trim().min(1).optional().meta({
    description:
      'Cron expression (croner: 5 fields, or 6 with seconds) on which the server takes backups, e.g. `"0 3 * * *"`; one replica per slot, retention after each (docs/operations.md). `deno task backup schedule` prints the next runs.',
  }),
  BACKUP_SCHEDULE_TIMEZONE: z.string().min(1).default("UTC").meta({
    description: "IANA time zone `BACKUP_SCHEDULE` is read in.",
  }),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional().meta({
    description:
      "Bearer token Prometheus presents to scrape `GET /metrics` on the main port. Without it (and without `METRICS_PORT`) `/metrics` is off.",
  }),
  METRICS_PORT: intIn(1, 65535).optional().meta({
    description:
      "Serve `GET /metrics` on this separate port (on `METRICS_HOST`) instead of the main one; `METRICS_TOKEN`, when set, is required there too.",
  }),
  METRICS_HOST: z.string().min(1).optional().meta({
    description: "Address the metrics port listens on.",
    defaultText: "`HOST`",
  }),
  ACCESS_DECISION_LOG: z.enum(["off", "deny", "all"], { error: "must be off, deny or all" }).default("off")
    .meta({
      description:
        "Which access decisions (REST guard, AuthZEN, forward-auth) are written as `access_decision` JSON lines: `off`, `deny` or `all`. Every decision is counted in the metrics either way.",
    }),
  ACCESS_DECISION_LOG_SAMPLE: z.string().regex(/^(0(\.\d+)?|1(\.0+)?)$/, "must be a number from 0 to 1")
    .transform(
      Number,
    ).optional().meta({
      description:
        "With `ACCESS_DECISION_LOG=all`, the share of allows written (denials are always written).",
      defaultText: "`1`",
    }),
  FORWARD_AUTH_IDENTITY_TOKEN: bool.optional().meta({
    description:
      "Forward-auth also answers `X-Seedbed-Identity`: a 60-second signed token (audience `<JWT_AUDIENCE>:upstream`) naming the user, organization, role, permissions and request, for upstreams that verify it with the JWKS.",
    defaultText: "`false`",
  }),
  JWT_KEY_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be 1-64 letters, digits, . _ -").optional()
    .meta({
      description:
        "`kid` of the signing key (asymmetric algorithms), published in `/.well-known/jwks.json` and set on every token.",
      defaultText: "the key's RFC 7638 thumbprint",
    }),
  JWT_PREVIOUS_PUBLIC_KEYS: z.string().optional().meta({
    description:
      "Rotation: SPKI PEM public key(s) of the previous signing key(s), still published and accepted until their tokens expire (remove after `ACCESS_TOKEN_EXPIRE_MINUTES`).",
  }),
});

export interface Config {
  appEnv: AppEnv;
  version: string;
  databaseUrl: string;
  databaseAuthToken?: string;
  databaseKind: DatabaseKind;
  auth: {
    secretKey: string;
    /** True when no SECRET_KEY was given and a random one was generated (development/test only). */
    secretGenerated: boolean;
    algorithm: JwtAlgorithm;
    privateKey?: string;
    publicKey?: string;
    /** `kid` of the signing key (default: its JWK thumbprint). */
    keyId?: string;
    /** PEM public keys of previous signing keys (rotation): published and accepted. */
    previousPublicKeys?: string;
    issuer: string;
    audience: string;
    accessTokenExpireMinutes: number;
  };
  http: {
    port: number;
    host: string;
    trustProxy: boolean;
    shutdownTimeoutSeconds: number;
    maxUploadBytes: number;
    /** MAX_BODY_BYTES: the global request body limit (`src/http/body_limit.ts`). */
    maxBodyBytes: number;
    /** JSON_MAX_DEPTH: the deepest nesting an input may have (`src/http/input_rules.ts`). */
    maxJsonDepth: number;
    /** READY_TIMEOUT_MS: the deadline of `GET /ready`. */
    readyTimeoutMs: number;
    /** PUBLIC_URL without a trailing slash (the AuthZEN metadata's `policy_decision_point`). */
    publicUrl?: string;
  };
  /** How long the service waits on Postgres (docs/reliability.md). */
  database: {
    connectTimeoutSeconds: number;
    reconnectMaxMs: number;
    statementTimeoutMs: number;
    /** DATABASE_RESPONSE_TIMEOUT_MS when set (src/db/client.ts derives it otherwise). */
    responseTimeoutMs?: number;
  };
  logLevel: LogLevel;
  /** LOG_PERSONAL_DATA: e-mail addresses and query parameters in logs (debug only). */
  logPersonalData: boolean;
  /** How access caches learn of security changes (docs/access.md, "Freshness"). */
  access: {
    /** `read`: one coalesced version read per batch of requests; `lease`: a polled version under a lease. */
    freshness: "read" | "lease";
    leaseMs: number;
    pollMs: number;
    /** AUTHZEN_MAX_EVALUATIONS: most entries of one AuthZEN batch. */
    maxEvaluations: number;
  };
  s3: {
    bucket: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    endpoint?: string;
    /** S3_PUBLIC_ENDPOINT: what presigned URLs are signed for (clients reach S3 there), and its addressing. */
    public?: { endpoint: string; forcePathStyle: boolean };
    forcePathStyle: boolean;
    sse?: "AES256" | "aws:kms";
    sseKmsKeyId?: string;
    /** Start an embedded S3-compatible server (development only, no S3_ENDPOINT). */
    embedded: boolean;
    embeddedDir: string;
  };
  backups: {
    retentionCount?: number;
    retentionDays?: number;
    /** BACKUP_SCHEDULE (validated cron expression) and its time zone. */
    schedule?: string;
    scheduleTimezone?: string;
    /** Longest row line accepted by verify and restore. */
    maxRowBytes: number;
    /** Signs backup manifests: BACKUP_SIGNING_KEY, else derived from SECRET_KEY (src/backups/signing.ts). */
    signingKey?: string;
    /** Earlier signing keys (or earlier SECRET_KEYs) still accepted when verifying. */
    signingKeysPrevious: string[];
    /** True when the SECRET_KEY was generated for this process (development/test): see signing.ts. */
    signingSecretGenerated: boolean;
    encryptionKey?: string;
    encryptionKeysPrevious: string[];
  };
  /** `/metrics` and the decision log (docs/operations.md). */
  observability: {
    metricsToken?: string;
    metricsPort?: number;
    metricsHost: string;
    decisionLog: "off" | "deny" | "all";
    decisionLogSample: number;
  };
  /** BACKUP_STALE_MINUTES and BACKUP_SWEEP_INTERVAL_MINUTES (src/backups/sweep.ts). */
  backupSweep: { staleMinutes: number; intervalMinutes: number };
  /** Forward-auth for a gateway (docs/gateway.md). */
  gateway: {
    /** Route table file; undefined: Seedbed's own routes. */
    routesFile?: string;
    dialect: "auto" | "nginx" | "traefik" | "envoy";
    /** Only gateways with a `forward-auth` service key (X-Seedbed-Key) may ask. */
    requireKey: boolean;
    /** Also answer a signed `X-Seedbed-Identity` token. */
    identityToken: boolean;
  };
  seeding: {
    superadminEmail?: string;
    superadminPassword?: string;
    /** Run demo seeders (default: on in development and test, off in production). */
    demo: boolean;
  };
}

/** Raised when the environment is invalid; `issues` name each variable. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export const VERSION = "0.1.0";

/**
 * Validates an environment (a plain record, so tests pass their own) and
 * returns the typed configuration. Throws ConfigError naming each bad variable.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && v !== "") cleaned[k] = v;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.APP_ENV === "production";
  const asymmetric = !e.ALGORITHM.startsWith("HS");

  let secretKey = e.SECRET_KEY ?? "";
  let secretGenerated = false;
  if (!asymmetric || !e.JWT_PRIVATE_KEY) {
    if (!secretKey) {
      if (production) problems.push("SECRET_KEY: is required in production");
      else {
        secretKey = randomSecret();
        secretGenerated = true;
      }
    } else if (secretKey.length < 32) {
      if (production) {
        problems.push(
          "SECRET_KEY: must be at least 32 characters in production",
        );
      }
    } else if (production && new Set(secretKey).size < MIN_SECRET_DISTINCT) {
      // "a" × 32 or "abab…" is long and guessable: a random key (openssl rand -hex 32) has ~16 distinct.
      problems.push(
        `SECRET_KEY: looks hand-made (fewer than ${MIN_SECRET_DISTINCT} distinct characters); use a random key, e.g. openssl rand -hex 32`,
      );
    }
  }
  if (production && e.LOG_PERSONAL_DATA) {
    problems.push(
      "LOG_PERSONAL_DATA: must not be true in production (logs would hold e-mail addresses and row values)",
    );
  }
  if (
    production && e.METRICS_PORT !== undefined && !e.METRICS_TOKEN &&
    !LOOPBACK.has(e.METRICS_HOST ?? e.HOST)
  ) {
    problems.push(
      "METRICS_PORT: needs METRICS_TOKEN in production unless METRICS_HOST is a loopback address (the port would be open to anyone who reaches it)",
    );
  }
  if (asymmetric && !e.JWT_PRIVATE_KEY) {
    problems.push(
      `JWT_PRIVATE_KEY: is required when ALGORITHM is ${e.ALGORITHM}`,
    );
  }
  // Published placeholders (compose, .env.example, the seeds' default password): src/placeholders.ts.
  if (production) problems.push(...placeholderProblems(e));
  if (production && e.SEED_DEMO === true) {
    problems.push(
      "SEED_DEMO: must not be true in production (the demo seeders create accounts with the published password; they run only in development and test)",
    );
  }
  if (production && e.SUPERADMIN_PASSWORD !== undefined) {
    // The rule the API applies to every new password (never the value itself in the message).
    const weak = passwordProblems(e.SUPERADMIN_PASSWORD, e.SUPERADMIN_EMAIL);
    if (weak.length) {
      problems.push(
        `SUPERADMIN_PASSWORD: ${weak.join("; ")} (the password policy of the API, in production)`,
      );
    }
  }
  if (
    e.DATABASE_RESPONSE_TIMEOUT_MS && e.DATABASE_STATEMENT_TIMEOUT_MS &&
    e.DATABASE_RESPONSE_TIMEOUT_MS <= e.DATABASE_STATEMENT_TIMEOUT_MS
  ) {
    problems.push(
      "DATABASE_RESPONSE_TIMEOUT_MS: must exceed DATABASE_STATEMENT_TIMEOUT_MS (or be 0): a statement the server still lets run would be cut",
    );
  }
  if (production && e.DATABASE_URL === ":memory:") {
    problems.push(
      "DATABASE_URL: is required in production (an in-memory database loses all data)",
    );
  }
  if (
    (e.AWS_ACCESS_KEY_ID === undefined) !==
      (e.AWS_SECRET_ACCESS_KEY === undefined)
  ) {
    problems.push(
      "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: set both or neither",
    );
  }
  if (e.ACCESS_POLL_MS * 4 > e.ACCESS_LEASE_MS) {
    problems.push(
      "ACCESS_POLL_MS: must be at most a quarter of ACCESS_LEASE_MS (a lease is renewed by polls)",
    );
  }
  if (e.BACKUP_SCHEDULE !== undefined) {
    try {
      parseSchedule(e.BACKUP_SCHEDULE, e.BACKUP_SCHEDULE_TIMEZONE);
    } catch (err) {
      const m = (err as Error).message;
      problems.push(`${m.startsWith("time zone") ? "BACKUP_SCHEDULE_TIMEZONE" : "BACKUP_SCHEDULE"}: ${m}`);
    }
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT === e.PORT) {
    problems.push("METRICS_PORT: must differ from PORT (the metrics port serves /metrics alone)");
  }
  if (problems.length) throw new ConfigError(problems);

  const embedded = !e.S3_ENDPOINT && e.APP_ENV !== "production";
  return {
    appEnv: e.APP_ENV,
    version: VERSION,
    databaseUrl: e.DATABASE_URL,
    databaseAuthToken: e.DATABASE_AUTH_TOKEN,
    databaseKind: databaseKind(e.DATABASE_URL)!,
    auth: {
      secretKey,
      secretGenerated,
      algorithm: e.ALGORITHM,
      privateKey: e.JWT_PRIVATE_KEY,
      publicKey: e.JWT_PUBLIC_KEY,
      keyId: e.JWT_KEY_ID,
      previousPublicKeys: e.JWT_PREVIOUS_PUBLIC_KEYS,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTokenExpireMinutes: e.ACCESS_TOKEN_EXPIRE_MINUTES,
    },
    http: {
      port: e.PORT,
      host: e.HOST,
      trustProxy: e.TRUST_PROXY,
      shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
      maxUploadBytes: e.MAX_UPLOAD_BYTES,
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxJsonDepth: e.JSON_MAX_DEPTH,
      readyTimeoutMs: e.READY_TIMEOUT_MS,
      publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ""),
    },
    database: {
      connectTimeoutSeconds: e.DATABASE_CONNECT_TIMEOUT_SECONDS,
      reconnectMaxMs: e.DATABASE_RECONNECT_MAX_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      ...(e.DATABASE_RESPONSE_TIMEOUT_MS !== undefined
        ? { responseTimeoutMs: e.DATABASE_RESPONSE_TIMEOUT_MS }
        : {}),
    },
    logLevel: e.LOG_LEVEL,
    logPersonalData: e.LOG_PERSONAL_DATA,
    access: {
      // Postgres: a version read per batch of requests is a network round trip — leases by default.
      // A local libSQL file reads it in microseconds (and `deno task dev` is one process).
      // Not in src/db/: an access setting's default, chosen from the URL before any database is open.
      freshness: e.ACCESS_FRESHNESS ?? (databaseKind(e.DATABASE_URL) === "postgres" ? "lease" : "read"),
      leaseMs: e.ACCESS_LEASE_MS,
      pollMs: e.ACCESS_POLL_MS,
      maxEvaluations: e.AUTHZEN_MAX_EVALUATIONS,
    },
    s3: {
      bucket: e.S3_BUCKET_NAME,
      region: e.AWS_REGION,
      accessKeyId: e.AWS_ACCESS_KEY_ID,
      secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
      endpoint: e.S3_ENDPOINT,
      // A public endpoint is a host of its own (MinIO's published port, a proxy): the bucket goes in the path.
      public: e.S3_PUBLIC_ENDPOINT
        ? { endpoint: e.S3_PUBLIC_ENDPOINT, forcePathStyle: e.S3_FORCE_PATH_STYLE ?? true }
        : undefined,
      forcePathStyle: e.S3_FORCE_PATH_STYLE ??
        (e.S3_ENDPOINT !== undefined || embedded),
      sse: e.S3_SSE,
      sseKmsKeyId: e.S3_SSE_KMS_KEY_ID,
      embedded,
      embeddedDir: e.S3_EMBEDDED_DIR,
    },
    backups: {
      retentionCount: e.BACKUP_RETENTION_COUNT,
      retentionDays: e.BACKUP_RETENTION_DAYS,
      schedule: e.BACKUP_SCHEDULE,
      scheduleTimezone: e.BACKUP_SCHEDULE_TIMEZONE,
      maxRowBytes: e.BACKUP_MAX_ROW_BYTES,
      signingKey: e.BACKUP_SIGNING_KEY,
      signingKeysPrevious: list(e.BACKUP_SIGNING_KEYS_PREVIOUS),
      signingSecretGenerated: secretGenerated,
      encryptionKey: e.BACKUP_ENCRYPTION_KEY,
      encryptionKeysPrevious: list(e.BACKUP_ENCRYPTION_KEYS_PREVIOUS),
    },
    observability: {
      metricsToken: e.METRICS_TOKEN,
      metricsPort: e.METRICS_PORT,
      metricsHost: e.METRICS_HOST ?? e.HOST,
      decisionLog: e.ACCESS_DECISION_LOG,
      decisionLogSample: e.ACCESS_DECISION_LOG_SAMPLE ?? 1,
    },
    backupSweep: {
      staleMinutes: e.BACKUP_STALE_MINUTES,
      intervalMinutes: e.BACKUP_SWEEP_INTERVAL_MINUTES,
    },
    gateway: {
      routesFile: e.FORWARD_AUTH_ROUTES,
      dialect: e.FORWARD_AUTH_DIALECT,
      requireKey: e.FORWARD_AUTH_REQUIRE_KEY ?? production,
      identityToken: e.FORWARD_AUTH_IDENTITY_TOKEN ?? false,
    },
    seeding: {
      superadminEmail: e.SUPERADMIN_EMAIL,
      superadminPassword: e.SUPERADMIN_PASSWORD,
      demo: e.SEED_DEMO ?? !production,
    },
  };
}

/** A comma-separated list, trimmed, without empty entries. */
function list(v: string | undefined): string[] {
  return (v ?? "").split(",").map((x) => x.trim()).filter(Boolean);
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  return base64url.encode(bytes);
}
