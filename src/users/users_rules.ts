/**
 * Who may create and manage whom (seed 000):
 * - platform super admin: anyone, in any organization (platform super admins have no organization);
 * - admin: managers, executives and custom-role users of his organization;
 * - manager: executives of his own modules who report to him;
 * - executive: nobody (cannot create users);
 * - custom role holding users.create/update: executives and custom-role users, never granting
 *   permissions it does not hold.
 * Pure functions over snapshots; the users service applies them.
 *
 * Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import type { RoleKind } from "../access/decide.ts";

/**
 * The kind a role name falls under (custom when not built-in). `super_admin`
 * (alias `superadmin`) is the platform role wherever it is asked for: giving it
 * to a user of an organization is refused by the rules, never turned into a
 * custom role carrying every permission.
 */
export function kindOfRoleName(role: string): RoleKind {
  const r = role.trim().toLowerCase();
  if (r === "super_admin" || r === "superadmin") return "super_admin";
  if (r === "admin") return "admin";
  if (r === "manager") return "manager";
  if (r === "executive") return "executive";
  return "custom";
}

/** The role kinds a caller of `callerKind` may create or manage; empty when none. */
export function manageableKinds(callerKind: RoleKind): ReadonlySet<RoleKind> {
  switch (callerKind) {
    case "super_admin":
      return new Set(["super_admin", "admin", "manager", "executive", "custom"]);
    case "admin":
      return new Set(["manager", "executive", "custom"]);
    case "manager":
      return new Set(["executive"]);
    case "custom":
      return new Set(["executive", "custom"]);
    default:
      return new Set();
  }
}

/** Why the caller may not create/manage a user of `targetKind`, or null when he may. */
export function refuseManage(callerKind: RoleKind, targetKind: RoleKind): string | null {
  if (manageableKinds(callerKind).has(targetKind)) return null;
  if (callerKind === "executive") return "executives cannot create or manage users";
  if (callerKind === "manager") return "managers may only create and manage executives of their own team";
  return `a ${callerKind.replace("_", " ")} cannot create or manage ${targetKind.replace("_", " ")} users`;
}
