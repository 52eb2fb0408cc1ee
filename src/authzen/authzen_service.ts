/**
 * The AuthZEN Authorization API 1.0 decision logic over the three layers:
 * subject = a user (`{"type": "user", "id": "<id or email>"}`), action = a
 * permission (`crm.read`, `crm:read`, `crm_leads_read`, or a bare `read`
 * whose module comes from the resource), resource = a module
 * (`{"type": "module", "id": "crm"}`), an organization, or a record
 * (`{"type": "crm_lead", "id": "7"}`). An existing record is judged by its real
 * organization and owner; `properties.organization_id` / `owner_id` describe a
 * hypothetical record only (an id that does not exist, or none).
 *
 * Well-formed requests about things the PDP does not model (a subject type
 * other than `user`, an unknown resource type or module, an action name that
 * is no permission) are denials, not errors; 400 is for malformed requests.
 *
 * Callers authenticate with a bearer token. A user may ask about himself;
 * asking about another user of the organization needs the admin role (or a
 * platform super admin, for any organization) or the `access.evaluate`
 * permission. Denials carry `context.layer` and `context.reason`; admins
 * also get `reason_admin` and the whole decision's `trace` (on an allow,
 * when the request's `context.trace` is true). Story: docs/authzen.md.
 */
import type { Database } from "../db/client.ts";
import { ALL_MODULES, normalizeModule } from "../tenants/modules.ts";
import { RecordsRepository } from "../modules/records_repository.ts";
import { UsersRepository } from "../users/users_repository.ts";
import { resourceByType, type ResourceDef } from "../modules/resources.ts";
import type { AccessRequest, Decision, Layer, ReasonCode } from "../access/decide.ts";
import type { UserSnapshot } from "../access/loader.ts";
import type { AccessService } from "../access/access_service.ts";
import { isInt32Id } from "../http/input_rules.ts";

export interface Entity {
  type: string;
  id?: string;
  properties?: Record<string, unknown>;
}
export interface EvaluationInput {
  subject: Entity;
  action: { name: string; properties?: Record<string, unknown> };
  resource: Entity;
  context?: Record<string, unknown>;
}
export interface DecisionOut {
  decision: boolean;
  context?: Record<string, unknown>;
}

/**
 * Reason codes of the AuthZEN layer on top of `decide()`'s: a subject or
 * resource type the PDP does not model, an action name that is no permission,
 * or a permission that does not apply to the resource. Well-formed requests
 * about such things are denied (200, `decision: false`), not refused.
 */
export type AuthzenReason =
  | ReasonCode
  | "unknown_subject_type"
  | "unknown_resource_type"
  | "unknown_action"
  | "action_not_applicable";

/** A decision as the API renders it (decide()'s, or one reached while resolving the request). */
export interface AuthzenDecision extends Omit<Decision, "reason"> {
  reason?: AuthzenReason;
}

/** A denial reached before decide() runs. */
function denial(
  layer: Layer,
  reason: AuthzenReason,
  message: string,
  scope: Decision["scope"],
): AuthzenDecision {
  return {
    allowed: false,
    layer,
    reason,
    message,
    scope,
    trace: [{ layer, outcome: "deny", detail: message }],
  };
}

/** True when the subject is of the one type the PDP models (`user`). */
export function isUserSubject(s: Entity | undefined): boolean {
  return !!s && typeof s.type === "string" && s.type.toLowerCase() === "user";
}

/** A request-level error: 400 / 403 for the whole call, or inside one evaluation of a batch. */
export class AuthzenError extends Error {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super(message);
  }
}

/** The caller (PEP) as the API sees him. */
export interface Caller {
  /** The user asking; null for a service key (src/gateway/service_keys.ts), which is no user. */
  user: UserSnapshot | null;
  /** The caller's organization (a service key's); null at platform level. */
  organizationId: number | null;
  /** Sees every organization: platform super admins and platform service keys. */
  platform: boolean;
  /** Admins (org admin, super admin) and service keys see reason_admin and the trace. */
  isAdmin: boolean;
  /** May ask about other users of his organization (any, for platform callers). */
  mayAskAboutOthers: boolean;
  /** Who asked, for the decision log: `user:<id>` or `service_key:<prefix>`. */
  label: string;
}

interface Target {
  module: string;
  action: string;
  submodule?: string;
  organizationId: number | null;
  resource?: { organizationId?: number | null; ownerId?: number | null };
  /** A denial already reached while resolving (unknown type or action). */
  early?: { layer: Layer; reason: AuthzenReason; message: string };
  /**
   * The record as "not found" would name it. Set for a record id: a record that does not exist (or is
   * another organization's) is denied with it once the module-level layers pass — the REST order: the
   * guard first, then 404 —, and so is one outside the subject's scope when the caller is no admin.
   */
  notFound?: string;
  /** The record does not exist (or not in the subject's organization). */
  missing?: boolean;
}

