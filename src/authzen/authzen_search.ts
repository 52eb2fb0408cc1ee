/**
 * AuthZEN search APIs (subject, resource, action) with opaque page tokens
 * bound to the request: a token replayed with a changed request — `page.limit`
 * included — is refused (400), as the specification recommends. `page.limit: 0`
 * answers an empty last page (`next_token: ""`): a request for no results has
 * no further pages. Action search lists the action catalog's actions only.
 * Story: docs/authzen.md.
 */
import { base64url } from "jose";
import type { Database } from "../db/client.ts";
import { ALL_MODULES, normalizeModule } from "../tenants/modules.ts";
import { RecordsRepository } from "../modules/records_repository.ts";
import { resourceByType } from "../modules/resources.ts";
import { catalogActions } from "../access/actions.ts";
import {
  AuthzenError,
  type AuthzenService,
  type Caller,
  type Entity,
  type EvaluationInput,
  isUserSubject,
} from "./authzen_service.ts";
import { isInt32Id } from "../http/input_rules.ts";

export interface PageIn {
  token?: string;
  limit?: number;
}
export interface SearchOut {
  page: { next_token: string; count: number; total?: number };
  results: Record<string, unknown>[];
}

const DEFAULT_LIMIT = 50;
/** No match: an unknown subject or resource type, an unknown subject (the specification: results, not an error). */
const NONE: SearchOut = { page: { next_token: "", count: 0 }, results: [] };
const none = (): SearchOut => structuredClone(NONE);
const MAX_LIMIT = 200;
const MAX_SCAN = 1000;

