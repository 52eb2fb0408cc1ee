/**
 * Security state a restore must not roll back (docs/backups.md, "What a
 * restore never rolls back").
 *
 * A restore puts the application data back as it was when the backup was
 * taken. Credentials are data too (users' password hashes, service keys),
 * but their revocation is a security decision taken later, and a restore
 * must never undo it: a service key revoked after the backup must stay
 * revoked after restoring that backup. Revocations are therefore recorded in
 * a bookkeeping table (`service_key_revocations`, keyed by the SHA-256 of the
 * secret, never backed up and never wiped), and every restore, in its own
 * transaction, after loading the rows:
 *
 * 1. revokes every restored key the ledger names (with the ledger's time);
 * 2. adds to the ledger every restored key the backup holds as revoked (a
 *    database recovered from the bucket alone starts with an empty ledger;
 *    a later restore of an even older backup must not revive those either).
 *
 * Passwords follow the same rule: a password retired after the backup (changed
 * because it leaked) must not log in again. Every password set writes the
 * user's latest password to a second bookkeeping table (`credential_floors`,
 * one row per user id, in the same transaction), and every restore, after
 * loading the rows:
 *
 * 3. gives every restored user whose id AND e-mail match a floor row and whose
 *    restored `password_changed_at` is older than the floor's the floor's
 *    password hash, `password_changed_at` and `must_change_password` (a user
 *    deleted after the backup comes back with his latest password). One row
 *    per user id AND e-mail: a reset numbers users from 1 again, and a floor
 *    must never pass from one person to another;
 * 4. adds a floor row for every restored user that has none (a database
 *    recovered from the bucket alone starts with an empty floor; a later
 *    restore of an even older backup must not roll those passwords back).
 *
 * The other security state lives in bookkeeping tables a restore never
 * touches: the token epoch and security versions (`security_versions`),
 * logouts and "revoke all" (`token_revocations`), login throttles
 * (`login_throttles`).
 *
 * Must never: let a restore, or a chain of restores and resets, turn a
 * revoked key or a retired password back into a working one.
 * Story: docs/backups.md ("What a restore never rolls back").
 */
import { and, asc, count, gt, inArray, sql } from "drizzle-orm";
import type { Database, Executor } from "../db/client.ts";

/** Records the revocation of a service key in the ledger (idempotent), in `ex`'s transaction. */
export async function recordServiceKeyRevocation(
  db: Database,
  ex: Executor,
  key: { keyHash: string; prefix: string; revokedAt: Date },
): Promise<void> {
  await ex.insert(db.t.serviceKeyRevocations).values(key).onConflictDoNothing();
}

/**
 * Re-applies the ledger to the service keys a restore just loaded, and adds
 * the restored revoked keys to it. Returns the prefixes of the keys it
 * revoked (for the restore's log line).
 */
export async function reapplyServiceKeyRevocations(db: Database, ex: Executor): Promise<string[]> {
  const revived = await db.rows<{ prefix: string }>(
    sql`UPDATE service_keys
           SET revoked_at = (SELECT r.revoked_at FROM service_key_revocations r WHERE r.key_hash = service_keys.key_hash)
         WHERE revoked_at IS NULL AND key_hash IN (SELECT key_hash FROM service_key_revocations)
     RETURNING prefix`,
    ex,
  );
  await db.run(
    sql`INSERT INTO service_key_revocations (key_hash, prefix, revoked_at)
        SELECT key_hash, prefix, revoked_at FROM service_keys WHERE revoked_at IS NOT NULL
        ON CONFLICT (key_hash) DO NOTHING`,
    ex,
  );
  return revived.map((r) => r.prefix);
}

/**
 * Records the user's password as it now is in `users` (in `ex`'s transaction, after the write): call it in the
 * transaction of every password change (`"changed"`: own change, admin reset, rehash, and every change of
 * `must_change_password`) and of every account creation (`"created"`). One row per user id AND e-mail (a reset
 * numbers users from 1 again: a row never passes from one person to another). A change replaces the row with a
 * password as recent or more recent, never an older one. A creation retires no password: it only fills a
 * missing row, so that creating an account after a reset (the seeded super admin, say) never overrides the
 * password that account had before the reset when that backup is restored.
 */
