/** Shared setup for the seeding tests. */
import { count } from "drizzle-orm";
import type { Database } from "../../src/db/client.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import type { BackupPort, BackupRef, RestoreInput, RestoreOutcome } from "../../src/seeding/backup_port.ts";
import { SeedingService, type SeedingServiceOptions } from "../../src/seeding/seeding_service.ts";
import type { AnyTable, SeederDefinition } from "../../src/seeding/types.ts";
import { type Logger, silentLogger } from "../../src/log.ts";
import { testConfig } from "../helpers/app.ts";
import { SEEDERS } from "../../seeders/mod.ts";

const hashes = new Map<string, Promise<string>>();
/** Real argon2id, but each distinct password hashed once per test process; counts calls. */
export const hasher = {
  calls: 0,
  hash(plain: string): Promise<string> {
    hasher.calls++;
    let h = hashes.get(plain);
    if (!h) {
      h = hashPassword(plain);
      hashes.set(plain, h);
    }
    return h;
  },
};

export interface ServiceOptions extends Partial<Omit<SeedingServiceOptions, "db" | "config">> {
  env?: Record<string, string>;
}

/** A SeedingService over `db` with test configuration (APP_ENV=test). */
export function service(db: Database, o: ServiceOptions = {}): SeedingService {
  return new SeedingService({
    db,
    config: testConfig(o.env),
    logger: o.logger ?? silentLogger,
    hashPassword: o.hashPassword ?? hasher.hash,
    announce: o.announce ?? (() => {}),
    ...o,
    seeders: o.seeders ?? SEEDERS,
  });
}

/** Row count of a table. */
export async function rowCount(db: Database, table: AnyTable): Promise<number> {
  const [{ n }] = await db.db.select({ n: count() }).from(table);
  return Number(n);
}

/** A fake BackupPort that records its calls and can be told to fail. */
export class FakeBackupPort implements BackupPort {
  backups: { executionId: number | null; kind: string; triggeredBy: string }[] = [];
  restores: RestoreInput[] = [];
  fail: Error | null = null;

  backupBeforeSeeding(
    input: { executionId: number | null; kind: "execution" | "reset"; triggeredBy: string },
  ): Promise<BackupRef> {
    if (this.fail) return Promise.reject(this.fail);
    this.backups.push(input);
    return Promise.resolve({
      backupId: this.backups.length,
      s3Key: `database-backups/20250115_120000_execution_${input.executionId}.json.gz`,
    });
  }

  restore(input: RestoreInput): Promise<RestoreOutcome> {
    if (this.fail) return Promise.reject(this.fail);
    this.restores.push(input);
    return Promise.resolve({
      success: true,
      restored_from: input.s3Key ?? "database-backups/latest.json.gz",
      safety_backup_s3_key: "database-backups/safety.json.gz",
      tables: { users: 3 },
    });
  }
}

/** A seeder that inserts one permission named `name` (for engine tests). */
export function permissionSeeder(name: string, extra: Partial<SeederDefinition> = {}): SeederDefinition {
  return {
    name,
    description: `test seeder ${name}`,
    environments: ["development", "test", "production"],
    async seed(ctx) {
      await ctx.getOrCreate(ctx.t.permissions, { name: `${name.toLowerCase()}.read` }, {
        module: name.toLowerCase(),
        action: "read",
      });
      return ctx.stats;
    },
    ...extra,
  };
}

/** Resolves when called; lets a test hold a run open inside its transaction. */
export function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (entered = r));
  return { open, opened, entered, reached };
}

export type { Logger };
