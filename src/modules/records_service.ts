/**
 * Business records of the registered modules: scoped reads and writes. The
 * organization and record scope come from the guard (`c.var.auth`); the
 * repository puts them in every query. A shared resource (restaurants, menus)
 * is read organization-wide; writes always stay within the caller's scope.
 * A reference field (`ref()`, `user()`) must name a record of the same
 * organization inside the caller's scope, or an active member: never another
 * tenant's row (422 naming the field). A delete takes along only referencing records the caller could
 * delete or change himself (else 409). Story: docs/modules.md ("What a module declares").
 */
import { base64url } from "jose";
import type { Database } from "../db/client.ts";
import { AppError, notFound } from "../errors.ts";
import type { AuthContext } from "../http/types.ts";
import {
  type Dependent,
  type Page,
  type RecordScope,
  RecordsRepository,
  type RecordTableKey,
} from "./records_repository.ts";
import { REGISTRY_RESOURCES } from "./registry.ts";
import { UsersRepository } from "../users/users_repository.ts";
import type { AccessService } from "../access/access_service.ts";
import { snake } from "../db/module_tables.ts";
import { fromJson, type ResourceDef, toJson } from "./resources.ts";
import { MAX_INT32 } from "../http/input_rules.ts";

/** A list cursor: opaque to clients (base64url of `{"a": <last id>}`). */
export function encodeCursor(after: number): string {
  return base64url.encode(JSON.stringify({ a: after }));
}

/** The position a cursor names; 400 naming the parameter when it is not one of ours. */
export function decodeCursor(cursor: string): number {
  try {
    const v = JSON.parse(new TextDecoder().decode(base64url.decode(cursor))) as { a?: unknown };
    if (Number.isSafeInteger(v.a) && (v.a as number) >= 0 && (v.a as number) <= MAX_INT32) {
      return v.a as number;
    }
  } catch { /* reported below */ }
  throw new AppError("BAD_REQUEST", "cursor: not a cursor of this API (pass a list's next_cursor unchanged)");
}

export class RecordsService {
  readonly repo: RecordsRepository;
  /** Owners and `user()` fields must name active members of the organization. */
  readonly users: UsersRepository;
  /** `access`: to hold a reference to what the caller may read (without it, only the organization counts). */
  constructor(
    private readonly db: Database,
    readonly def: ResourceDef,
    private readonly access: AccessService,
  ) {
    this.repo = new RecordsRepository(db, def.table);
    this.users = new UsersRepository(db);
  }

  /** The repository scope of a guarded request. */
  static scopeOf(auth: AuthContext): RecordScope {
    if (auth.organizationId === null) {
      throw new AppError(
        "BAD_REQUEST",
        "this route acts on an organization: name one with X-Organization-Id",
      );
    }
    return { organizationId: auth.organizationId, scope: auth.scope ?? "own", userId: auth.user.id };
  }

