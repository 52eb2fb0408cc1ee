/**
 * The S3 client every module shares (backups, files), built once from
 * `config.s3`: bucket, region, credentials, endpoint (MinIO, the embedded
 * server), path-style addressing and server-side encryption.
 *
 * - Credentials come from the config when given; otherwise the AWS SDK's
 *   default chain (environment, profile, instance role) applies.
 * - When the config asks for the embedded server (`config.s3.embedded`) but
 *   no endpoint has been set — nobody started it — every request fails at
 *   once with STORAGE_UNAVAILABLE instead of wandering off to real AWS.
 * - `storageError` turns SDK failures into AppErrors whose message names the
 *   bucket and endpoint, never a credential.
 *
 * Story: docs/backups.md ("Configuration").
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";

/** The `config.s3` section. */
export type S3Config = Config["s3"];

/**
 * The client presigned URLs are signed with: one for S3_PUBLIC_ENDPOINT, path-style unless
 * S3_FORCE_PATH_STYLE says otherwise (the bucket in the path of a host of its own); `shared` without one.
 */
export function createPresignClient(s3: S3Config, shared: S3Client): S3Client {
  return s3.public ? createS3Client({ ...s3, ...s3.public }) : shared;
}

/** Builds the shared S3 client. */
export function createS3Client(s3: S3Config): S3Client {
  const credentials = s3.accessKeyId && s3.secretAccessKey
    ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    : undefined;
  const client = new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 300_000 },
    // The SDK's default (WHEN_SUPPORTED) computes a CRC32 of every upload part in JavaScript, on the
    // event loop: 130-260 ms per 8 MiB part here, which stalled /health during backups and a restore's
    // safety backup (bench/health_during_restore.ts). Backups carry their own SHA-256, checked on every
    // read (docs/backups.md); checksums are sent when an operation requires them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  if (s3.embedded && !s3.endpoint) {
    client.middlewareStack.add(() => () => {
      throw new AppError(
        "STORAGE_UNAVAILABLE",
        `S3 is not configured: no S3_ENDPOINT is set and the embedded S3 server was not started (bucket "${s3.bucket}"). ` +
          "Set S3_ENDPOINT, or run the service with `deno task dev`, which starts it.",
      );
    }, { step: "initialize", name: "seedbedEmbeddedNotStarted" });
  }
  return client;
}

/** Server-side encryption parameters for writes (PutObject, Upload, CopyObject). */
export function sseParams(
  s3: S3Config,
): { ServerSideEncryption?: "AES256" | "aws:kms"; SSEKMSKeyId?: string } {
  if (!s3.sse) return {};
  return s3.sse === "aws:kms" && s3.sseKmsKeyId
    ? { ServerSideEncryption: s3.sse, SSEKMSKeyId: s3.sseKmsKeyId }
    : { ServerSideEncryption: s3.sse };
}

/** Where the bucket lives, for messages: the endpoint, or AWS and the region. */
export function describeEndpoint(s3: S3Config): string {
  if (!s3.endpoint) return `AWS S3 (${s3.region})`;
  try {
    const u = new URL(s3.endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "the configured S3 endpoint";
  }
}

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const NETWORK =
  /ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|EAI_AGAIN|EHOSTUNREACH|socket hang up|connect|network|fetch failed|timed? ?out/i;
const CREDENTIALS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "Forbidden",
  "InvalidToken",
  "ExpiredToken",
  "CredentialsProviderError",
]);

/** Seconds a client is told to wait when S3 is down (an outage, not a bad request). */
const RETRY_AFTER = "5";

/**
 * Maps an S3 failure to an AppError: STORAGE_UNAVAILABLE (503) when the
 * endpoint cannot be reached, the bucket is missing or S3 answers 5xx;
 * STORAGE_ERROR (502) when credentials are refused or anything else fails.
 * A missing object is NOT_FOUND naming the key. AppErrors pass through.
 */
export function storageError(err: unknown, s3: S3Config, key?: string): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? e.Code ?? e.code ?? "";
  const status = e.$metadata?.httpStatusCode;
  const where = `bucket "${s3.bucket}" at ${describeEndpoint(s3)}`;
  const causes = [e, e.cause as SdkError | undefined].filter(Boolean) as SdkError[];
  if (name === "NoSuchBucket") {
    return new AppError("STORAGE_UNAVAILABLE", `S3 ${where} does not exist; create it first`, { cause: err });
  }
  if (name === "NoSuchKey" || (name === "NotFound" && status === 404 && key)) {
    return new AppError("NOT_FOUND", `S3 object "${key ?? "?"}" not found in bucket "${s3.bucket}"`, {
      cause: err,
    });
  }
  if (CREDENTIALS.has(name) || status === 403 || status === 401) {
    return new AppError(
      "STORAGE_ERROR",
      `S3 refused the credentials for ${where} (${
        name || `HTTP ${status}`
      }); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy`,
      { cause: err },
    );
  }
  if (
    status === undefined &&
      causes.some((c) => NETWORK.test(String(c.code ?? "")) || NETWORK.test(String(c.message ?? ""))) ||
    name === "TimeoutError" || name === "RequestTimeout"
  ) {
    return new AppError(
      "STORAGE_UNAVAILABLE",
      `S3 is unreachable at ${describeEndpoint(s3)} (bucket "${s3.bucket}")`,
      { headers: { "Retry-After": RETRY_AFTER }, cause: err },
    );
  }
  if (status !== undefined && status >= 500) {
    return new AppError(
      "STORAGE_UNAVAILABLE",
      `S3 ${where} failed (HTTP ${status}${name ? `, ${name}` : ""})`,
      { headers: { "Retry-After": RETRY_AFTER }, cause: err },
    );
  }
  return new AppError(
    "STORAGE_ERROR",
    `S3 ${where} failed${name ? ` (${name})` : ""}${key ? ` for "${key}"` : ""}`,
    {
      cause: err,
    },
  );
}
