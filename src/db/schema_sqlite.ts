/** libSQL (SQLite) tables, one named export each, for drizzle-kit. Generated SQL goes to migrations/sqlite. */
import { sqliteSchema } from "./schema.ts";

export const {
  organizations,
  users,
  entitlementProfiles,
  permissions,
  roles,
  rolePermissions,
  userModules,
  userPermissions,
  smsTemplates,
  crmLeads,
  manufacturingOrders,
  hrEmployees,
  marketingCampaigns,
  serviceTickets,
  assets,
  transportVehicles,
  transportTrips,
  files,
  seederExecutions,
  seedingLocks,
  backups,
  auditLogs,
  securityVersions,
  loginThrottles,
} = sqliteSchema;
