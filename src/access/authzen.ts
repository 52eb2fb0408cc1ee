/**
 * The AuthZEN Authorization API 1.0 decision logic over the three layers:
 * subject = a user (`{"type": "user", "id": "<id or email>"}`), action = a
 * permission (`crm.read`, `crm:read`, `crm_leads_read`, or a bare `read`
 * whose module comes from the resource), resource = a module
 * (`{"type": "module", "id": "crm"}`), an organization, or a record
 * (`{"type": "crm_lead", "id": "7", "properties": {"organization_id": …, "owner_id": …}}`).
 *
 * Callers authenticate with a bearer token. A user may ask about himself;
 * asking about another user of the organization needs the admin role (or a
 * platform super admin, for any organization) or the `access.evaluate`
 * permission. Denials carry `context.layer` and `context.reason`; admins
 * also get `reason_admin` and the whole decision's `trace` (on an allow,
 * when the request's `context.trace` is true).
 */
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { ALL_MODULES, normalizeModule } from "../tenants/modules.ts";
import { RecordsRepository } from "../modules/records_repository.ts";
import { resourceByType, type ResourceDef } from "../modules/resources.ts";
import type { AccessRequest, Decision, Layer } from "./decide.ts";
import type { UserSnapshot } from "./loader.ts";
import type { AccessService } from "./service.ts";

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

/** A request-level error: 400 / 403 for the whole call, or inside one evaluation of a batch. */
export class AuthzenError extends Error {
  constructor(readonly status: 400 | 403 | 404, message: string) {
    super(message);
  }
}

/** The caller (PEP) as the API sees him. */
export interface Caller {
  user: UserSnapshot;
  /** Admins (org admin, super admin) see reason_admin and the trace. */
  isAdmin: boolean;
  /** May ask about other users of his organization (any, for super admins). */
  mayAskAboutOthers: boolean;
}

interface Target {
  module: string;
  action: string;
  submodule?: string;
  organizationId: number | null;
  resource?: { organizationId?: number | null; ownerId?: number | null };
  /** A decision already reached while resolving (record not found). */
  early?: { layer: Layer; reason: "resource_not_found"; message: string };
}

const ACTION_WORD = /^[a-z][a-z0-9_]*$/;
const DOTTED = /^([a-z][a-z0-9]*)[.:]([a-z][a-z0-9_]*)$/;
const SUBMODULE = /^([a-z][a-z0-9]*)_([a-z][a-z0-9]*)_([a-z][a-z0-9]*)$/;

