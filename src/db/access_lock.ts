/**
 * One organization's access changes, one at a time.
 *
 * The no-escalation check (src/access/escalation.ts) compares, inside a change's transaction, what every
 * touched principal may do before and after it. Under Postgres's read committed, two changes committed at
 * the same moment could each pass against the other's old state — one admin widens a role's record scope,
 * another grants its holder `crm.delete`, and the holder ends with `crm.delete` on every record, which
 * neither of them has. So every transaction that changes who may do what in an organization (roles, their
 * permissions, users' roles, permissions, modules, managers) takes this lock first: a transaction-level
 * advisory lock keyed by the database namespace and the organization, released at commit or rollback. The
 * next change then waits, and its checks (statements run after the lock) see the first one committed.
 *
 * libSQL needs nothing: its transactions begin `IMMEDIATE` (the client's "write" mode), so writers are
 * serialized by the database itself, across processes too. Story: docs/access.md ("No escalation").
 */
import { sql } from "drizzle-orm";
import type { Database, Executor } from "./client.ts";

/** The advisory-lock key text of an organization's access changes (two-int4 form: hashtext of this, org id). */
export function accessLockClass(db: Database): string {
  return `seedbed:${db.namespace}:access-changes`;
}

/** Takes the organization's access-change lock inside `tx` (held until it ends). A no-op on libSQL. */
export async function lockAccessChanges(
  db: Database,
  tx: Executor,
  organizationId: number | null,
): Promise<void> {
  if (db.dialect !== "postgres" || organizationId === null) return;
  await db.run(sql`SELECT pg_advisory_xact_lock(hashtext(${accessLockClass(db)}), ${organizationId})`, tx);
}