const ACTION_WORD = /^[a-z][a-z0-9_]*$/;
const DOTTED = /^([a-z][a-z0-9]*)[.:]([a-z][a-z0-9_]*)$/;
const SUBMODULE = /^([a-z][a-z0-9]*)_([a-z][a-z0-9]*)_([a-z][a-z0-9]*)$/;

function intOf(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  // Ids are 32-bit integer columns: a larger one names nothing (on Postgres it was the column's range error, a 500).
  return isInt32Id(n) ? n : undefined;
}

export class AuthzenService {
  /** Subjects named by email, and the subject search's candidates. */
  readonly #users: UsersRepository;
  constructor(private readonly db: Database, private readonly access: AccessService) {
    this.#users = new UsersRepository(db);
  }

  /** Describes the caller's rights on the API. */
  caller(user: UserSnapshot): Caller {
    const k = user.access.kind;
    const isAdmin = k === "super_admin" || k === "admin";
    return {
      user,
      organizationId: user.access.organizationId,
      platform: k === "super_admin",
      isAdmin,
      mayAskAboutOthers: isAdmin || user.access.grants.allows("access", "evaluate"),
      label: `user:${user.access.id}`,
    };
  }

  /** A service key as a caller: asks about the users of its organization (any, for a platform key). */
  serviceCaller(key: { organizationId: number | null; scopes: readonly string[]; prefix: string }): Caller {
    return {
      user: null,
      organizationId: key.organizationId,
      platform: key.organizationId === null,
      isAdmin: true,
      mayAskAboutOthers: key.scopes.includes("access.evaluate"),
      label: `service_key:${key.prefix}`,
    };
  }

  /** Resolves the subject and checks the caller may ask about it. */
  async subject(caller: Caller, s: Entity): Promise<UserSnapshot | null> {
    if (!s || typeof s.type !== "string" || typeof s.id !== "string" || !s.id) {
      throw new AuthzenError(400, "subject: type and id are required strings");
    }
    if (s.type.toLowerCase() !== "user") {
      throw new AuthzenError(400, `subject.type: "${s.type}" is not supported (use "user")`);
    }
    let id: number | null = intOf(s.id) ?? null;
    if (id === null && s.id.includes("@")) {
      id = await this.#users.idByEmail(s.id);
    }
    if (caller.user && id === caller.user.access.id) return caller.user;
    if (!caller.mayAskAboutOthers) {
      throw new AuthzenError(
        403,
        "you may only ask about yourself (asking about others needs an admin role or access.evaluate)",
      );
    }
    const snap = id === null ? null : await this.access.user(id);
    if (!caller.platform && snap && snap.access.organizationId !== caller.organizationId) {
      return null;
    }
    return snap;
  }

