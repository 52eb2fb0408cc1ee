/**
 * Every table of Seedbed, defined once for both dialects (see `schema_kit.ts`): the platform's own here,
 * the registered modules' record tables from their definitions (`modules/*.ts`, `module_tables.ts`).
 *
 * Tenant-scoped tables carry `organization_id NOT NULL` with an index; the
 * repositories filter on it inside every query (layer 1 of the access model).
 * Story: docs/architecture.md.
 */
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import { pgKit, type SchemaKit, sqliteKit } from "./schema_kit.ts";
import { defineModuleTables } from "./module_tables.ts";

/** Module key → on/off, as seed 000's `enabled_modules`. Keys are case-insensitive. */
export type ModuleFlags = Record<string, boolean>;
/** Module key → ISO timestamp at which the module's trial ends. */
export type TrialEnds = Record<string, string>;

const now = () => new Date();

/** Builds every table with the given dialect kit. */
export function defineSchema(k: SchemaKit) {
  const created = () => k.ts("created_at").notNull().$defaultFn(now);
  const updated = () => k.ts("updated_at").notNull().$defaultFn(now).$onUpdateFn(now);

  const organizations = k.table("organizations", {
    id: k.id(),
    name: k.text("name").notNull(),
    slug: k.text("slug").notNull(),
    licenseTier: k.text("license_tier").notNull().default("free"),
    enabledModules: k.json("enabled_modules").$type<ModuleFlags>().notNull()
      .$defaultFn(() => ({})),
    trialEnds: k.json("trial_ends").$type<TrialEnds>().notNull().$defaultFn(
      () => ({}),
    ),
    isActive: k.bool("is_active").notNull().default(true),
    createdAt: created(),
    updatedAt: updated(),
  }, (t) => [
    k.uniqueIndex("organizations_name_uq").on(t.name),
    k.uniqueIndex("organizations_slug_uq").on(t.slug),
  ]);

  const users = k.table("users", {
    id: k.id(),
    email: k.text("email").notNull(),
    username: k.text("username"),
    fullName: k.text("full_name"),
    passwordHash: k.text("password_hash").notNull(),
    /** Base role: super_admin | admin | manager | executive, or a custom role's name. */
    role: k.text("role").notNull(),
    /** The role row granting this user's permission set (system or custom). */
    roleId: k.int("role_id").references(() => roles.id, {
      onDelete: "set null",
    }),
    organizationId: k.int("organization_id").references(
      () => organizations.id,
      {
        onDelete: "cascade",
      },
    ),
    reportsToId: k.int("reports_to_id").references(
      (): AnyPgColumn => users.id,
      {
        onDelete: "set null",
      },
    ),
    isSuperAdmin: k.bool("is_super_admin").notNull().default(false),
    isCompanyAdmin: k.bool("is_company_admin").notNull().default(false),
    isActive: k.bool("is_active").notNull().default(true),
    isVerified: k.bool("is_verified").notNull().default(false),
    mustChangePassword: k.bool("must_change_password").notNull().default(false),
    passwordChangedAt: k.ts("password_changed_at").notNull().$defaultFn(now),
    lastLoginAt: k.ts("last_login_at"),
    createdAt: created(),
    updatedAt: updated(),
  }, (t) => [
    k.uniqueIndex("users_email_uq").on(t.email),
    k.uniqueIndex("users_username_uq").on(t.username),
    k.index("users_organization_idx").on(t.organizationId),
    k.index("users_reports_to_idx").on(t.reportsToId),
  ]);

  const entitlementProfiles = k.table("entitlement_profiles", {
    id: k.id(),
    tier: k.text("tier").notNull(),
    name: k.text("name").notNull(),
    description: k.text("description"),
    /** Modules the tier includes outright. */
    modules: k.json("modules").$type<string[]>().notNull(),
    /** Modules the tier offers as a trial: module → trial length in days. */
    trialModules: k.json("trial_modules").$type<Record<string, number>>()
      .notNull(),
    createdAt: created(),
    updatedAt: updated(),
  }, (t) => [k.uniqueIndex("entitlement_profiles_tier_uq").on(t.tier)]);

  const permissions = k.table("permissions", {
    id: k.id(),
    name: k.text("name").notNull(),
    module: k.text("module").notNull(),
    action: k.text("action").notNull(),
    description: k.text("description"),
    createdAt: created(),
  }, (t) => [k.uniqueIndex("permissions_name_uq").on(t.name)]);

  const roles = k.table("roles", {
    id: k.id(),
    name: k.text("name").notNull(),
    description: k.text("description"),
    /** null: a global role; otherwise the organization that owns this custom role. */
    organizationId: k.int("organization_id").references(
      () => organizations.id,
      {
        onDelete: "cascade",
      },
    ),
    /** 0 for global roles, else the organization id: makes (scope, name) unique on both dialects. */
    scopeKey: k.int("scope_key").notNull().default(0),
    isSystem: k.bool("is_system").notNull().default(false),
    /** Other names this role answers to (e.g. `superadmin` for `super_admin`). */
    aliases: k.json("aliases").$type<string[]>().notNull().$defaultFn(() => []),
    /** Record scope of the role's holders: own | team | all. */
    recordScope: k.text("record_scope").notNull().default("own"),
    createdAt: created(),
    updatedAt: updated(),
  }, (t) => [
    k.uniqueIndex("roles_scope_name_uq").on(t.scopeKey, t.name),
    k.index("roles_organization_idx").on(t.organizationId),
  ]);

  const rolePermissions = k.table(
    "role_permissions",
    {
      id: k.id(),
      roleId: k.int("role_id").notNull().references(() => roles.id, {
        onDelete: "cascade",
      }),
      permissionId: k.int("permission_id").notNull().references(
        () => permissions.id,
        {
          onDelete: "cascade",
        },
      ),
      createdAt: created(),
    },
    (t) => [k.uniqueIndex("role_permissions_uq").on(t.roleId, t.permissionId)],
  );

  const userModules = k.table("user_modules", {
    id: k.id(),
    organizationId: k.int("organization_id").notNull().references(
      () => organizations.id,
      {
        onDelete: "cascade",
      },
    ),
    userId: k.int("user_id").notNull().references(() => users.id, {
      onDelete: "cascade",
    }),
    module: k.text("module").notNull(),
    createdAt: created(),
  }, (t) => [
    k.uniqueIndex("user_modules_uq").on(t.userId, t.module),
    k.index("user_modules_organization_idx").on(t.organizationId),
  ]);

  const userPermissions = k.table("user_permissions", {
    id: k.id(),
    organizationId: k.int("organization_id").notNull().references(
      () => organizations.id,
      {
        onDelete: "cascade",
      },
    ),
    userId: k.int("user_id").notNull().references(() => users.id, {
      onDelete: "cascade",
    }),
    /** A submodule permission such as `crm_leads_read`, or any permission name. */
    permission: k.text("permission").notNull(),
    createdAt: created(),
  }, (t) => [
    k.uniqueIndex("user_permissions_uq").on(t.userId, t.permission),
    k.index("user_permissions_organization_idx").on(t.organizationId),
  ]);

  const smsTemplates = k.table("sms_templates", {
    id: k.id(),
    name: k.text("name").notNull(),
    body: k.text("body").notNull(),
    description: k.text("description"),
    variables: k.json("variables").$type<string[]>().notNull().$defaultFn(
      () => [],
    ),
    isActive: k.bool("is_active").notNull().default(true),
    createdAt: created(),
    updatedAt: updated(),
  }, (t) => [k.uniqueIndex("sms_templates_name_uq").on(t.name)]);

  /** Columns every tenant-scoped business table shares. */
  const tenantColumns = () => ({
    id: k.id(),
    organizationId: k.int("organization_id").notNull().references(
      () => organizations.id,
      {
        onDelete: "cascade",
      },
    ),
    ownerId: k.int("owner_id").notNull().references(() => users.id, {
      onDelete: "restrict",
    }),
    createdAt: created(),
    updatedAt: updated(),
  });

  /** The registered modules' record tables (`modules/*.ts`, built in `module_tables.ts`). */
  const moduleTables = defineModuleTables(k, { organizations, users });

  const files = k.table("files", {
    ...tenantColumns(),
    name: k.text("name").notNull(),
    s3Key: k.text("s3_key").notNull(),
    sizeBytes: k.bigint("size_bytes").notNull(),
    contentType: k.text("content_type").notNull(),
    sha256: k.text("sha256").notNull(),
    metadata: k.json("metadata").$type<Record<string, string>>().notNull()
      .$defaultFn(() => ({})),
  }, (t) => [
    k.index("files_organization_idx").on(t.organizationId),
    k.index("files_owner_idx").on(t.ownerId),
    k.uniqueIndex("files_s3_key_uq").on(t.s3Key),
  ]);

  /** Execution history of seeding runs; survives reset and restore. */
  const seederExecutions = k.table("seeder_executions", {
    id: k.id(),
    /** pending | running | completed | failed */
    status: k.text("status").notNull().default("pending"),
    /** execute | reset | restore | dry_run */
    kind: k.text("kind").notNull().default("execute"),
    triggeredBy: k.text("triggered_by").notNull(),
    triggeredByUserId: k.int("triggered_by_user_id"),
    environment: k.text("environment").notNull(),
    dryRun: k.bool("dry_run").notNull().default(false),
    options: k.json("options").$type<Record<string, unknown>>().notNull()
      .$defaultFn(() => ({})),
    results: k.json("results").$type<Record<string, unknown>>().notNull()
      .$defaultFn(() => ({})),
    totalCreated: k.int("total_created").notNull().default(0),
    totalUpdated: k.int("total_updated").notNull().default(0),
    totalDeleted: k.int("total_deleted").notNull().default(0),
    backupCreated: k.bool("backup_created").notNull().default(false),
    backupS3Key: k.text("backup_s3_key"),
    warnings: k.json("warnings").$type<string[]>().notNull().$defaultFn(
      () => [],
    ),
    errorMessage: k.text("error_message"),
    errorTraceback: k.text("error_traceback"),
    startedAt: k.ts("started_at"),
    finishedAt: k.ts("finished_at"),
    durationMs: k.int("duration_ms"),
    createdAt: created(),
  }, (t) => [k.index("seeder_executions_created_idx").on(t.createdAt)]);

  /** At most one row: the seeding run that holds the lock, with a lease. */
  const seedingLocks = k.table("seeding_locks", {
    name: k.text("name").primaryKey(),
    executionId: k.int("execution_id").notNull(),
    holder: k.text("holder").notNull(),
    acquiredAt: k.ts("acquired_at").notNull(),
    expiresAt: k.ts("expires_at").notNull(),
  });

  /** Catalog of backups in S3; survives reset and restore. */
  const backups = k.table("backups", {
    id: k.id(),
    s3Key: k.text("s3_key").notNull(),
    /** pending | completed | failed | pruned */
    status: k.text("status").notNull().default("pending"),
    /** execution | manual | safety | reset */
    kind: k.text("kind").notNull().default("manual"),
    executionId: k.int("execution_id"),
    createdBy: k.text("created_by").notNull(),
    sizeBytes: k.bigint("size_bytes"),
    sha256: k.text("sha256"),
    rowCounts: k.json("row_counts").$type<Record<string, number>>(),
    manifest: k.json("manifest").$type<Record<string, unknown>>(),
    schemaVersion: k.text("schema_version"),
    dialect: k.text("dialect").notNull(),
    errorMessage: k.text("error_message"),
    createdAt: created(),
    completedAt: k.ts("completed_at"),
  }, (t) => [
    k.uniqueIndex("backups_s3_key_uq").on(t.s3Key),
    k.index("backups_execution_idx").on(t.executionId),
  ]);

  /** Security-relevant events (actor, organization, target, request id). */
  const auditLogs = k.table("audit_logs", {
    id: k.id(),
    event: k.text("event").notNull(),
    actorUserId: k.int("actor_user_id"),
    organizationId: k.int("organization_id"),
    target: k.text("target"),
    requestId: k.text("request_id"),
    details: k.json("details").$type<Record<string, unknown>>().notNull()
      .$defaultFn(() => ({})),
    createdAt: created(),
  }, (t) => [
    k.index("audit_logs_organization_idx").on(t.organizationId),
    k.index("audit_logs_created_idx").on(t.createdAt),
  ]);

  /** Version counters bumped in the same transaction as security-relevant changes. */
  const securityVersions = k.table("security_versions", {
    scope: k.text("scope").primaryKey(),
    version: k.bigint("version").notNull().default(0),
  });

  /**
   * Replicas answering access questions under a lease (ACCESS_FRESHNESS=lease): the security version each
   * has applied to its caches, and until when (database clock, epoch ms) it may answer without reading
   * the version. A writer waits until every live replica has applied its change (src/access/lease.ts).
   */
  const accessReplicas = k.table("access_replicas", {
    id: k.text("id").primaryKey(),
    appliedVersion: k.bigint("applied_version").notNull(),
    leaseUntilMs: k.bigint("lease_until_ms").notNull(),
  });

  /** Login throttling counters shared by every replica: key = `account:<email>` or `address:<ip>`. */
  const loginThrottles = k.table("login_throttles", {
    key: k.text("key").primaryKey(),
    failures: k.int("failures").notNull().default(0),
    windowStartedAt: k.ts("window_started_at").notNull(),
    blockedUntil: k.ts("blocked_until"),
  });

  /**
   * Revoked access tokens (bookkeeping: never backed up, kept across reset and restore). A row with a
   * `jti` refuses that one token (logout); a row without refuses every token of the user issued before it
   * (tokens carry the id of the user's latest such row as `rvk`). No reference to `users`: a row outlives a
   * wipe. Kept until every token it refuses has expired (`src/auth/revocation.ts`).
   */
  const tokenRevocations = k.table("token_revocations", {
    id: k.id(),
    userId: k.int("user_id").notNull(),
    jti: k.text("jti"),
    expiresAt: k.ts("expires_at").notNull(),
    createdAt: created(),
  }, (t) => [k.index("token_revocations_user_idx").on(t.userId, t.expiresAt)]);

  /**
   * Service credentials (API keys) for gateways and other services: an organization's (created by its
   * admin) or the platform's (organization null, created by a super admin). Only the SHA-256 of the
   * secret is stored; `prefix` identifies a key in lists and logs. They never log in as a user.
   */
  const serviceKeys = k.table("service_keys", {
    id: k.id(),
    organizationId: k.int("organization_id").references(() => organizations.id, { onDelete: "cascade" }),
    name: k.text("name").notNull(),
    prefix: k.text("prefix").notNull(),
    keyHash: k.text("key_hash").notNull(),
    /** `access.evaluate`, `forward-auth`. */
    scopes: k.json("scopes").$type<string[]>().notNull(),
    createdById: k.int("created_by_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: created(),
    expiresAt: k.ts("expires_at"),
    lastUsedAt: k.ts("last_used_at"),
    revokedAt: k.ts("revoked_at"),
  }, (t) => [
    k.uniqueIndex("service_keys_hash_uq").on(t.keyHash),
    k.index("service_keys_organization_idx").on(t.organizationId),
  ]);

  /**
   * Revoked service keys, by the SHA-256 of their secret (bookkeeping: never backed up, kept across reset
   * and restore). A revocation is security state, not data: a restore of a backup taken before it must not
   * bring the key back to life, so every restore re-applies these rows to the keys it loaded
   * (`src/backups/credentials.ts`). No reference to `service_keys`: a row outlives a wipe.
   */
  const serviceKeyRevocations = k.table("service_key_revocations", {
    keyHash: k.text("key_hash").primaryKey(),
    prefix: k.text("prefix").notNull(),
    revokedAt: k.ts("revoked_at").notNull(),
  });

  /**
   * The latest password of each user id and e-mail (bookkeeping: never backed up, kept across reset and
   * restore): a password retired after a backup must not log in again once that backup is restored. Written
   * in the transaction of every password change (own change, admin reset, rehash, the seeder retiring the
   * published default; a creation only fills a missing row); every restore re-applies it to the users it
   * loaded whose id and e-mail match and whose password is older (`src/backups/credentials.ts`). Keyed by id
   * AND e-mail: a reset numbers users from 1 again, and one person's password must never become another's.
   * No reference to `users`: a row outlives a wipe and a deletion.
   */
  const credentialFloors = k.table("credential_floors", {
    userId: k.int("user_id").notNull(),
    email: k.text("email").notNull(),
    passwordHash: k.text("password_hash").notNull(),
    passwordChangedAt: k.ts("password_changed_at").notNull(),
    mustChangePassword: k.bool("must_change_password").notNull(),
  }, (t) => [k.uniqueIndex("credential_floors_user_email_uq").on(t.userId, t.email)]);

  /**
   * Scheduled jobs (BACKUP_SCHEDULE): one row per (job, scheduled slot). The replica whose insert
   * claims the slot runs it, so each slot runs once however many replicas there are.
   */
  const scheduledRuns = k.table("scheduled_runs", {
    id: k.id(),
    job: k.text("job").notNull(),
    scheduledAt: k.ts("scheduled_at").notNull(),
    /** running | succeeded | failed | missed */
    status: k.text("status").notNull(),
    replica: k.text("replica").notNull(),
    backupId: k.int("backup_id"),
    errorMessage: k.text("error_message"),
    startedAt: k.ts("started_at").notNull(),
    finishedAt: k.ts("finished_at"),
  }, (t) => [
    k.uniqueIndex("scheduled_runs_slot_uq").on(t.job, t.scheduledAt),
  ]);

  return {
    serviceKeys,
    serviceKeyRevocations,
    credentialFloors,
    scheduledRuns,
    organizations,
    users,
    entitlementProfiles,
    permissions,
    roles,
    rolePermissions,
    userModules,
    userPermissions,
    smsTemplates,
    ...moduleTables,
    files,
    seederExecutions,
    seedingLocks,
    backups,
    auditLogs,
    securityVersions,
    accessReplicas,
    loginThrottles,
    tokenRevocations,
  };
}

/** The schema as application code sees it (typed as Postgres for both dialects). */
export type Schema = ReturnType<typeof defineSchema>;

/** Postgres tables. */
export const pgSchema: Schema = defineSchema(pgKit);
/** libSQL tables (runtime SQLite objects behind the shared type). */
export const sqliteSchema: Schema = defineSchema(sqliteKit);

/**
 * Tables holding the service's own bookkeeping: kept across reset and restore,
 * never part of a backup's data.
 */
export const BOOKKEEPING_TABLES = [
  "seeder_executions",
  "seeding_locks",
  "backups",
  "audit_logs",
  "security_versions",
  "access_replicas",
  "login_throttles",
  "scheduled_runs",
  "token_revocations",
  "service_key_revocations",
  "credential_floors",
] as const;