/** The request without its page token: a token is valid only for the very same request (limit included). */
function fingerprint(body: Record<string, unknown>): string {
  const { page, ...rest } = body;
  const { token: _token, ...paging } = (page && typeof page === "object" ? page : {}) as Record<
    string,
    unknown
  >;
  const text = JSON.stringify([rest, paging]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}

function readToken(body: Record<string, unknown>, page: PageIn | undefined): number {
  if (!page?.token) return 0;
  try {
    const t = JSON.parse(new TextDecoder().decode(decodePageToken(page.token))) as { c: number; h: string };
    if (t.h !== fingerprint(body) || !Number.isSafeInteger(t.c) || t.c < 0) throw new Error("mismatch");
    return t.c;
  } catch {
    throw new AuthzenError(
      400,
      "page.token: not a token of this request (every other field must stay identical)",
    );
  }
}

function makeToken(body: Record<string, unknown>, cursor: number): string {
  return base64url.encode(JSON.stringify({ c: cursor, h: fingerprint(body) }));
}

function limitOf(page: PageIn | undefined): number {
  const l = page?.limit;
  if (l === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(l) || l < 0) throw new AuthzenError(400, "page.limit: a non-negative integer");
  return Math.min(l, MAX_LIMIT);
}

export class AuthzenSearch {
  constructor(private readonly db: Database, private readonly az: AuthzenService) {}

  /** Users who may perform the action on the resource. */
  async subjects(caller: Caller, body: Record<string, unknown>): Promise<SearchOut> {
    const subject = body.subject as Entity | undefined;
    if (!subject || typeof subject.type !== "string") {
      throw new AuthzenError(400, "subject: type is required");
    }
    if (!caller.mayAskAboutOthers) {
      throw new AuthzenError(403, "subject search needs an admin role or access.evaluate");
    }
    if (!isUserSubject(subject)) return none();
    const page = body.page as PageIn | undefined;
    const limit = limitOf(page);
    let cursor = readToken(body, page);
    if (limit === 0) return none();
    const resource = body.resource as Entity | undefined;
    const props = resource?.properties ?? {};
    let org = Number(
      props.organization_id ?? (body.context as Record<string, unknown> | undefined)?.organization_id,
    ) ||
      caller.organizationId;
    const def = resource ? resourceByType(String(resource.type)) : undefined;
    if (def && resource?.id !== undefined && caller.platform) {
      const id = Number(resource.id);
      const attrs = isInt32Id(id)
        ? await new RecordsRepository(this.db, def.table).attributes(id)
        : undefined;
      if (attrs) org = attrs.organizationId;
    }
    if (resource?.type === "organization" && resource.id) org = Number(resource.id);
    // Ids are 32-bit integer columns: an organization id past them (or not an integer) names no organization.
    if (org !== null && !isInt32Id(org)) return none();
    const results: Record<string, unknown>[] = [];
    let scanned = 0;
    let more = false;
    while (results.length < limit && scanned < MAX_SCAN) {
      const batch = await this.az.candidateUsers(caller, org ?? null, cursor, 100);
      if (!batch.length) break;
      for (const u of batch) {
        scanned++;
        cursor = u.id;
        const out = await this.az.evaluate(caller, {
          ...(body as unknown as EvaluationInput),
          subject: { type: "user", id: String(u.id) },
        });
        if (out.decision) results.push({ type: "user", id: String(u.id), properties: { email: u.email } });
        if (results.length >= limit) break;
      }
      if (batch.length < 100 && results.length < limit) break;
    }
    if (results.length >= limit || scanned >= MAX_SCAN) {
      more = (await this.az.candidateUsers(caller, org ?? null, cursor, 1)).length > 0;
    }
    return { page: { next_token: more ? makeToken(body, cursor) : "", count: results.length }, results };
  }

  /** The request's resource (a type is required: 400) and its user subject; null when there is no such user. */
  async #subjectAndResource(caller: Caller, body: Record<string, unknown>) {
    const resource = body.resource as Entity | undefined;
    if (!resource || typeof resource.type !== "string") {
      throw new AuthzenError(400, "resource: type is required");
    }
    if (!isUserSubject(body.subject as Entity)) return null;
    const subject = await this.az.subject(caller, body.subject as Entity);
    return subject ? { resource: resource as Entity & { type: string }, subject } : null;
  }

  /** Resources of a type the subject may act on. */
  async resources(caller: Caller, body: Record<string, unknown>): Promise<SearchOut> {
    const found = await this.#subjectAndResource(caller, body);
    if (!found) return none();
    const { resource, subject } = found;
    const page = body.page as PageIn | undefined;
    const limit = limitOf(page);
    const offset = readToken(body, page);
    if (limit === 0) return { page: { next_token: "", count: 0 }, results: [] };
    const type = resource.type.toLowerCase();
    const input = body as unknown as EvaluationInput;
    const def = resourceByType(type);
    if (def) {
      const { id: _id, ...noId } = resource;
      const t = await this.az.target(subject, { ...input, resource: noId });
      const d = await this.az.decide(subject, t);
      if (!d.allowed || t.organizationId === null) {
        return { page: { next_token: "", count: 0, total: 0 }, results: [] };
      }
      const { ids, total } = await new RecordsRepository(this.db, def.table).ids(
        {
          organizationId: t.organizationId,
          // A shared resource is read organization-wide (as its REST list is).
          scope: def.source.shared && t.action === "read" ? "all" : d.scope,
          userId: subject.access.id,
        },
        { skip: offset, limit },
      );
      const next = offset + ids.length < total ? makeToken(body, offset + ids.length) : "";
      return {
        page: { next_token: next, count: ids.length, total },
        results: ids.map((id) => ({ type: def.type, id: String(id) })),
      };
    }
    // Only modules and record types are searchable; any other type has no results.
    if (type !== "module") return { page: { next_token: "", count: 0, total: 0 }, results: [] };
    const name = String((input.action as { name?: unknown } | undefined)?.name ?? "");
    const dotted = /^([a-z][a-z0-9]*)[.:]/.exec(name.toLowerCase());
    const candidates = dotted ? [dotted[1]] : [...ALL_MODULES];
    const allowed: string[] = [];
    for (const m of candidates) {
      const out = await this.az.evaluate(caller, { ...input, resource: { type: "module", id: m } }).catch(
        () => null,
      );
      if (out?.decision) allowed.push(normalizeModule(m));
    }
    const slice = allowed.slice(offset, offset + limit);
    const next = offset + slice.length < allowed.length ? makeToken(body, offset + slice.length) : "";
    return {
      page: { next_token: next, count: slice.length, total: allowed.length },
      results: slice.map((m) => ({ type: "module", id: m })),
    };
  }

  /** Actions the subject may perform on the resource. */
  async actions(caller: Caller, body: Record<string, unknown>): Promise<SearchOut> {
    const found = await this.#subjectAndResource(caller, body);
    if (!found) return none();
    const { resource } = found;
    const type = resource.type.toLowerCase();
    const def = resourceByType(type);
    const module = def
      ? def.module
      : type === "module"
      ? normalizeModule(String(resource.id ?? ""))
      : type === "organization"
      ? "organization"
      : null;
    if (!module) return none();
    const page = body.page as PageIn | undefined;
    const limit = limitOf(page);
    const offset = readToken(body, page);
    if (limit === 0) return { page: { next_token: "", count: 0 }, results: [] };
    // The module's actions from the action catalog: nothing else can ever be allowed.
    const allowed: string[] = [];
    for (const a of catalogActions(module)) {
      const out = await this.az.evaluate(caller, {
        subject: body.subject as Entity,
        action: { name: `${module}.${a}` },
        resource,
        context: body.context as Record<string, unknown> | undefined,
      });
      if (out.decision) allowed.push(`${module}.${a}`);
    }
    const slice = allowed.slice(offset, offset + limit);
    const next = offset + slice.length < allowed.length ? makeToken(body, offset + slice.length) : "";
    return {
      page: { next_token: next, count: slice.length, total: allowed.length },
      results: slice.map((name) => ({ name })),
    };
  }
}

/** A page token's bytes; refuses anything but base64url without padding (what `next_token` is). */
function decodePageToken(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  return base64url.decode(text);
}
