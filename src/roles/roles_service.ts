/**
 * Roles: custom roles carry permission sets; system roles (super_admin,
 * admin, manager, executive, seed 002's superadmin/admin) cannot be modified
 * or deleted. An organization's admin manages his organization's custom
 * roles; global roles belong to platform super admins. Nobody but an admin
 * grants a permission he does not hold himself.
 * Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import type { Database } from "../db/client.ts";
import { AppError, conflict, forbidden, notFound } from "../errors.ts";
import type { AuditService } from "../audit/audit.ts";
import type { AccessService } from "../access/access_service.ts";
import type { AuthContext } from "../http/types.ts";
import { type Grant, GrantSet, parsePermission, requirePermission } from "../access/permissions.ts";
import { catalogPermissionProblem } from "../access/actions.ts";
import { isPlatformAction, isPlatformModule, type RecordScope } from "../access/decide.ts";
import type { Executor } from "../db/client.ts";
import { assertNoGains, coversOrganization, describeGain, roleBeyond } from "../access/escalation.ts";
import type { UserSnapshot } from "../access/loader.ts";
import { lockAccessChanges } from "../db/access_lock.ts";
import { type RoleRow, RolesRepository } from "./roles_repository.ts";

/** Names of the built-in roles; custom roles cannot take them. */
export const RESERVED_ROLE_NAMES = new Set(["super_admin", "superadmin", "admin", "manager", "executive"]);

export interface RoleInput {
  name: string;
  description?: string | null;
  record_scope?: "own" | "team" | "all";
  permissions?: string[];
}

