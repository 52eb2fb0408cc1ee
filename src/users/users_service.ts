/**
 * Users: create, list, get, update, (de)activate, delete — scoped to the
 * caller's organization and record scope, and enforcing who may create whom
 * (`users_rules.ts`). Every change is audited. Story: docs/access.md.
 */
import type { Database, Executor } from "../db/client.ts";
import { AppError, conflict, forbidden, notFound, validation } from "../errors.ts";
import type { AuditService } from "../audit/audit.ts";
import type { AccessService } from "../access/access_service.ts";
import type { UserSnapshot } from "../access/loader.ts";
import type { AccessPrincipal } from "../access/decide.ts";
import type { AuthContext } from "../http/types.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import { CONFLICT_RULE, LoginThrottle, REAUTH_RULE } from "../auth/login_throttle.ts";
import { revokeAllTokens } from "../auth/revocation.ts";
import { recordCredentialFloor } from "../backups/credentials.ts";
import { passwordProblems } from "../auth/password_policy.ts";
import { ALL_MODULES, normalizeModule } from "../tenants/modules.ts";
import { parseGrants } from "../roles/roles_service.ts";
import { assertNoGains, coversOrganization, describeGain, gainedBeyond } from "../access/escalation.ts";
import { RolesRepository } from "../roles/roles_repository.ts";
import { lockAccessChanges } from "../db/access_lock.ts";
import { type UserRow, type UserScope, UsersRepository } from "./users_repository.ts";
import { kindOfRoleName, refuseManage } from "./users_rules.ts";

export interface UserCreate {
  email: string;
  password: string;
  role: string;
  full_name?: string | null;
  username?: string | null;
  organization_id?: number | null;
  reports_to_id?: number | null;
  modules?: string[];
  permissions?: string[];
  must_change_password?: boolean;
}

export interface UserUpdate {
  email?: string;
  password?: string;
  role?: string;
  full_name?: string | null;
  username?: string | null;
  reports_to_id?: number | null;
  modules?: string[];
  permissions?: string[];
  is_active?: boolean;
  must_change_password?: boolean;
  /** Required when a user changes his own e-mail address. */
  current_password?: string;
}

export class UsersService {
  readonly repo: UsersRepository;
  readonly roles: RolesRepository;
  readonly #throttle: LoginThrottle;
  constructor(private readonly deps: { db: Database; audit: AuditService; access: AccessService }) {
    this.#throttle = new LoginThrottle(deps.db);
    this.repo = new UsersRepository(deps.db);
    this.roles = new RolesRepository(deps.db);
  }

  async json(u: UserRow) {
    return {
      id: u.id,
      email: u.email,
      username: u.username,
      full_name: u.fullName,
      role: u.role,
      role_id: u.roleId,
      organization_id: u.organizationId,
      reports_to_id: u.reportsToId,
      is_super_admin: u.isSuperAdmin,
      is_company_admin: u.isCompanyAdmin,
      is_active: u.isActive,
      is_verified: u.isVerified,
      must_change_password: u.mustChangePassword,
      modules: await this.repo.modules(u.id),
      permissions: await this.repo.permissions(u.id),
      last_login_at: u.lastLoginAt?.toISOString() ?? null,
      created_at: u.createdAt.toISOString(),
      updated_at: u.updatedAt.toISOString(),
    };
  }

