/**
 * The seeder contract. A seeder is a small module in `seeders/` that declares
 * its name, what it depends on and where it runs, and seeds through the
 * helpers on its context (see `context.ts`).
 * Story: docs/seeding.md ("Writing a seeder").
 */
import type { PgTable } from "drizzle-orm/pg-core";
import type { InferInsertModel, InferSelectModel, SQL } from "drizzle-orm";
import type { AppEnv } from "../config.ts";
import type { Database, Tx } from "../db/client.ts";
import type { Schema } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import type { Random } from "./random.ts";

/** What a seeder changed. */
export interface SeedStats {
  created: number;
  updated: number;
  deleted: number;
}

/** Per-seeder status in a result: what the seed's response calls `status`. */
export type SeederStatus = "completed" | "failed" | "rolled_back" | "skipped";

/** One seeder's entry in `results.seeders` (the seed 002 response shape). */
export interface SeederOutcome extends SeedStats {
  status: SeederStatus;
  /** Only on a failed seeder: what went wrong. */
  error?: string;
}

/** Options a run passes to every seeder. */
export interface SeedRunOptions {
  /** The environment seeded for (decides e.g. the super admin's password rules). */
  env: AppEnv;
  /** Rows per module table for the volume seeder (0: none). */
  scale: number;
  /** Seed of the deterministic generator for volume and demo data. */
  randomSeed: number;
  /** Super admin settings from the configuration (`SUPERADMIN_EMAIL`, `SUPERADMIN_PASSWORD`). */
  superadminEmail?: string;
  superadminPassword?: string;
}

/** A table of the schema, as the helpers accept it. */
export type AnyTable = PgTable;
export type Row<T extends AnyTable> = InferSelectModel<T>;
export type NewRow<T extends AnyTable> = InferInsertModel<T>;

/** Values that may be computed lazily (only when a row is actually created). */
export type Lazy<T> = T | (() => T | Promise<T>);

/** Result of `ctx.upsert`. */
export interface UpsertResult<T extends AnyTable> {
  row: Row<T>;
  status: "created" | "updated" | "unchanged";
}

/** What a seeder's `seed` receives. Every helper runs in the run's transaction and counts into `stats`. */
export interface SeedContext {
  /** The run's transaction: use it (never `db.db`) for any custom query. */
  tx: Tx;
  /** Tables of the active dialect. */
  t: Schema;
  dialect: Database["dialect"];
  options: SeedRunOptions;
  executionId: number;
  logger: Logger;
  /** This seeder's running tally; helpers add to it. `seed` usually returns it. */
  stats: SeedStats;
  /** A deterministic generator for `stream` under the run's random seed. */
  random(stream: string): Random;
  /**
   * Finds the row matching `key` (column → value; null matches NULL) or
   * inserts `{...key, ...values}`. Counts `created` when it inserts.
   */
  getOrCreate<T extends AnyTable>(
    table: T,
    key: Partial<NewRow<T>>,
    values?: Lazy<Partial<NewRow<T>>>,
  ): Promise<{ row: Row<T>; created: boolean }>;
  /**
   * Makes the row matching `key` carry `values`: inserts it (with `onCreate`
   * values too, e.g. a password hash) or updates only the columns that
   * differ. Counts `created` / `updated`; an identical row is untouched.
   */
  upsert<T extends AnyTable>(
    table: T,
    key: Partial<NewRow<T>>,
    values: Partial<NewRow<T>>,
    onCreate?: Lazy<Partial<NewRow<T>>>,
  ): Promise<UpsertResult<T>>;
  /**
   * `upsert` for many rows keyed by one unique column: one read of the
   * existing rows, one batched insert of the missing ones, and an update for
   * each row that differs. Counts `created` / `updated` the same way.
   */
  upsertMany<T extends AnyTable>(
    table: T,
    key: keyof NewRow<T> & string,
    rows: Partial<NewRow<T>>[],
  ): Promise<{ created: number; updated: number; unchanged: number }>;
  /**
   * Inserts many rows in batches, skipping rows whose unique key already
   * exists. Returns (and counts as `created`) how many were inserted.
   */
  bulkInsert<T extends AnyTable>(
    table: T,
    rows: NewRow<T>[],
    options?: { batchSize?: number },
  ): Promise<number>;
  /** Deletes the rows matching `where`; counts and returns how many. */
  remove<T extends AnyTable>(table: T, where: SQL): Promise<number>;
  /** Hashes a password with argon2id, once per distinct password per run. */
  passwordHash(plain: string): Promise<string>;
  /**
   * A message for the operator only (e.g. a generated password): printed
   * once on the console, never logged and never stored.
   */
  announce(message: string): void;
}

/** A seeder module. */
export interface SeederDefinition {
  /** Unique name, as it appears in `results.seeders` (e.g. `PermissionsSeeder`). */
  name: string;
  description: string;
  /** Seeders that must run first (pulled in by `--only`). */
  dependsOn?: string[];
  /**
   * The only environments the seeder ever runs in: by default, by `only`, as a dependency, as demo or
   * volume data — asking for it elsewhere is a VALIDATION_ERROR naming it (`plan.ts`).
   */
  environments: readonly AppEnv[];
  /**
   * Demo data: runs where `environments` allow it unless demo seeding is
   * turned off (SEED_DEMO, --no-demo).
   */
  demo?: boolean;
  /** Runs only when `--scale N` asks for volume data. */
  volume?: boolean;
  /**
   * The registered module whose records this seeder writes (`restaurants`), if any: listed by `seed --list`
   * and checked against the registry. A module file never imports its seeders (that would be an import
   * cycle through the schema); the seeder names its module instead.
   */
  module?: string;
  seed(ctx: SeedContext): Promise<SeedStats>;
}

/** Identity helper giving a seeder literal its type. */
export function defineSeeder(def: SeederDefinition): SeederDefinition {
  return def;
}

export const ALL_ENVS = ["development", "test", "production"] as const;
export const DEMO_ENVS = ["development", "test"] as const;