function intOf(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export class AuthzenService {
  constructor(private readonly db: Database, private readonly access: AccessService) {}

  /** Describes the caller's rights on the API. */
  caller(user: UserSnapshot): Caller {
    const k = user.access.kind;
    const isAdmin = k === "super_admin" || k === "admin";
    return {
      user,
      isAdmin,
      mayAskAboutOthers: isAdmin || user.access.grants.allows("access", "evaluate"),
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
      const t = this.db.t.users;
      const [row] = await this.db.db.select({ id: t.id }).from(t).where(
        sql`lower(${t.email}) = ${s.id.trim().toLowerCase()}`,
      )
        .limit(1);
      id = row?.id ?? null;
    }
    if (id === caller.user.access.id) return caller.user;
    if (!caller.mayAskAboutOthers) {
      throw new AuthzenError(
        403,
        "you may only ask about yourself (asking about others needs an admin role or access.evaluate)",
      );
    }
    const snap = id === null ? null : await this.access.user(id);
    const callerOrg = caller.user.access.organizationId;
    if (caller.user.access.kind !== "super_admin" && snap && snap.access.organizationId !== callerOrg) {
      return null;
    }
    return snap;
  }

  /** Parses the action against the resource into (module, action, submodule). */
  #action(
    name: unknown,
    def: ResourceDef | undefined,
    resourceModule: string | null,
  ): { module: string; action: string; submodule?: string } {
    if (typeof name !== "string" || !name) throw new AuthzenError(400, "action: name is a required string");
    const n = name.trim().toLowerCase();
    let m = DOTTED.exec(n);
    let out: { module: string; action: string; submodule?: string } | null = null;
    if (m) out = { module: m[1], action: m[2] };
    else if ((m = SUBMODULE.exec(n))) out = { module: m[1], submodule: m[2], action: m[3] };
    else if (ACTION_WORD.test(n) && resourceModule) out = { module: resourceModule, action: n };
    if (!out) {
      throw new AuthzenError(
        400,
        `action.name: "${name}" is not a permission (module.action, module:action, module_submodule_action, or a bare action on a module or record resource)`,
      );
    }
    if (def) {
      if (out.module !== def.module) {
        throw new AuthzenError(
          400,
          `action.name: "${name}" does not apply to resource type ${def.type} (module ${def.module})`,
        );
      }
      if (out.submodule && out.submodule !== def.submodule) {
        throw new AuthzenError(
          400,
          `action.name: "${name}" does not apply to ${def.type} (submodule ${def.submodule})`,
        );
      }
      out.submodule = def.submodule;
    }
    return out;
  }

  /** Resolves the resource and action into a decision target. */
  async target(subject: UserSnapshot, input: EvaluationInput): Promise<Target> {
    const r = input.resource;
    if (!r || typeof r.type !== "string" || !r.type) {
      throw new AuthzenError(400, "resource: type is a required string");
    }
    const props = r.properties ?? {};
    const ctxOrg = intOf((input.context ?? {}).organization_id);
    const propOrg = intOf(props.organization_id);
    const subjectOrg = subject.access.organizationId;
    const type = r.type.toLowerCase();
    const def = resourceByType(type);
    let resourceModule: string | null = null;
    if (type === "module") {
      if (typeof r.id !== "string" || !r.id) {
        throw new AuthzenError(400, "resource.id: the module key is required");
      }
      resourceModule = normalizeModule(r.id);
      if (!(ALL_MODULES as readonly string[]).includes(resourceModule)) {
        throw new AuthzenError(400, `resource.id: unknown module "${r.id}"`);
      }
    } else if (type === "organization") resourceModule = "organization";
    else if (def) resourceModule = def.module;
    else {throw new AuthzenError(
        400,
        `resource.type: "${r.type}" is not supported (module, organization, or a record type such as crm_lead)`,
      );}

    const a = this.#action(input.action?.name, def, resourceModule);
    if (type === "module" && a.module !== resourceModule) {
      throw new AuthzenError(
        400,
        `action.name: "${input.action.name}" does not apply to module ${resourceModule}`,
      );
    }
    const t: Target = { ...a, organizationId: subjectOrg };
    if (type === "organization") {
      const id = intOf(r.id);
      if (!id) throw new AuthzenError(400, "resource.id: an organization id is required");
      t.organizationId = id;
    } else {
      const given = propOrg ?? ctxOrg;
      if (given !== undefined) t.organizationId = given;
    }
    if (def && r.id !== undefined) {
      const id = intOf(r.id);
      if (!id) throw new AuthzenError(400, `resource.id: "${r.id}" is not a record id`);
      const ownerGiven = intOf(props.owner_id);
      if (propOrg !== undefined && ownerGiven !== undefined) {
        t.resource = { organizationId: propOrg, ownerId: ownerGiven };
      } else {
        const attrs = await this.#record(def, id, subject);
        if (!attrs) {
          t.early = {
            layer: "tenant",
            reason: "resource_not_found",
            message: `${def.type} ${id} not found in the organization`,
          };
          return t;
        }
        t.resource = {
          organizationId: propOrg ?? attrs.organizationId,
          ownerId: ownerGiven ?? attrs.ownerId,
        };
      }
      if (t.organizationId === null || subject.access.kind === "super_admin") {
        t.organizationId = t.resource.organizationId ?? t.organizationId;
      }
    }
    return t;
  }

  /** A record's attributes; for tenant subjects only within their organization (no existence oracle). */
  async #record(def: ResourceDef, id: number, subject: UserSnapshot) {
    const attrs = await new RecordsRepository(this.db, def.table).attributes(id);
    if (!attrs) return null;
    if (subject.access.kind !== "super_admin" && attrs.organizationId !== subject.access.organizationId) {
      return null;
    }
    return attrs;
  }

  /** Runs the decision for a resolved subject and target. */
  async decide(subject: UserSnapshot, t: Target): Promise<Decision> {
    if (t.early) {
      return {
        allowed: false,
        layer: t.early.layer,
        reason: t.early.reason,
        message: t.early.message,
        scope: subject.access.recordScope,
        trace: [{ layer: t.early.layer, outcome: "deny", detail: t.early.message }],
      };
    }
    const req: Omit<AccessRequest, "now"> = {
      module: t.module,
      action: t.action,
      submodule: t.submodule,
      organizationId: t.organizationId,
      resource: t.resource,
    };
    return await this.access.evaluate(subject, req);
  }

  /** The response for a decision, shaped for the caller. */
  render(caller: Caller, d: Decision, explain = false): DecisionOut {
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

  /** One evaluation, end to end. */
  async evaluate(caller: Caller, input: EvaluationInput): Promise<DecisionOut> {
    if (!input.action || typeof input.action !== "object") throw new AuthzenError(400, "action: required");
    const subject = await this.subject(caller, input.subject);
    if (!subject) {
      return this.render(caller, {
        allowed: false,
        layer: "tenant",
        reason: "subject_not_found",
        message: `subject ${input.subject.id} not found`,
        scope: "own",
        trace: [{
          layer: "tenant",
          outcome: "deny",
          detail: `no user ${input.subject.id} visible to the caller`,
        }],
      });
    }
    const explain = (input.context as Record<string, unknown> | undefined)?.trace === true;
    return this.render(caller, await this.decide(subject, await this.target(subject, input)), explain);
  }

  /** Candidate subjects for a subject search: users of an organization (and platform super admins for super admin callers). */
  async candidateUsers(caller: Caller, organizationId: number | null, afterId: number, limit: number) {
    const t = this.db.t.users;
    const callerOrg = caller.user.access.organizationId;
    const org = caller.user.access.kind === "super_admin" ? organizationId : callerOrg;
    const cond = org === null ? sql`${t.organizationId} IS NULL` : eq(t.organizationId, org);
    return await this.db.db.select({ id: t.id, email: t.email }).from(t)
      .where(and(cond, sql`${t.id} > ${afterId}`)).orderBy(t.id).limit(limit);
  }
}
