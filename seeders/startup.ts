/**
 * `deno task dev`: after migrations, run the core (and, unless SEED_DEMO=false,
 * demo) seeders — no backup at startup — and print the development
 * credentials so a new user can log in at once. Never called in production:
 * there, seeding is an explicit `deno task seed` or `POST /api/v1/seeders/execute`.
 */
import type { Config } from "../src/config.ts";
import { AppError } from "../src/errors.ts";
import { type Logger, printErr } from "../src/log.ts";
import type { SeedingService } from "../src/seeding/seeding_service.ts";
import { DEMO_PASSWORD, DEMO_USERS } from "./demo_data.ts";
import {
  DEFAULT_SUPERADMIN_EMAIL,
  DEFAULT_SUPERADMIN_PASSWORD,
  EXAMPLE_SUPERADMIN_EMAIL,
} from "./super_admin.ts";

/** The credentials block printed at startup (no secret from the environment is ever shown). */
export function credentialsText(config: Config, demo: boolean, port: number): string {
  const sa = config.seeding.superadminPassword ? "<your SUPERADMIN_PASSWORD>" : DEFAULT_SUPERADMIN_PASSWORD;
  const lines = [
    "Development credentials:",
    `  platform super admin   ${DEFAULT_SUPERADMIN_EMAIL} / ${sa}   (also ${EXAMPLE_SUPERADMIN_EMAIL})`,
  ];
  if (demo) {
    for (const u of DEMO_USERS) {
      const org = u.org === "test-corp" ? "Test Corp" : "Globex";
      lines.push(`  ${`${org} ${u.key}`.padEnd(22)} ${u.email} / ${DEMO_PASSWORD}`);
    }
  }
  lines.push(
    `Log in: curl -X POST http://localhost:${port}/api/v1/auth/login -H "Content-Type: application/json" ` +
      `-d '{"email": "${DEFAULT_SUPERADMIN_EMAIL}", "password": "${sa}"}'`,
  );
  return lines.join("\n");
}

/**
 * Seeds for development/test startup. Returns false when seeding failed (the
 * caller stops); another replica seeding at the same moment is not a failure.
 */
export async function seedAtStartup(
  seeding: SeedingService,
  config: Config,
  logger: Logger,
  print: (text: string) => void = printErr,
): Promise<boolean> {
  if (config.appEnv === "production") return true;
  try {
    const r = await seeding.execute({ createBackup: false, triggeredBy: "startup", announce: print });
    logger.info("startup_seeding_completed", { execution_id: r.execution_id, ...r.results.total });
    print(credentialsText(config, "DemoUsersSeeder" in r.results.seeders, config.http.port));
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === "SEEDING_IN_PROGRESS") {
      logger.warn("startup_seeding_skipped", { reason: err.message });
      return true;
    }
    const message = err instanceof Error ? err.message : String(err);
    logger.error("startup_seeding_failed", { error: message });
    print(`seedbed: seeding at startup failed: ${message}`);
    return false;
  }
}
