/**
 * Business records of the demo modules: scoped reads and writes. The
 * organization and record scope come from the guard (`c.var.auth`); the
 * repository puts them in every query.
 */
import { and, eq, or } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { AppError, notFound } from "../errors.ts";
import type { AuthContext } from "../http/types.ts";
import { type Page, type RecordScope, RecordsRepository } from "./records_repository.ts";
import { fromJson, type ResourceDef, toJson } from "./resources.ts";

export class RecordsService {
  readonly repo: RecordsRepository;
  constructor(private readonly db: Database, readonly def: ResourceDef) {
    this.repo = new RecordsRepository(db, def.table);
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

  async list(auth: AuthContext, page: Page) {
    const { items, total } = await this.repo.list(RecordsService.scopeOf(auth), page);
    return { items: items.map(toJson), total, skip: page.skip, limit: page.limit };
  }

  async get(auth: AuthContext, id: number) {
    const row = await this.repo.get(RecordsService.scopeOf(auth), id);
    if (!row) throw notFound(`${this.def.noun} ${id}`);
    return toJson(row);
  }

  async create(auth: AuthContext, body: Record<string, unknown>) {
    const s = RecordsService.scopeOf(auth);
    const values = fromJson(body, this.def);
    if (values.ownerId === undefined && auth.user.organizationId !== s.organizationId) {
      // A platform super admin is no member of the organization: he names the owner.
      throw new AppError(
        "VALIDATION_ERROR",
        "owner_id: required when a platform super admin creates a record",
        {
          extra: { errors: [{ field: "owner_id", message: "required for platform super admins" }] },
        },
      );
    }
    values.ownerId = await this.#owner(s, (values.ownerId as number | undefined) ?? auth.user.id);
    return toJson(await this.repo.insert(s, values));
  }

  async update(auth: AuthContext, id: number, body: Record<string, unknown>) {
    const s = RecordsService.scopeOf(auth);
    const values = fromJson(body, this.def);
    if (values.ownerId !== undefined) values.ownerId = await this.#owner(s, values.ownerId as number);
    const row = await this.repo.update(s, id, values);
    if (!row) throw notFound(`${this.def.noun} ${id}`);
    return toJson(row);
  }

  async delete(auth: AuthContext, id: number) {
    if (!(await this.repo.delete(RecordsService.scopeOf(auth), id))) throw notFound(`${this.def.noun} ${id}`);
  }

  /** An owner must be an active user of the organization inside the caller's scope. */
  async #owner(s: RecordScope, ownerId: number): Promise<number> {
    const u = this.db.t.users;
    const scopeCond = s.scope === "own"
      ? eq(u.id, s.userId)
      : s.scope === "team"
      ? or(eq(u.id, s.userId), eq(u.reportsToId, s.userId))
      : undefined;
    const [row] = await this.db.db.select({ id: u.id }).from(u).where(
      and(eq(u.id, ownerId), eq(u.organizationId, s.organizationId), eq(u.isActive, true), scopeCond),
    ).limit(1);
    if (!row) {
      throw new AppError(
        "FORBIDDEN",
        `owner_id ${ownerId} is not an active user inside your ${s.scope} record scope`,
        {
          extra: { layer: "record", reason: "record_out_of_scope" },
        },
      );
    }
    return ownerId;
  }
}