export async function recordCredentialFloor(
  db: Database,
  ex: Executor,
  userId: number,
  why: "created" | "changed",
): Promise<void> {
  const onConflict = why === "created"
    ? sql`DO NOTHING`
    : sql`DO UPDATE SET password_hash = excluded.password_hash,
           password_changed_at = excluded.password_changed_at, must_change_password = excluded.must_change_password
         WHERE credential_floors.password_changed_at <= excluded.password_changed_at`;
  await db.run(
    sql`INSERT INTO credential_floors (user_id, email, password_hash, password_changed_at, must_change_password)
        SELECT id, email, password_hash, password_changed_at, must_change_password FROM users WHERE id = ${userId}
        ON CONFLICT (user_id, email) ${onConflict}`,
    ex,
  );
}

/**
 * Re-applies the floor to the users a restore just loaded (same id, same e-mail, older password), then records
 * a floor for every restored user that has none. Returns the ids of the users whose password it kept.
 */
export async function reapplyCredentialFloors(db: Database, ex: Executor): Promise<number[]> {
  const floor = (column: string) =>
    sql.raw(
      `(SELECT f.${column} FROM credential_floors f WHERE f.user_id = users.id AND f.email = users.email)`,
    );
  const kept = await db.rows<{ id: number }>(
    sql`UPDATE users
           SET password_hash = ${floor("password_hash")},
               password_changed_at = ${floor("password_changed_at")},
               must_change_password = ${floor("must_change_password")}
         WHERE EXISTS (SELECT 1 FROM credential_floors f
                        WHERE f.user_id = users.id AND f.email = users.email
                          AND f.password_changed_at > users.password_changed_at)
     RETURNING id`,
    ex,
  );
  await db.run(
    sql`INSERT INTO credential_floors (user_id, email, password_hash, password_changed_at, must_change_password)
        SELECT id, email, password_hash, password_changed_at, must_change_password FROM users WHERE 1 = 1
        ON CONFLICT (user_id, email) DO NOTHING`,
    ex,
  );
  return kept.map((r) => Number(r.id));
}

/**
 * Audit events whose change a restore rolls back with the data (accounts, roles, organizations): what an
 * operator may have to re-apply after restoring an older backup. What a restore keeps (passwords, service key
 * revocations, logouts, "revoke all") is not listed. `user.updated` stays: it also covers e-mail, role and
 * active-flag changes.
 */
export const ROLLED_BACK_EVENTS = [
  "user.updated",
  "user.deactivated",
  "user.deleted",
  "role.updated",
  "role.deleted",
  "role.permissions_removed",
  "organization.deactivated",
  "organization.updated",
  "entitlements.changed",
] as const;
const LISTED = 50;

export interface SecurityChanges {
  /** How many such events the audit log holds since the backup. */
  total: number;
  /** The oldest `LISTED` of them. */
  events: { event: string; target: string | null; at: string }[];
}

/** The account and access changes recorded after `since` (the backup's time) that a restore rolls back. */
export async function securityChangesSince(
  db: Database,
  since: Date,
  ex?: Executor,
): Promise<SecurityChanges> {
  const t = db.t.auditLogs;
  const where = and(gt(t.createdAt, since), inArray(t.event, [...ROLLED_BACK_EVENTS]));
  const [{ n }] = await (ex ?? db.db).select({ n: count() }).from(t).where(where);
  const rows = await (ex ?? db.db).select({ event: t.event, target: t.target, at: t.createdAt }).from(t)
    .where(where).orderBy(asc(t.id)).limit(LISTED);
  return {
    total: Number(n),
    events: rows.map((r) => ({ event: r.event, target: r.target, at: r.at.toISOString() })),
  };
}

/** One sentence for warnings and the CLI, or null when nothing was recorded. */
export function describeSecurityChanges(c: SecurityChanges): string | null {
  if (c.total === 0) return null;
  const byEvent = new Map<string, number>();
  for (const e of c.events) byEvent.set(e.event, (byEvent.get(e.event) ?? 0) + 1);
  const kinds = [...byEvent].map(([e, n]) => `${e} ×${n}`).join(", ");
  return `${c.total} account or access change(s) recorded since the backup are rolled back by restoring it ` +
    `(${kinds}${
      c.total > c.events.length ? ", …" : ""
    }): re-apply those that must stay — a deactivation, a deletion, a role taken away (the audit log lists ` +
    "them; passwords set since the backup and service key revocations are kept; tokens are refused after any " +
    "restore)";
}
