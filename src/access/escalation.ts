/**
 * The no-escalation invariant, stated once:
 *
 *   No actor creates, changes or assigns a role, a user, a module assignment, a record scope or a
 *   permission set that gives any principal more effective access than the actor has himself.
 *
 * Effective access is what `decide()` answers over every (module, action, submodule) of the action
 * catalog and every record owner of the organization — judged as if the organization were active and
 * entitled to every module, and as if every principal it compares were active, so that a later licence
 * change or a reactivation cannot turn a grant the actor could not make into a live one (a deactivated
 * user has no effective access at all: judged as he is, any grant to him would look harmless). Records a
 * principal owns count as the actor's own (anyone may be given, on his own records, what
 * the actor may do on his). Platform super admins are exempt; an organization admin passes by decide()'s
 * own rule (he may do everything to every record of his organization, and nothing outside it).
 *
 * The users and roles services call `gainedBeyond` for every principal a change touches (in the change's
 * transaction, before it commits) and `roleBeyond` for the role itself; tests/security/escalation_test.ts
 * checks the same invariant from outside, through decide(), after random sequences of API calls.
 * Story: docs/access.md ("No escalation").
 */
import { forbidden } from "../errors.ts";
import { snapshotEntitlements } from "../tenants/entitlements.ts";
import { ACTION_CATALOG, type ActionCatalog } from "./actions.ts";
import { type AccessOrganization, type AccessPrincipal, decide, type RecordScope } from "./decide.ts";
import type { GrantSet } from "./permissions.ts";

/** Stands for every user of the organization not named otherwise (decide() only compares owner ids). */
export const ANY_OTHER_USER = Number.MAX_SAFE_INTEGER;
/** Stands for a user who may one day report to a role's holder. */
const FUTURE_REPORT = Number.MAX_SAFE_INTEGER - 1;

/** One thing a principal would gain that the actor lacks. */
export interface Gain {
  principalId: number;
  module: string;
  action: string;
  submodule?: string;
  /** The record owner: the principal himself, another user, any other user, or none (no specific record). */
  owner: "own" | "any" | "other" | number;
}

/** The organization as the invariant sees it: active, every module of the catalog entitled. */
function everythingEntitled(id: number, catalog: ActionCatalog): AccessOrganization {
  return {
    id,
    name: "",
    isActive: true,
    entitlements: snapshotEntitlements({
      tier: "*",
      tierModules: [...catalog.keys()],
      enabledModules: {},
      trialEnds: {},
    }),
  };
}

function allows(
  p: AccessPrincipal,
  org: AccessOrganization,
  module: string,
  action: string,
  submodule: string | undefined,
  ownerId: number | undefined,
): boolean {
  return decide(p, org, {
    module,
    action,
    submodule,
    organizationId: org.id,
    resource: ownerId === undefined ? undefined : { organizationId: org.id, ownerId },
    now: 0,
  }).allowed;
}

/**
 * The first piece of effective access `after` has, `before` lacked (null: a new principal) and the actor
 * lacks too — null when there is none, i.e. when the change respects the invariant for this principal.
 * `newUsers`: users created by the same change (they own no records yet, so reaching them grants nothing).
 */
export function gainedBeyond(
  actor: AccessPrincipal,
  before: AccessPrincipal | null,
  after: AccessPrincipal,
  options: { newUsers?: ReadonlySet<number>; catalog?: ActionCatalog } = {},
): Gain | null {
  if (actor.kind === "super_admin") return null;
  // A deactivated principal is judged by what he gets when reactivated (the actor is the caller: active).
  after = asActive(after);
  before = before && asActive(before);
  if (actor.organizationId === null) return coversNothing(after);
  const catalog = options.catalog ?? ACTION_CATALOG;
  const org = everythingEntitled(actor.organizationId, catalog);
  // decide() tells owners apart only by these sets; every other id answers like ANY_OTHER_USER.
  const owners = new Set<number | undefined>([undefined, after.id, actor.id, ANY_OTHER_USER]);
  for (const p of [after, before, actor]) for (const id of p?.teamIds ?? []) owners.add(id);
  for (const id of options.newUsers ?? []) if (id !== after.id) owners.delete(id);
  for (const [module, entry] of catalog) {
    for (const action of entry.actions) {
      for (const submodule of [undefined, ...entry.submodules]) {
        for (const owner of owners) {
          if (!allows(after, org, module, action, submodule, owner)) continue;
          if (before && allows(before, org, module, action, submodule, owner)) continue;
          if (allows(actor, org, module, action, submodule, owner)) continue;
          // His own records: covered when the actor may do the same to his own.
          if (owner === after.id && allows(actor, org, module, action, submodule, actor.id)) continue;
          return {
            principalId: after.id,
            module,
            action,
            submodule,
            owner: owner === undefined
              ? "any"
              : owner === after.id
              ? "own"
              : owner === ANY_OTHER_USER
              ? "other"
              : owner,
          };
        }
      }
    }
  }
  return null;
}

