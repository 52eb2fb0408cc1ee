/**
 * Published placeholder secrets — the values printed in docker-compose.yml,
 * .env.example, the seeds and the docs — which production refuses: anyone
 * can read them. Messages name the variable and where the value comes from,
 * never the value. Story: docs/configuration.md.
 */

/** Values of SECRET_KEY that are published somewhere (compared case-insensitively). */
const SECRET_KEYS = new Set([
  "change-me-to-a-long-random-string-of-32-chars-or-more", // docker-compose.yml
  "your-secret-key-here", // seed 000
  "your-secret-key",
  "changeme",
  "change-me",
  "secret",
]);
/** Words that only a placeholder contains. */
const PLACEHOLDER_WORDS = /change[-_ ]?me|replace[-_ ]?me|your[-_ ]secret|placeholder/i;

const SUPERADMIN_PASSWORDS = new Set([
  "superadmin@123", // seed 002, the development default
  "change-me-on-first-login-1!", // docker-compose.yml
]);

/** S3 secrets of local S3 servers (MinIO's default, the embedded s3rver, docker-compose.yml). */
const S3_SECRETS = new Set(["minioadmin", "s3rver", "seedbed-minio-secret"]);

/** Database passwords published in docker-compose.yml. */
const DATABASE_PASSWORDS = new Set(["seedbed-dev-password"]);

function databasePassword(url: string | undefined): string | null {
  if (!url || !/^postgres(ql)?:\/\//.test(url)) return null;
  try {
    return decodeURIComponent(new URL(url.replace(/^postgres(ql)?:/, "http:")).password) || null;
  } catch {
    return null;
  }
}

/** One problem per variable holding a published placeholder (call for production only). */
export function placeholderProblems(env: {
  SECRET_KEY?: string;
  SUPERADMIN_PASSWORD?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  DATABASE_URL?: string;
}): string[] {
  const out: string[] = [];
  const key = env.SECRET_KEY?.trim();
  if (key && (SECRET_KEYS.has(key.toLowerCase()) || PLACEHOLDER_WORDS.test(key))) {
    out.push(
      "SECRET_KEY: is a published placeholder (docker-compose.yml, .env.example or the docs) and cannot be used " +
        "in production; set 32+ random characters, e.g. the output of `openssl rand -base64 48`",
    );
  }
  const pw = env.SUPERADMIN_PASSWORD?.trim();
  if (pw && (SUPERADMIN_PASSWORDS.has(pw.toLowerCase()) || PLACEHOLDER_WORDS.test(pw))) {
    out.push(
      pw.toLowerCase() === "superadmin@123"
        ? "SUPERADMIN_PASSWORD: the published default password cannot be used in production"
        : "SUPERADMIN_PASSWORD: is a published placeholder (docker-compose.yml) and cannot be used in production",
    );
  }
  if (env.AWS_SECRET_ACCESS_KEY && S3_SECRETS.has(env.AWS_SECRET_ACCESS_KEY.trim().toLowerCase())) {
    out.push(
      "AWS_SECRET_ACCESS_KEY: is a published default (MinIO, the embedded S3 server or docker-compose.yml) and " +
        "cannot be used in production",
    );
  }
  const dbPassword = databasePassword(env.DATABASE_URL);
  if (dbPassword && DATABASE_PASSWORDS.has(dbPassword.toLowerCase())) {
    out.push(
      "DATABASE_URL: its password is published in docker-compose.yml and cannot be used in production",
    );
  }
  return out;
}