export function roleJson(r: RoleRow, permissions: string[]) {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    organization_id: r.organizationId,
    is_system: r.isSystem,
    aliases: r.aliases ?? [],
    record_scope: r.recordScope,
    permissions,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/**
 * Parses permission names: 422 for malformed ones and for any that names no module, action or submodule of
 * the action catalog (`crm_acquireglobex_read`), so tenants never add invented names to the global list.
 */
export function parseGrants(names: string[], field = "permissions"): Grant[] {
  return names.map((n, i) => {
    const g = requirePermission(n, `${field}[${i}]`);
    const problem = catalogPermissionProblem(g) ?? platformProblem(g);
    if (problem) {
      throw new AppError(
        "VALIDATION_ERROR",
        `${field}[${i}]: "${n}" is no permission of the catalog: ${problem}`,
        {
          extra: { errors: [{ field: `${field}[${i}]`, message: problem }] },
        },
      );
    }
    return g;
  });
}

/**
 * A platform operation (seeding, backups, creating organizations) is platform super admins' alone: decide()
 * refuses it to a tenant user whatever he holds, so a tenant grant of one is refused, not stored as a no-op.
 */
function platformProblem(g: Grant): string | null {
  const platform = g.kind === "module" ? isPlatformModule(g.module) : isPlatformAction(g.module, g.action);
  return platform
    ? "a platform operation: only platform super admins perform it, so no tenant role holds it"
    : null;
}

/** The role as its holders would get it: its grants and record scope. */
function roleAccess(
  names: Iterable<string>,
  recordScope: string,
): { grants: GrantSet; recordScope: RecordScope } {
  const scope: RecordScope = recordScope === "all" || recordScope === "team" ? recordScope : "own";
  return { grants: GrantSet.fromNames(names), recordScope: scope };
}

export class RolesService {
  readonly repo: RolesRepository;
  constructor(private readonly deps: { db: Database; audit: AuditService; access: AccessService }) {
    this.repo = new RolesRepository(deps.db);
  }

  /** Which roles the caller sees: global + his organization's (super admin without an organization: all). */
  #scope(auth: AuthContext): number | null | "all" {
    if (auth.user.isSuperAdmin && auth.organizationId === null) return "all";
    return auth.organizationId;
  }

  async #caller(auth: AuthContext): Promise<UserSnapshot> {
    const u = await this.deps.access.user(auth.user.id);
    if (!u) throw new AppError("UNAUTHORIZED", "Could not validate credentials");
    return u;
  }

  async list(auth: AuthContext, page: { skip: number; limit: number }) {
    const { items, total } = await this.repo.list(this.#scope(auth), page);
    const perms = await this.repo.permissionNames(items.map((r) => r.id));
    return {
      items: items.map((r) => roleJson(r, perms.get(r.id) ?? [])),
      total,
      skip: page.skip,
      limit: page.limit,
    };
  }

  async #visible(auth: AuthContext, id: number): Promise<RoleRow> {
    const r = await this.repo.get(id, this.#scope(auth));
    if (!r) throw notFound(`role ${id}`);
    return r;
  }

  async get(auth: AuthContext, id: number) {
    const r = await this.#visible(auth, id);
    return roleJson(r, (await this.repo.permissionNames([r.id])).get(r.id) ?? []);
  }

  /**
   * A role the caller may change: not a system role; global roles only for super admins; and (the
   * no-escalation rule) none holding grants or a record scope the caller lacks.
   */
  async #writable(auth: AuthContext, caller: UserSnapshot, id: number, verb: string): Promise<RoleRow> {
    const r = await this.#visible(auth, id);
    if (r.isSystem) {
      throw forbidden(`role ${r.name} is a system role and cannot be ${verb}`, { layer: "rbac" });
    }
    if (r.organizationId === null && !auth.user.isSuperAdmin) {
      throw forbidden(`role ${r.name} is a global role: only platform super admins may change it`, {
        layer: "rbac",
      });
    }
    const held = (await this.repo.permissionNames([r.id])).get(r.id) ?? [];
    const beyond = roleBeyond(caller.access, roleAccess(held, r.recordScope));
    if (beyond) {
      throw forbidden(
        `role ${r.name} gives ${
          describeGain(beyond)
        }, which you do not have yourself: it cannot be ${verb} by you`,
        { layer: "rbac", reason: "escalation" },
      );
    }
    return r;
  }

  /** Refuses a role (as it would be after a change) that gives more than the caller has. */
  #assertRoleCovered(caller: UserSnapshot, name: string, permissions: string[], recordScope: string): void {
    const beyond = roleBeyond(caller.access, roleAccess(permissions, recordScope));
    if (beyond) {
      throw forbidden(
        `role ${name} would give ${
          describeGain(beyond)
        }, which you do not have yourself: nobody gives more access than he has`,
        { layer: "rbac", reason: "escalation" },
      );
    }
  }

  /**
   * Runs a change to a role in `tx` and refuses it (the transaction rolls back) when it gives any holder
   * more than the caller has — holders' own user permissions and teams included. Takes the organization's
   * access-change lock first (`src/db/access_lock.ts`), then checks the role again as this transaction sees
   * it, before and after the change: the checks made before the transaction may have been overtaken by
   * another change committed since (two roles:update holders each adding half of what neither has).
   */
  async #changeHolders(
    caller: UserSnapshot,
    r: RoleRow,
    tx: Executor,
    change: () => Promise<void>,
  ): Promise<void> {
    await lockAccessChanges(this.deps.db, tx, r.organizationId);
    if (coversOrganization(caller.access)) return await change();
    await this.#assertRoleIn(caller, r, tx, "modified");
    const ids = await this.repo.holderIds(r, tx);
    const before = await this.deps.access.principalsIn(tx, ids);
    await change();
    await this.#assertRoleIn(caller, r, tx, null);
    assertNoGains(caller.access, before, await this.deps.access.principalsIn(tx, ids));
  }

  /**
   * The role as `tx` sees it gives nothing beyond the caller (`verb`: it is the role before a change, which
   * the caller may then not touch; null: the role after it).
   */
  async #assertRoleIn(caller: UserSnapshot, r: RoleRow, tx: Executor, verb: string | null): Promise<void> {
    const now = await this.repo.get(r.id, "all", tx);
    if (!now) throw notFound(`role ${r.id}`);
    const held = (await this.repo.permissionNames([r.id], tx)).get(r.id) ?? [];
    const beyond = roleBeyond(caller.access, roleAccess(held, now.recordScope));
    if (!beyond) return;
    throw forbidden(
      verb
        ? `role ${now.name} gives ${
          describeGain(beyond)
        }, which you do not have yourself: it cannot be ${verb} by you`
        : `role ${now.name} would give ${
          describeGain(beyond)
        }, which you do not have yourself: nobody gives more access than he has`,
      { layer: "rbac", reason: "escalation" },
    );
  }

  async create(auth: AuthContext, input: RoleInput, requestId?: string) {
    const caller = await this.#caller(auth);
    const name = input.name.trim();
    if (RESERVED_ROLE_NAMES.has(name.toLowerCase())) {
      throw conflict(`role name "${name}" is reserved for a built-in role`);
    }
    const grants = parseGrants(input.permissions ?? []);
    this.#assertRoleCovered(caller, name, grants.map((g) => g.name), input.record_scope ?? "own");
    const org = auth.organizationId;
    if (await this.repo.byName(name, org)) {
      throw conflict(
        `a role named "${name}" already exists${org === null ? "" : ` for organization ${org}`}`,
      );
    }
    const role = await this.deps.db.transaction(async (tx) => {
      const r = await this.repo.insert({
        name,
        description: input.description ?? null,
        organizationId: org,
        scopeKey: org ?? 0,
        isSystem: false,
        recordScope: input.record_scope ?? "own",
      }, tx);
      await this.repo.addPermissions(r.id, await this.repo.ensurePermissions(grants, tx), tx);
      await this.deps.audit.record({
        event: "role.created",
        actorUserId: auth.user.id,
        organizationId: org,
        target: `role:${r.id}`,
        requestId,
        details: { name, permissions: grants.map((g) => g.name), record_scope: r.recordScope },
      }, tx);
      return r;
    });
    await this.deps.access.changed();
    return await this.get(auth, role.id);
  }

  async update(auth: AuthContext, id: number, input: Partial<RoleInput>, requestId?: string) {
    const caller = await this.#caller(auth);
    const r = await this.#writable(auth, caller, id, "modified");
    const name = input.name?.trim();
    if (name !== undefined && name.toLowerCase() !== r.name.toLowerCase()) {
      if (RESERVED_ROLE_NAMES.has(name.toLowerCase())) throw conflict(`role name "${name}" is reserved`);
      if (await this.repo.byName(name, r.organizationId)) {
        throw conflict(`a role named "${name}" already exists`);
      }
      if (await this.repo.holders(r) > 0) {
        throw conflict(`role ${r.name} is held by users; create a new role instead of renaming it`);
      }
    }
    const grants = input.permissions ? parseGrants(input.permissions) : null;
    const afterNames = grants?.map((g) => g.name) ?? (await this.repo.permissionNames([r.id])).get(r.id) ??
      [];
    this.#assertRoleCovered(caller, name ?? r.name, afterNames, input.record_scope ?? r.recordScope);
    await this.deps.db.transaction(async (tx) => {
      await this.#changeHolders(caller, r, tx, async () => {
        const patch: Record<string, unknown> = {};
        if (name !== undefined) patch.name = name;
        if (input.description !== undefined) patch.description = input.description;
        if (input.record_scope !== undefined) patch.recordScope = input.record_scope;
        if (Object.keys(patch).length) await this.repo.update(r.id, patch, tx);
        if (grants) {
          await this.repo.clearPermissions(r.id, tx);
          await this.repo.addPermissions(r.id, await this.repo.ensurePermissions(grants, tx), tx);
        }
      });
      await this.deps.audit.record({
        event: "role.updated",
        actorUserId: auth.user.id,
        organizationId: r.organizationId,
        target: `role:${r.id}`,
        requestId,
        details: { changes: { ...input } },
      }, tx);
    });
    await this.deps.access.changed();
    return await this.get(auth, r.id);
  }

  async delete(auth: AuthContext, id: number, requestId?: string) {
    const r = await this.#writable(auth, await this.#caller(auth), id, "deleted");
    const holders = await this.repo.holders(r);
    if (holders > 0) throw conflict(`role ${r.name} is held by ${holders} user(s); reassign them first`);
    await this.deps.db.transaction(async (tx) => {
      await this.repo.delete(r.id, tx);
      await this.deps.audit.record({
        event: "role.deleted",
        actorUserId: auth.user.id,
        organizationId: r.organizationId,
        target: `role:${r.id}`,
        requestId,
        details: { name: r.name },
      }, tx);
    });
    await this.deps.access.changed();
  }

  /** Adds or removes permissions (roles:update). */
  async changePermissions(auth: AuthContext, id: number, names: string[], add: boolean, requestId?: string) {
    const caller = await this.#caller(auth);
    const r = await this.#writable(auth, caller, id, "modified");
    const grants = parseGrants(names);
    if (add) {
      const held = (await this.repo.permissionNames([r.id])).get(r.id) ?? [];
      this.#assertRoleCovered(caller, r.name, [...held, ...grants.map((g) => g.name)], r.recordScope);
    }
    await this.deps.db.transaction(async (tx) => {
      await this.#changeHolders(caller, r, tx, async () => {
        const ids = await this.repo.ensurePermissions(grants, tx, !add);
        if (add) await this.repo.addPermissions(r.id, ids, tx);
        else await this.repo.removePermissions(r.id, ids, tx);
      });
      await this.deps.audit.record({
        event: add ? "role.permissions_added" : "role.permissions_removed",
        actorUserId: auth.user.id,
        organizationId: r.organizationId,
        target: `role:${r.id}`,
        requestId,
        details: { permissions: grants.map((g) => g.name) },
      }, tx);
    });
    await this.deps.access.changed();
    return await this.get(auth, r.id);
  }

  /**
   * The permission list: rows naming catalog permissions only (rows a tenant invented before names were
   * checked are not shown to anyone; they grant nothing, decide() knowing no such action).
   */
  async catalog(page: { skip: number; limit: number }) {
    const rows = (await this.repo.catalog({ skip: 0, limit: Number.MAX_SAFE_INTEGER })).items.filter((p) => {
      const g = parsePermission(p.name);
      return g !== null && catalogPermissionProblem(g) === null;
    });
    const total = rows.length;
    const items = rows.slice(page.skip, page.skip + page.limit);
    return {
      items: items.map((p) => ({
        id: p.id,
        name: p.name,
        module: p.module,
        action: p.action,
        description: p.description,
      })),
      total,
      skip: page.skip,
      limit: page.limit,
    };
  }
}
