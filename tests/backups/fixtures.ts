/**
 * Backup test fixtures: application data inserted with Drizzle directly (no
 * seeders), covering every value kind — dates, booleans, JSON, big integers,
 * NULLs, unicode — and a self-reference (users.reports_to_id); plus a
 * BackupService over a fresh test bucket.
 */
import { asc, eq, getTableColumns } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "../../src/db/client.ts";
import { BackupService, type BackupServiceOptions } from "../../src/backups/backup_service.ts";
import { backupTables, dialectTable } from "../../src/backups/tables.ts";
import { memoryLogger } from "../../src/log.ts";
import type { BackupRef, BackupSkipped } from "../../src/seeding/backup_port.ts";
import { startTestS3, type TestS3 } from "../helpers/s3.ts";

export const BIG = 9007199254740991; // 2^53 - 1
export const UNICODE = 'Zoë Ünïcødé — “quotes” "dq" back\\slash tab\there\nnew line 😀 日本語 \u2028';

/** Inserts a small but complete data set; returns a few ids. */
export async function insertSampleData(db: Database, tag = "a") {
  const t = db.t;
  const [org1, org2] = await db.db.insert(t.organizations).values([
    {
      name: `Acme ${tag}`,
      slug: `acme-${tag}`,
      licenseTier: "pro",
      enabledModules: { crm: true, hr: false, nested: { deep: [1, "two", null] } } as unknown as Record<
        string,
        boolean
      >,
      trialEnds: { hr: "2030-01-01T00:00:00.000Z" },
      isActive: true,
      createdAt: new Date("2024-02-29T23:59:59.123Z"),
    },
    { name: `Beta ${tag} ${UNICODE}`, slug: `beta-${tag}`, isActive: false },
  ]).returning();
  const [role] = await db.db.insert(t.roles).values({
    name: `manager-${tag}`,
    organizationId: org1.id,
    scopeKey: org1.id,
    aliases: ["mgr", "chef ✓"],
  }).returning();
  const [perm] = await db.db.insert(t.permissions).values({
    name: `crm:read:${tag}`,
    module: "crm",
    action: "read",
    description: null,
  }).returning();
  await db.db.insert(t.rolePermissions).values({ roleId: role.id, permissionId: perm.id });
  // The boss is inserted after the report, so the self-reference points forward.
  const [report] = await db.db.insert(t.users).values({
    email: `report-${tag}@example.com`,
    username: null,
    fullName: UNICODE,
    passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$dummy$hash",
    role: "executive",
    roleId: role.id,
    organizationId: org1.id,
    isVerified: true,
    lastLoginAt: null,
  }).returning();
  const [boss] = await db.db.insert(t.users).values({
    email: `boss-${tag}@example.com`,
    username: `boss-${tag}`,
    passwordHash: "$argon2id$dummy",
    role: "admin",
    organizationId: org1.id,
    isCompanyAdmin: true,
    lastLoginAt: new Date("2025-01-15T12:00:00.500Z"),
  }).returning();
  await db.db.update(t.users).set({ reportsToId: boss.id }).where(eq(t.users.id, report.id));
  await db.db.insert(t.crmLeads).values([
    { organizationId: org1.id, ownerId: boss.id, name: `Lead ${tag} 1`, valueCents: BIG, email: null },
    {
      organizationId: org1.id,
      ownerId: report.id,
      name: `Lead ${tag} ${UNICODE}`,
      valueCents: -42,
      source: "web",
    },
  ]);
  await db.db.insert(t.hrEmployees).values({
    organizationId: org2.id,
    ownerId: boss.id,
    employeeNumber: `E-${tag}`,
    fullName: "Ada",
    department: "R&D",
    position: "Engineer",
    hiredAt: new Date("1999-12-31T23:00:00.000Z"),
    salaryCents: null,
  });
  const [vehicle] = await db.db.insert(t.transportVehicles).values({
    organizationId: org1.id,
    ownerId: boss.id,
    plateNumber: `P-${tag}`,
    model: "Van",
    capacityKg: 1200,
  }).returning();
  await db.db.insert(t.transportTrips).values({
    organizationId: org1.id,
    ownerId: boss.id,
    tripNumber: `T-${tag}`,
    vehicleId: vehicle.id,
    origin: "Zürich",
    destination: "Genève",
    distanceKm: 280,
  });
  await db.db.insert(t.files).values({
    organizationId: org1.id,
    ownerId: boss.id,
    name: "report.pdf",
    s3Key: `files/org-${org1.id}/${tag}/report.pdf`,
    sizeBytes: 123456789012,
    contentType: "application/pdf",
    sha256: "ab".repeat(32),
    metadata: { author: "Zoë", empty: "" },
  });
  return { org1, org2, boss, report, role, perm, vehicle };
}

/** Every application table's rows, ordered by id, as Drizzle returns them. */
export async function snapshot(db: Database): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of backupTables()) {
    const table = dialectTable(db, t) as unknown as PgTable;
    const pk = getTableColumns(table)[t.primaryKey.prop];
    out[t.name] = await db.db.select().from(table).orderBy(asc(pk));
  }
  return out;
}

export interface BackupFixture {
  s3: TestS3;
  service: BackupService;
  logger: ReturnType<typeof memoryLogger>;
  close(): Promise<void>;
}

/** A BackupService over `db` and a fresh bucket. */
export async function backupFixture(
  db: Database,
  options: Partial<BackupServiceOptions> = {},
): Promise<BackupFixture> {
  const s3 = await startTestS3();
  const logger = memoryLogger();
  const service = new BackupService({ db, store: s3.store, logger, retention: {}, ...options });
  return { s3, service, logger, close: () => s3.close() };
}

/** The backup a BackupPort call took (fails the test when it was skipped). */
export async function taken(p: Promise<BackupRef | BackupSkipped>): Promise<BackupRef> {
  const r = await p;
  if ("skipped" in r) throw new Error(`expected a backup, it was skipped: ${r.skipped}`);
  return r;
}