  #scope(auth: AuthContext): UserScope {
    return { organizationId: auth.organizationId, scope: auth.scope ?? "own", userId: auth.user.id };
  }

  async #caller(auth: AuthContext): Promise<UserSnapshot> {
    const u = await this.deps.access.user(auth.user.id);
    if (!u) throw new AppError("UNAUTHORIZED", "Could not validate credentials");
    return u;
  }

  async list(
    auth: AuthContext,
    page: { skip: number; limit: number },
    filter: { isActive?: boolean; role?: string },
  ) {
    const { items, total } = await this.repo.list(this.#scope(auth), page, filter);
    return {
      items: await Promise.all(items.map((u) => this.json(u))),
      total,
      skip: page.skip,
      limit: page.limit,
    };
  }

  async #visible(auth: AuthContext, id: number): Promise<UserRow> {
    const u = await this.repo.findVisible(id, this.#scope(auth));
    if (!u) throw notFound(`user ${id}`);
    return u;
  }

  async get(auth: AuthContext, id: number) {
    return await this.json(await this.#visible(auth, id));
  }

  /** Validates the privilege-bearing part of a user's state against the caller's powers. */
  async #checkState(
    caller: UserSnapshot,
    orgId: number | null,
    s: { role: string; reportsToId: number | null; modules: string[]; permissions: string[] },
    selfId: number | null,
  ): Promise<
    { roleId: number | null; kind: ReturnType<typeof kindOfRoleName>; modules: string[]; perms: string[] }
  > {
    const kind = kindOfRoleName(s.role);
    const refusal = refuseManage(caller.access.kind, kind);
    if (refusal) throw forbidden(refusal, { layer: "rbac", reason: "cannot_manage_role" });
    if (kind === "super_admin" && orgId !== null) {
      throw validation("organization_id: platform super admins belong to no organization");
    }
    if (kind !== "super_admin" && orgId === null) {
      throw validation(
        "organization_id: required for every role but super_admin (or send X-Organization-Id)",
      );
    }
    const role = await this.roles.byName(s.role, orgId);
    if (kind === "custom" && !role) {
      throw validation(
        `role: "${s.role}" is neither a built-in role nor a custom role of this organization`,
        {
          errors: [{ field: "role", message: "unknown role" }],
        },
      );
    }
    if (role?.isSystem === false && kind !== "custom") throw validation(`role: "${s.role}" is ambiguous`);
    const modules = [...new Set(s.modules.map(normalizeModule))];
    for (const m of modules) {
      if (!(ALL_MODULES as readonly string[]).includes(m)) {
        throw validation(`modules: unknown module "${m}"`, {
          errors: [{ field: "modules", message: `unknown ${m}` }],
        });
      }
    }
    if (modules.length && kind !== "manager") throw validation("modules: only managers are assigned modules");
    const grants = parseGrants(s.permissions);
    if (caller.access.kind === "manager") {
      for (const m of modules) {
        if (!caller.access.modules.has(m)) {
          throw forbidden(`module ${m} is not one of your modules`, { layer: "rbac" });
        }
      }
      for (const g of grants) {
        if (!caller.access.modules.has(g.module)) {
          throw forbidden(`permission ${g.name} is outside your modules`, { layer: "rbac" });
        }
      }
    }
    if (kind === "executive") {
      const managerId = s.reportsToId ?? (caller.access.kind === "manager" ? caller.access.id : null);
      if (managerId === null) throw validation("reports_to_id: an executive must report to a manager");
      if (caller.access.kind === "manager" && managerId !== caller.access.id) {
        throw forbidden("managers may only create executives reporting to themselves", { layer: "rbac" });
      }
      const [m] = await this.repo.inOrganization([managerId], orgId!);
      if (!m || kindOfRoleName(m.role) !== "manager" || !m.isActive) {
        throw validation(`reports_to_id: user ${managerId} is not an active manager of this organization`);
      }
      s.reportsToId = managerId;
    } else if (s.reportsToId !== null) {
      if (s.reportsToId === selfId) throw validation("reports_to_id: a user cannot report to himself");
      const [m] = await this.repo.inOrganization([s.reportsToId], orgId!);
      if (!m) throw validation(`reports_to_id: user ${s.reportsToId} is not in this organization`);
    }
    return { roleId: role?.id ?? null, kind, modules, perms: grants.map((g) => g.name) };
  }

  async create(auth: AuthContext, input: UserCreate, requestId?: string) {
    const caller = await this.#caller(auth);
    const orgId = caller.access.kind === "super_admin"
      ? (input.organization_id !== undefined ? input.organization_id : auth.organizationId)
      : auth.organizationId;
    if (
      caller.access.kind !== "super_admin" && input.organization_id != null && input.organization_id !== orgId
    ) {
      throw forbidden("you cannot create users in another organization", {
        layer: "tenant",
        reason: "cross_tenant",
      });
    }
    const problems = passwordProblems(input.password, input.email);
    if (problems.length) {
      throw validation(`password: ${problems.join("; ")}`, {
        errors: problems.map((message) => ({ field: "password", message })),
      });
    }
    const state = {
      role: input.role,
      reportsToId: input.reports_to_id ?? null,
      modules: input.modules ?? [],
      permissions: input.permissions ?? [],
    };
    const checked = await this.#checkState(caller, orgId, state, null);
    await this.#unique(auth, input.email, input.username ?? null, null, requestId);
    const hash = await hashPassword(input.password);
    const created = await this.deps.db.transaction(async (tx) => {
      // Another access change of the organization waits (src/db/access_lock.ts): the check below sees it.
      await lockAccessChanges(this.deps.db, tx, orgId);
      const touched = [state.reportsToId];
      const before = await this.#accessOf(caller, tx, touched);
      const u = await this.repo.insert({
        email: input.email.trim().toLowerCase(),
        username: input.username ?? null,
        fullName: input.full_name ?? null,
        passwordHash: hash,
        role: checked.kind === "custom" ? input.role.trim() : checked.kind,
        roleId: checked.roleId,
        organizationId: orgId,
        reportsToId: state.reportsToId,
        isSuperAdmin: checked.kind === "super_admin",
        isCompanyAdmin: checked.kind === "admin",
        mustChangePassword: input.must_change_password ?? true,
      }, tx);
      // A restore never brings back a password retired after its backup (src/backups/credentials.ts).
      await recordCredentialFloor(this.deps.db, tx, u.id, "created");
      if (orgId !== null) {
        await this.repo.setModules(u.id, orgId, checked.modules, tx);
        await this.repo.setPermissions(u.id, orgId, checked.perms, tx);
      }
      await this.#assertNoGains(caller, tx, before, [u.id, ...touched], new Set([u.id]));
      await this.#audit(tx, "user.created", auth, u, requestId, {
        role: u.role,
        reports_to_id: u.reportsToId,
        modules: checked.modules,
        permissions: checked.perms,
      });
      return u;
    });
    await this.deps.access.changed();
    return await this.json(created);
  }

  /**
   * The target as the caller may manage it: visible, of a kind he may manage, and (no escalation) with no
   * access he lacks himself — else resetting the password would hand him that access.
   */
  async #manageable(auth: AuthContext, caller: UserSnapshot, id: number): Promise<UserRow> {
    const u = await this.#visible(auth, id);
    const refusal = refuseManage(caller.access.kind, kindOfRoleName(u.role));
    if (refusal) throw forbidden(refusal, { layer: "rbac", reason: "cannot_manage_role" });
    if (!coversOrganization(caller.access)) {
      const target = await this.deps.access.user(u.id);
      const beyond = target && gainedBeyond(caller.access, null, target.access);
      if (beyond) {
        throw forbidden(
          `user ${u.id} has ${describeGain(beyond)}, which you do not have yourself: you cannot manage him`,
          { layer: "rbac", reason: "escalation" },
        );
      }
    }
    return u;
  }

  /** The access of users as `tx` sees them (empty when the caller covers his whole organization). */
  #accessOf(caller: UserSnapshot, tx: Executor, ids: (number | null)[]) {
    if (coversOrganization(caller.access) || ids.length === 0) return Promise.resolve(new Map());
    return this.deps.access.principalsIn(tx, ids);
  }

  /** The no-escalation check of a change, inside its transaction (`escalation.ts`). */
  async #assertNoGains(
    caller: UserSnapshot,
    tx: Executor,
    before: Map<number, AccessPrincipal>,
    ids: (number | null)[],
    newUsers?: Set<number>,
  ): Promise<void> {
    if (coversOrganization(caller.access) || ids.length === 0) return;
    assertNoGains(caller.access, before, await this.deps.access.principalsIn(tx, ids), newUsers);
  }

  async update(auth: AuthContext, id: number, input: UserUpdate, requestId?: string) {
    const caller = await this.#caller(auth);
    const privileged = [
      "role",
      "reports_to_id",
      "modules",
      "permissions",
      "is_active",
      "password",
      "must_change_password",
    ]
      .some((k) => (input as Record<string, unknown>)[k] !== undefined);
    if (id === caller.access.id && privileged) {
      throw forbidden(
        "you cannot change your own role, access, status or password here (use /auth/password/change)",
      );
    }
    const u = id === caller.access.id
      ? await this.#visible(auth, id)
      : await this.#manageable(auth, caller, id);
    const state = {
      role: input.role ?? u.role,
      reportsToId: input.reports_to_id !== undefined ? input.reports_to_id : u.reportsToId,
      modules: input.modules ?? await this.repo.modules(u.id),
      permissions: input.permissions ?? await this.repo.permissions(u.id),
    };
    const checked = privileged ? await this.#checkState(caller, u.organizationId, state, u.id) : null;
    if (
      id === caller.access.id && input.email !== undefined && input.email.trim().toLowerCase() !== u.email
    ) {
      await this.#reauthenticate(u, input.current_password);
    }
    await this.#unique(auth, input.email ?? null, input.username ?? null, u.id, requestId);
    const patch: Record<string, unknown> = {};
    if (input.email !== undefined) patch.email = input.email.trim().toLowerCase();
    if (input.username !== undefined) patch.username = input.username;
    if (input.full_name !== undefined) patch.fullName = input.full_name;
    if (input.is_active !== undefined) patch.isActive = input.is_active;
    if (input.must_change_password !== undefined) patch.mustChangePassword = input.must_change_password;
    if (input.password !== undefined) {
      const problems = passwordProblems(input.password, u.email);
      if (problems.length) throw validation(`password: ${problems.join("; ")}`);
      patch.passwordHash = await hashPassword(input.password);
      patch.passwordChangedAt = new Date(Math.max(Date.now(), u.passwordChangedAt.getTime() + 1));
      patch.mustChangePassword = input.must_change_password ?? true;
    }
    if (checked) {
      patch.role = checked.kind === "custom" ? state.role.trim() : checked.kind;
      patch.roleId = checked.roleId;
      patch.reportsToId = state.reportsToId;
      patch.isCompanyAdmin = checked.kind === "admin";
      patch.isSuperAdmin = checked.kind === "super_admin";
    }
    const updated = await this.deps.db.transaction(async (tx) => {
      // The user, his manager before and after: whose access the change may widen.
      const touched = checked ? [u.id, u.reportsToId, state.reportsToId] : [];
      if (checked) await lockAccessChanges(this.deps.db, tx, u.organizationId);
      const before = await this.#accessOf(caller, tx, touched);
      const row = Object.keys(patch).length ? await this.repo.update(u.id, u.organizationId, patch, tx) : u;
      if (row && ("passwordHash" in patch || "mustChangePassword" in patch)) {
        await recordCredentialFloor(this.deps.db, tx, u.id, "changed");
      }
      if (checked && u.organizationId !== null) {
        if (input.modules !== undefined || input.role !== undefined) {
          await this.repo.setModules(u.id, u.organizationId, checked.modules, tx);
        }
        if (input.permissions !== undefined) {
          await this.repo.setPermissions(u.id, u.organizationId, checked.perms, tx);
        }
      }
      await this.#assertNoGains(caller, tx, before, touched);
      const event = input.is_active === false
        ? "user.deactivated"
        : input.is_active === true
        ? "user.activated"
        : "user.updated";
      await this.#audit(tx, event, auth, u, requestId, {
        changes: Object.fromEntries(Object.entries(input).filter(([k]) => k !== "password")),
        password_reset: input.password !== undefined,
      });
      return row!;
    });
    await this.deps.access.changed();
    return await this.json(updated);
  }

  async delete(auth: AuthContext, id: number, requestId?: string) {
    const caller = await this.#caller(auth);
    if (id === caller.access.id) throw forbidden("you cannot delete yourself");
    const u = await this.#manageable(auth, caller, id);
    const owned = await this.repo.ownedRecordCount(u.id);
    if (owned > 0) {
      throw conflict(`user ${u.id} owns ${owned} record(s); reassign them or deactivate the user instead`);
    }
    await this.deps.db.transaction(async (tx) => {
      await this.repo.delete(u.id, u.organizationId, tx);
      await this.#audit(tx, "user.deleted", auth, u, requestId, { email: u.email, role: u.role });
    });
    await this.deps.access.changed();
  }

  /**
   * A self e-mail change needs the current password: the e-mail is the login, so a stolen token must not
   * be enough to take the account over. Failures are throttled per user (REAUTH_RULE).
   */
  async #reauthenticate(u: UserRow, currentPassword: string | undefined): Promise<void> {
    if (currentPassword === undefined) {
      throw validation("current_password: required to change your own e-mail address", {
        errors: [{ field: "current_password", message: "required to change your own e-mail address" }],
      });
    }
    const attempt = await this.#throttle.attemptKey(`reauth:user:${u.id}`, REAUTH_RULE);
    if (!attempt.admitted) {
      throw new AppError("RATE_LIMITED", `too many failed attempts; retry in ${attempt.retryAfter} seconds`, {
        headers: { "Retry-After": String(attempt.retryAfter) },
        extra: { retry_after: attempt.retryAfter },
      });
    }
    if (!(await verifyPassword(u.passwordHash, currentPassword))) {
      throw new AppError("BAD_REQUEST", "current_password is incorrect");
    }
    await this.#throttle.refund(attempt);
  }

  /**
   * Revokes every token the user holds (an admin's "log him out everywhere"): a user the caller may manage,
   * in the caller's organization. Refused on every path and replica when this returns.
   */
  async revokeTokens(auth: AuthContext, id: number, requestId?: string) {
    const caller = await this.#caller(auth);
    const u = id === caller.access.id
      ? await this.#visible(auth, id)
      : await this.#manageable(auth, caller, id);
    await this.deps.db.transaction(async (tx) => {
      await revokeAllTokens(this.deps.db, u.id, tx);
      await this.#audit(tx, "user.tokens_revoked", auth, u, requestId, {});
    });
    await this.deps.access.revoked();
    return { detail: `every token of user ${u.id} issued before now is refused`, user_id: u.id };
  }

  /**
   * E-mails and usernames are unique across every organization, so a conflict says that the address is
   * taken somewhere: the answer names no user and no organization, every conflict is audited, and an
   * actor's conflicts are throttled (CONFLICT_RULE) — counted before the check, so that a blocked actor
   * learns nothing, not even from a success. The residual oracle is documented (docs/access.md).
   */
  async #unique(
    auth: AuthContext,
    email: string | null,
    username: string | null,
    selfId: number | null,
    requestId?: string,
  ) {
    if (!email && !username) return;
    const attempt = await this.#throttle.attemptKey(`conflict:user:${auth.user.id}`, CONFLICT_RULE);
    if (!attempt.admitted) {
      throw new AppError(
        "RATE_LIMITED",
        `too many conflicting e-mails or usernames; retry in ${attempt.retryAfter} seconds`,
        {
          headers: { "Retry-After": String(attempt.retryAfter) },
          extra: { retry_after: attempt.retryAfter },
        },
      );
    }
    let field: "email" | "username" | null = null;
    if (email) {
      const other = await this.repo.findByEmail(email);
      if (other && other.id !== selfId) field = "email";
    }
    if (!field && username) {
      const other = await this.repo.idByUsername(username);
      if (other !== null && other !== selfId) field = "username";
    }
    if (!field) {
      // Not a conflict: it does not count.
      await this.#throttle.refund(attempt);
      return;
    }
    await this.deps.audit.recordSafely({
      event: "user.identity_conflict",
      actorUserId: auth.user.id,
      organizationId: auth.organizationId,
      target: field,
      requestId,
      details: { field, value: field === "email" ? email!.trim().toLowerCase() : username },
    });
    throw conflict(
      `this ${field === "email" ? "e-mail address" : "username"} cannot be used; choose another`,
      {
        errors: [{ field, message: "cannot be used" }],
      },
    );
  }

  #audit(
    ex: Executor,
    event: string,
    auth: AuthContext,
    u: UserRow,
    requestId: string | undefined,
    details: Record<string, unknown>,
  ) {
    return this.deps.audit.record({
      event,
      actorUserId: auth.user.id,
      organizationId: u.organizationId,
      target: `user:${u.id}`,
      requestId,
      details,
    }, ex);
  }
}