/** The principal as he would be if (re)activated. */
function asActive(p: AccessPrincipal): AccessPrincipal {
  return p.isActive ? p : { ...p, isActive: true };
}

/** An actor without an organization who is no super admin covers nothing. */
function coversNothing(after: AccessPrincipal): Gain | null {
  return { principalId: after.id, module: "*", action: "*", owner: "any" };
}

/**
 * What a role would give its holders beyond the actor: the role held by the actor himself (his id, his
 * team plus one more report), compared with the actor. So a role may carry only grants the actor has, and
 * a record scope no wider than his own (own < team < all).
 */
export function roleBeyond(
  actor: AccessPrincipal,
  role: { grants: GrantSet; recordScope: RecordScope },
  catalog: ActionCatalog = ACTION_CATALOG,
): Gain | null {
  if (actor.kind === "super_admin") return null;
  const team = new Set([...actor.teamIds, FUTURE_REPORT]);
  const self: AccessPrincipal = { ...actor, teamIds: team };
  const holder: AccessPrincipal = {
    ...self,
    kind: "custom",
    grants: role.grants,
    modules: new Set(),
    recordScope: role.recordScope,
    isActive: true,
  };
  const g = gainedBeyond(self, null, holder, { catalog });
  return g && g.owner === FUTURE_REPORT ? { ...g, owner: "other" } : g;
}

/** Words for a gain: "crm.delete (leads) on records of any other user". */
export function describeGain(g: Gain): string {
  const what = `${g.module}.${g.action}${g.submodule ? ` (${g.submodule})` : ""}`;
  const on = g.owner === "any"
    ? ""
    : g.owner === "own"
    ? " on his own records"
    : g.owner === "other"
    ? " on records of users outside your record scope"
    : ` on records of user ${g.owner}`;
  return `${what}${on}`;
}

/** Throws the 403 for a gain (reason `escalation`). */
export function refuseGain(g: Gain, subject: string): never {
  throw forbidden(
    `${subject} would get ${
      describeGain(g)
    }, which you do not have yourself: nobody gives more access than he has`,
    { layer: "rbac", reason: "escalation" },
  );
}

/**
 * True when the actor has everything any principal of his organization could have (an organization
 * admin, by decide()'s rules): no change he makes can give anyone more than he has, so the services
 * skip loading snapshots for him.
 */
export function coversOrganization(actor: AccessPrincipal, catalog: ActionCatalog = ACTION_CATALOG): boolean {
  if (actor.kind === "super_admin") return true;
  if (actor.organizationId === null) return false;
  const top: AccessPrincipal = {
    ...actor,
    id: FUTURE_REPORT,
    kind: "admin",
    isActive: true,
    recordScope: "all",
    teamIds: new Set(),
  };
  return gainedBeyond(actor, null, top, { catalog }) === null;
}

/**
 * Checks every principal a change touches, as the change's transaction sees them before and after it:
 * throws the 403 for the first gain beyond the actor (the caller's transaction then rolls back).
 */
export function assertNoGains(
  actor: AccessPrincipal,
  before: ReadonlyMap<number, AccessPrincipal>,
  after: ReadonlyMap<number, AccessPrincipal>,
  newUsers: ReadonlySet<number> = new Set(),
): void {
  for (const [id, p] of after) {
    const g = gainedBeyond(actor, before.get(id) ?? null, p, { newUsers });
    if (g) refuseGain(g, id === actor.id ? "you" : `user ${id}`);
  }
}