  /**
   * Parses the action against the resource into (module, action, submodule),
   * or a denial when the name is no permission or does not apply to the resource.
   */
  #action(
    name: unknown,
    def: ResourceDef | undefined,
    resourceModule: string,
    resourceLabel: string | null,
  ): { module: string; action: string; submodule?: string } | { reason: AuthzenReason; message: string } {
    if (typeof name !== "string" || !name) throw new AuthzenError(400, "action: name is a required string");
    const n = name.trim().toLowerCase();
    let m = DOTTED.exec(n);
    let out: { module: string; action: string; submodule?: string } | null = null;
    if (m) out = { module: m[1], action: m[2] };
    else if ((m = SUBMODULE.exec(n))) out = { module: m[1], submodule: m[2], action: m[3] };
    else if (ACTION_WORD.test(n)) out = { module: resourceModule, action: n };
    if (!out) {
      return {
        reason: "unknown_action",
        message:
          `action "${name}" is not a permission (module.action, module:action, module_submodule_action, or a bare action on a module or record resource)`,
      };
    }
    // resourceLabel null: an organization resource only names the organization acted on, any module applies.
    const applies = resourceLabel === null ||
      (out.module === resourceModule && !(def && out.submodule && out.submodule !== def.submodule));
    if (!applies) {
      return {
        reason: "action_not_applicable",
        message: `action "${name}" does not apply to ${resourceLabel}`,
      };
    }
    if (def) out.submodule = def.submodule;
    return out;
  }

  /**
   * Resolves the resource and action into a decision target.
   *
   * A record that exists is judged by what the database says about it (looked
   * up unscoped): caller-supplied `properties.organization_id` / `owner_id`
   * never override its real organization and owner. Properties describe a
   * hypothetical record when no id is given, or an id that is no record id
   * ("new"); with `hypotheticalIds` (admin callers) also when the id names no
   * record. Otherwise a missing id is "not found" once the module-level layers pass.
   */
  async target(
    subject: UserSnapshot,
    input: EvaluationInput,
    options: { hypotheticalIds?: boolean } = { hypotheticalIds: true },
  ): Promise<Target> {
    const r = input.resource;
    if (!r || typeof r.type !== "string" || !r.type) {
      throw new AuthzenError(400, "resource: type is a required string");
    }
    const props = r.properties && typeof r.properties === "object" ? r.properties : {};
    const ctx = input.context && typeof input.context === "object" ? input.context : {};
    const ctxOrg = intOf(ctx.organization_id);
    const propOrg = intOf(props.organization_id);
    const subjectOrg = subject.access.organizationId;
    const superAdmin = subject.access.kind === "super_admin";
    const type = r.type.toLowerCase();
    const def = resourceByType(type);
    // The record-scope column as the type names it (`owner_id` unless its module declares another).
    const propOwner = intOf(props[def?.source.ownerColumn ?? "owner_id"]);
    const t: Target = { module: "", action: "", organizationId: subjectOrg };
    const early = (layer: Layer, reason: AuthzenReason, message: string): Target => {
      t.early = { layer, reason, message };
      return t;
    };

    let resourceModule: string;
    let label: string | null;
    if (type === "module") {
      if (typeof r.id !== "string" || !r.id) {
        throw new AuthzenError(400, "resource.id: the module key is required");
      }
      resourceModule = normalizeModule(r.id);
      if (!(ALL_MODULES as readonly string[]).includes(resourceModule)) {
        return early("tenant", "resource_not_found", `module "${r.id}" does not exist`);
      }
      label = `module ${resourceModule}`;
    } else if (type === "organization") {
      resourceModule = "organization";
      label = null;
    } else if (def) {
      resourceModule = def.module;
      label = `${def.type} (module ${def.module}, submodule ${def.submodule})`;
    } else {
      return early(
        "tenant",
        "unknown_resource_type",
        `resource type "${r.type}" is not modelled (module, organization, or a record type such as crm_lead)`,
      );
    }

    const a = this.#action(input.action?.name, def, resourceModule, label);
    if ("reason" in a) return early("rbac", a.reason, a.message);
    Object.assign(t, a);

    if (type === "organization") {
      const id = intOf(r.id);
      if (!id) return early("tenant", "organization_not_found", `organization "${r.id}" not found`);
      t.organizationId = id;
      return t;
    }
    if (!def) {
      // A module: the organization the subject acts on (a super admin names it).
      const given = propOrg ?? ctxOrg;
      if (given !== undefined) t.organizationId = given;
      return t;
    }

    const id = r.id === undefined ? undefined : intOf(r.id);
    const real = id ? await new RecordsRepository(this.db, def.table).attributes(id) : null;
    if (id) t.notFound = `${def.type} ${r.id} not found in the organization`;
    if (real) {
      // An existing record: its real organization and owner, whatever the properties say. A shared
      // resource (modules/*.ts `shared`) is read organization-wide, as its REST routes read it.
      const sharedRead = def.source.shared && t.action === "read";
      t.resource = { organizationId: real.organizationId, ownerId: sharedRead ? undefined : real.ownerId };
      if (superAdmin) t.organizationId = real.organizationId;
      else if (real.organizationId !== subjectOrg) {
        // Another organization's record is reported like a missing one.
        t.missing = true;
        t.resource = undefined;
        if (ctxOrg !== undefined) t.organizationId = ctxOrg;
        return t;
      } else if (ctxOrg !== undefined) t.organizationId = ctxOrg;
      return t;
    }
    if ((propOrg !== undefined || propOwner !== undefined) && (id === undefined || options.hypotheticalIds)) {
      // A hypothetical record ("may I create one owned by …?"): the caller's attributes.
      t.resource = { organizationId: propOrg, ownerId: propOwner };
      const given = propOrg ?? ctxOrg;
      if (given !== undefined) t.organizationId = given;
      return t;
    }
    if (id) {
      // A record id that names no record (of the subject's organization).
      t.missing = true;
      if (ctxOrg !== undefined) t.organizationId = ctxOrg;
      return t;
    }
    if (r.id !== undefined) {
      return early("tenant", "resource_not_found", `${def.type} ${r.id} not found in the organization`);
    }
    // No id, no attributes: records of the type in the organization (resource search).
    if (ctxOrg !== undefined) t.organizationId = ctxOrg;
    return t;
  }

  /** Runs the decision for a resolved subject and target. */
  decide(subject: UserSnapshot, t: Target): Promise<AuthzenDecision> {
    if (t.early) {
      return Promise.resolve(
        denial(t.early.layer, t.early.reason, t.early.message, subject.access.recordScope),
      );
    }
    const req: Omit<AccessRequest, "now"> = {
      module: t.module,
      action: t.action,
      submodule: t.submodule,
      organizationId: t.organizationId,
      resource: t.resource,
    };
    if (!t.missing) return this.access.evaluate(subject, req);
    // A missing record: the module-level answer first (as the REST guard), then "not found".
    return this.access.evaluate(subject, { ...req, resource: undefined }).then((d) =>
      d.allowed ? denial("tenant", "resource_not_found", t.notFound!, d.scope) : d
    );
  }

  /**
   * What a caller who is no admin may learn about a record id: what REST would tell him — a record outside
   * the subject's scope is "not found" (REST: 404), never whose it is.
   */
  #forCaller(caller: Caller, t: Target, d: AuthzenDecision): AuthzenDecision {
    if (caller.isAdmin || !t.notFound || d.reason !== "record_out_of_scope") return d;
    return denial("tenant", "resource_not_found", t.notFound, d.scope);
  }

  /** The response for a decision, shaped for the caller. */
  render(caller: Caller, d: AuthzenDecision, explain = false): DecisionOut {
    if (d.allowed) {
      return caller.isAdmin && explain
        ? { decision: true, context: { record_scope: d.scope, trace: d.trace } }
        : { decision: true };
    }
    const context: Record<string, unknown> = {
      id: "0",
      layer: d.layer,
      reason: d.reason,
      reason_user: { en: d.message },
    };
    if (caller.isAdmin) {
      context.reason_admin = { en: d.trace.map((s) => `${s.layer}: ${s.outcome} — ${s.detail}`).join("; ") };
      context.trace = d.trace;
    }
    return { decision: false, context };
  }

  /**
   * One evaluation, end to end. With `log` (the API's own requests, not the searches' candidates), the
   * decision is counted and written to the decision log (src/observability/decision_log.ts).
   */
  async evaluate(caller: Caller, input: EvaluationInput, log?: { requestId?: string }): Promise<DecisionOut> {
    const out = await this.#evaluate(caller, input);
    if (log && this.access.decisions) {
      const ctx = out.context as { layer?: string; reason?: string } | undefined;
      const r = input.resource;
      this.access.decisions.record({
        source: "authzen",
        allowed: out.decision,
        subject: { type: "user", id: String(input.subject.id) },
        organizationId: caller.organizationId,
        action: String(input.action.name),
        resource: r && typeof r === "object" ? `${r.type}:${r.id}` : undefined,
        layer: out.decision ? undefined : ctx?.layer,
        reason: out.decision ? undefined : ctx?.reason,
        requestId: log.requestId,
        caller: caller.label,
      });
    }
    return out;
  }

  async #evaluate(caller: Caller, input: EvaluationInput): Promise<DecisionOut> {
    if (!input.action || typeof input.action !== "object") throw new AuthzenError(400, "action: required");
    const s = input.subject;
    if (!s || typeof s.type !== "string" || typeof s.id !== "string" || !s.id) {
      throw new AuthzenError(400, "subject: type and id are required strings");
    }
    if (!isUserSubject(s)) {
      return this.render(
        caller,
        denial(
          "tenant",
          "unknown_subject_type",
          `subject type "${s.type}" is not modelled (use "user")`,
          "own",
        ),
      );
    }
    // Asking about oneself by id (the common case) needs no lookup.
    const subject = caller.user && intOf(s.id) === caller.user.access.id
      ? caller.user
      : await this.subject(caller, s);
    if (!subject) {
      return this.render(caller, {
        allowed: false,
        layer: "tenant",
        reason: "subject_not_found",
        message: `subject ${s.id} not found`,
        scope: "own",
        trace: [{
          layer: "tenant",
          outcome: "deny",
          detail: `no user ${s.id} visible to the caller`,
        }],
      });
    }
    const explain = (input.context as Record<string, unknown> | undefined)?.trace === true;
    // For a caller who is no admin a record id is that id: properties never make a missing id hypothetical
    // (comparing the two answers would tell him whether a record he cannot see exists).
    const t = await this.target(subject, input, { hypotheticalIds: caller.isAdmin });
    return this.render(caller, this.#forCaller(caller, t, await this.decide(subject, t)), explain);
  }

  /** Candidate subjects for a subject search: users of an organization (and platform super admins for super admin callers). */
  async candidateUsers(caller: Caller, organizationId: number | null, afterId: number, limit: number) {
    const org = caller.platform ? organizationId : caller.organizationId;
    return await this.#users.idsAndEmails(org, { afterId, limit });
  }
}
