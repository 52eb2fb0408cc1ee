/** Builds a real app over a real test database, for `app.request()` tests. */
import { createApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/client.ts";
import { buildDeps } from "../../src/deps.ts";
import type { Logger } from "../../src/log.ts";
import { guardedLogger } from "./log_guard.ts";

/** A test configuration; `env` overrides individual variables. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    APP_ENV: "test",
    SECRET_KEY: "test-secret-key-that-is-long-enough-0123456789",
    LOG_LEVEL: "silent",
    ...env,
  });
}

export async function testApp(
  db: Database,
  options: { env?: Record<string, string>; logger?: Logger } = {},
) {
  const config = testConfig(options.env);
  const deps = await buildDeps({
    config,
    db,
    // Every line is built and checked for personal data (tests/helpers/log_guard.ts), none is printed.
    logger: options.logger ?? guardedLogger(),
  });
  return { app: createApp(deps), deps, config };
}

/** Parses a JSON response body. */
export async function json<T = Record<string, unknown>>(
  res: Response,
): Promise<T> {
  return await res.json() as T;
}