  /** The scope reads run in: organization-wide for a shared resource. */
  #readScope(auth: AuthContext): RecordScope {
    const s = RecordsService.scopeOf(auth);
    return this.def.source.shared ? { ...s, scope: "all" } : s;
  }

  /**
   * A page: `skip`/`limit` as the seeds' clients use them, or `cursor` (a previous page's `next_cursor`)
   * for keyset paging that costs the same on any page. `total` is exact up to TOTAL_CAP unless
   * `total=exact` asks for a full count (`total_exact` says which).
   */
  async list(
    auth: AuthContext,
    q: { skip: number; limit: number; cursor?: string; total?: "exact" | "bounded" },
  ) {
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (after !== undefined && q.skip > 0) {
      throw new AppError(
        "BAD_REQUEST",
        "skip and cursor: use one of them (the cursor already says where to go on)",
      );
    }
    const page: Page = { skip: q.skip, limit: q.limit, after, exactTotal: q.total === "exact" };
    const scope = this.#readScope(auth);
    // The items as JSON straight from the driver's rows; Drizzle's rows and toJson where it has none.
    let fast = await this.repo.listJson(scope, page);
    if (fast === undefined) {
      const r = await this.repo.list(scope, page);
      fast = { ...r, items: r.items.map(toJson) };
    }
    const { items, total, totalExact, nextAfter } = fast;
    return {
      items,
      total,
      total_exact: totalExact,
      skip: page.skip,
      limit: page.limit,
      next_cursor: nextAfter === null ? null : encodeCursor(nextAfter),
    };
  }

  async get(auth: AuthContext, id: number) {
    const scope = this.#readScope(auth);
    const fast = await this.repo.getJson(scope, id);
    const row = fast !== undefined ? fast : await this.repo.get(scope, id).then((r) => r && toJson(r));
    if (!row) throw notFound(`${this.def.noun} ${id}`);
    return row;
  }

  async create(auth: AuthContext, body: Record<string, unknown>) {
    const s = RecordsService.scopeOf(auth);
    const values = fromJson(body, this.def);
    const { ownerKey, ownerColumn } = this.def.source;
    if (values[ownerKey] === undefined && auth.user.organizationId !== s.organizationId) {
      // A platform super admin is no member of the organization: he names the owner.
      throw new AppError(
        "VALIDATION_ERROR",
        `${ownerColumn}: required when a platform super admin creates a record`,
        {
          extra: { errors: [{ field: ownerColumn, message: "required for platform super admins" }] },
        },
      );
    }
    values[ownerKey] = await this.#owner(s, (values[ownerKey] as number | undefined) ?? auth.user.id);
    await this.#references(auth, s, values);
    return toJson(await this.repo.insert(s, values));
  }

  async update(auth: AuthContext, id: number, body: Record<string, unknown>) {
    const s = RecordsService.scopeOf(auth);
    const values = fromJson(body, this.def);
    const { ownerKey } = this.def.source;
    if (values[ownerKey] !== undefined) values[ownerKey] = await this.#owner(s, values[ownerKey] as number);
    await this.#references(auth, s, values);
    const row = await this.repo.update(s, id, values);
    if (!row) throw notFound(`${this.def.noun} ${id}`);
    return toJson(row);
  }

  /**
   * Deletes a record in the caller's scope. Records that reference it go with it (cascade) or lose the
   * reference (`set null`) only where the caller could delete or update them himself (permission and record
   * scope on their module); otherwise the delete is refused (409), as a user who owns records is: chef 1
   * cannot take chef 2's menus down with his restaurant.
   */
  async delete(auth: AuthContext, id: number) {
    const s = RecordsService.scopeOf(auth);
    // The caller's scope on every table the delete could reach (the menus, their dishes…), decided first.
    const scopes = new Map<string, RecordScope | null>();
    const visit = async (deps: readonly Dependent[]) => {
      for (const d of deps) {
        const key = `${d.key}.${d.prop}`;
        if (scopes.has(key)) continue;
        const scope = await this.#scopeOn(auth, s, d, d.onDelete === "cascade" ? "delete" : "update");
        scopes.set(key, scope === null ? null : { ...s, scope });
        if (d.onDelete === "cascade") {
          await visit(new RecordsRepository(this.db, d.key as RecordTableKey).referencedBy);
        }
      }
    };
    await visit(this.repo.referencedBy);
    const outcome = await this.repo.delete(s, id, (d) => scopes.get(`${d.key}.${d.prop}`) ?? null);
    if (outcome === null) throw notFound(`${this.def.noun} ${id}`);
    if (outcome !== "deleted") {
      if (!outcome.length) {
        throw new AppError("CONFLICT", `${this.def.noun} ${id}: its references kept changing; try again`);
      }
      // Only modules the caller may read are named; the others are "other records".
      const named = async (reason: "restrict" | "scope") => {
        const tables = outcome.filter((b) => b.reason === reason).map((b) => b.table);
        const readable: string[] = [];
        for (const table of tables) {
          const r = REGISTRY_RESOURCES.find((r) => r.table === table);
          if (r && await this.#scopeOn(auth, s, r, "read") !== null) readable.push(table);
        }
        const words = [...readable, ...(readable.length < tables.length ? ["other"] : [])].join(", ");
        return { readable, words, any: tables.length > 0 };
      };
      const required = await named("restrict");
      const scoped = await named("scope");
      const why = [
        required.any
          ? `held by ${required.words} records with a required reference to it or to records deleted with it`
          : "",
        scoped.any ? `referenced by ${scoped.words} records you may not delete or change` : "",
      ].filter(Boolean).join(", and ");
      throw new AppError(
        "CONFLICT",
        `${this.def.noun} ${id} is ${why}: delete or move them first`,
        { extra: { referenced_by: [...required.readable, ...scoped.readable] } },
      );
    }
  }

  /**
   * Every reference field set in `values` must name a record the caller could GET: of the organization,
   * of a module he may read (permission and entitlement) and inside his record scope there — else he
   * could probe which ids exist, or hang his records on ones he cannot see.
   */
  async #references(auth: AuthContext, s: RecordScope, values: Record<string, unknown>) {
    for (const [prop, f] of Object.entries(this.def.source.fields)) {
      const id = values[prop];
      if (id === undefined || id === null) continue;
      const field = snake(prop);
      let found: boolean;
      if (f.spec.kind === "user") {
        found = await this.users.isActiveMember(id as number, s.organizationId);
      } else if (f.spec.kind === "ref") {
        const target = REGISTRY_RESOURCES.find((r) => r.table === f.spec.references)!;
        const scope = await this.#scopeOn(auth, s, target, "read");
        found = scope !== null &&
          (await new RecordsRepository(this.db, target.key as RecordTableKey).get(
              { ...s, scope: target.shared ? "all" : scope },
              id as number,
            )) !== null;
      } else continue;
      if (!found) {
        const what = f.spec.kind === "user" ? "an active user of the organization" : f.spec.references!;
        throw new AppError(
          "VALIDATION_ERROR",
          `${field}: ${id} is not ${f.spec.kind === "user" ? what : `a record of ${what} you can see`}`,
          {
            extra: {
              errors: [{
                field,
                message: `no such ${f.spec.kind === "user" ? "user" : "record"} in the organization`,
              }],
            },
          },
        );
      }
    }
  }

  /** The caller's record scope for `action` on a resource's module; null when he may not. */
  async #scopeOn(
    auth: AuthContext,
    s: RecordScope,
    target: { module: string; submodule: string },
    action: "read" | "update" | "delete",
  ): Promise<RecordScope["scope"] | null> {
    const user = await this.access.user(auth.user.id);
    if (!user) return null;
    const d = await this.access.evaluate(user, {
      module: target.module,
      action,
      submodule: target.submodule,
      organizationId: s.organizationId,
    });
    return d.allowed ? d.scope : null;
  }

  /** An owner must be an active user of the organization inside the caller's scope. */
  async #owner(s: RecordScope, ownerId: number): Promise<number> {
    if (!(await this.users.isActiveMember(ownerId, s.organizationId, s))) {
      throw new AppError(
        "FORBIDDEN",
        `${this.def.source.ownerColumn} ${ownerId} is not an active user inside your ${s.scope} record scope`,
        {
          extra: { layer: "record", reason: "record_out_of_scope" },
        },
      );
    }
    return ownerId;
  }
}
