/**
 * Service credentials: API keys for gateways and other services (PEPs).
 * An organization admin creates keys for his organization, a platform super
 * admin for the platform (or for an organization he names). The secret
 * (`sbk_` + 32 random bytes, base64url) is shown once; only its SHA-256 is
 * stored (a random 256-bit secret needs no slow hash). Scopes:
 * `access.evaluate` (the AuthZEN API) and `forward-auth` (the gateway check).
 *
 * Must never break: a key is no user — it cannot log in, and a bearer key is
 * refused by every user-token path (it is not a JWT). Revocation (and expiry,
 * scope or organization changes) takes effect on every replica at the next
 * request: the `service_keys` triggers bump the security version, and the
 * key cache lives for one version only (as the access caches do). Expiry is
 * checked on every use. Story: docs/gateway.md ("Service keys").
 */
import { and, desc, eq, isNull, type SQL } from "drizzle-orm";
import { base64url } from "jose";
import type { Database } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { AccessService } from "../access/access_service.ts";
import { unauthenticated } from "../access/access_service.ts";
import type { AuditService } from "../audit/audit.ts";
import { recordServiceKeyRevocation } from "../backups/credentials.ts";

export const SERVICE_KEY_SCOPES = ["access.evaluate", "forward-auth"] as const;
export type ServiceKeyScope = typeof SERVICE_KEY_SCOPES[number];
export const SERVICE_KEY_PREFIX = "sbk_";
const SECRET = /^sbk_[A-Za-z0-9_-]{43}$/;
/** last_used_at is written at most this often per key (one write a minute, not one per request). */
const LAST_USED_EVERY_MS = 60_000;
const CACHE_MAX = 10_000;

/** A key as lists show it (never the secret or its hash). */
export interface ServiceKey {
  id: number;
  organizationId: number | null;
  name: string;
  prefix: string;
  scopes: string[];
  createdById: number | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** True when a bearer credential has the shape of a service key (so no JWT check is wasted on it). */
export function isServiceKeySecret(token: string): boolean {
  return token.startsWith(SERVICE_KEY_PREFIX);
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return SERVICE_KEY_PREFIX + base64url.encode(bytes);
}

/** The bearer secret in an Authorization header, or null. */
export function bearerSecret(authorization: string | undefined): string | null {
  const m = authorization ? /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization) : null;
  return m ? m[1] : null;
}

export class ServiceKeyService {
  #cache = new Map<string, ServiceKey>();
  #version = -1;
  #lastUsedWrites = new Map<number, number>();

  constructor(
    private readonly deps: {
      db: Database;
      access: AccessService;
      audit: AuditService;
      /** Epoch ms (tests pass a fake clock). */
      now?: () => number;
    },
  ) {}

  #now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /**
   * Creates a key; returns it with the secret, which is never shown again.
   * `organizationId` null: a platform key (super admins only).
   */
  async create(
    actor: { id: number; kind: string; organizationId: number | null },
    organizationId: number | null,
    input: { name: string; scopes: string[]; expiresAt?: Date | null },
    requestId?: string,
  ): Promise<{ key: ServiceKey; secret: string }> {
    this.#mayManage(actor, organizationId);
    const scopes = [...new Set(input.scopes)].sort();
    if (input.expiresAt && input.expiresAt.getTime() <= this.#now()) {
      throw new AppError("VALIDATION_ERROR", "expires_at: must be in the future", {
        extra: { errors: [{ field: "expires_at", message: "must be in the future" }] },
      });
    }
    const secret = newSecret();
    const keyHash = await hashSecret(secret);
    const { t } = this.deps.db;
    // A credential is a security change: its audit row goes in its transaction (no audit, no key).
    const row = await this.deps.db.transaction(async (tx) => {
      const [row] = await tx.insert(t.serviceKeys).values({
        organizationId,
        name: input.name,
        prefix: secret.slice(0, 12),
        keyHash,
        scopes,
        createdById: actor.id,
        createdAt: new Date(this.#now()),
        expiresAt: input.expiresAt ?? null,
      }).returning();
      await this.deps.audit.record({
        event: "service_key.created",
        actorUserId: actor.id,
        organizationId,
        target: `service_key:${row.id}`,
        requestId,
        details: { name: input.name, prefix: row.prefix, scopes },
      }, tx);
      return row;
    });
    return { key: toKey(row), secret };
  }

  /** The keys of an organization (or the platform's, for null), newest first. */
  async list(
    actor: { id: number; kind: string; organizationId: number | null },
    organizationId: number | null,
  ): Promise<ServiceKey[]> {
    this.#mayManage(actor, organizationId);
    const { db, t } = this.deps.db;
    const rows = await db.select().from(t.serviceKeys).where(this.#owned(organizationId))
      .orderBy(desc(t.serviceKeys.id));
    return rows.map(toKey);
  }

  /** One key of the organization (404 when it belongs to another). */
  async get(
    actor: { id: number; kind: string; organizationId: number | null },
    organizationId: number | null,
    id: number,
  ): Promise<ServiceKey> {
    this.#mayManage(actor, organizationId);
    const { db, t } = this.deps.db;
    const [row] = await db.select().from(t.serviceKeys).where(
      and(eq(t.serviceKeys.id, id), this.#owned(organizationId)),
    );
    if (!row) throw new AppError("NOT_FOUND", `service key ${id} not found`);
    return toKey(row);
  }

  /** Revokes a key; every replica refuses it from its next request on. Idempotent. */
  async revoke(
    actor: { id: number; kind: string; organizationId: number | null },
    organizationId: number | null,
    id: number,
    requestId?: string,
  ): Promise<ServiceKey> {
    const key = await this.get(actor, organizationId, id);
    if (key.revokedAt) return key;
    const { t } = this.deps.db;
    // The revocation goes into the ledger too, in the same transaction: a restore of a backup taken
    // before it re-applies it, so the key never comes back (src/backups/credentials.ts).
    const row = await this.deps.db.transaction(async (tx) => {
      const [updated] = await tx.update(t.serviceKeys).set({ revokedAt: new Date(this.#now()) })
        .where(eq(t.serviceKeys.id, id)).returning();
      await recordServiceKeyRevocation(
        this.deps.db,
        tx,
        updated as { keyHash: string; prefix: string; revokedAt: Date },
      );
      // In the same transaction: no audit, no revocation (a refused one can be retried; a lost event cannot).
      await this.deps.audit.record({
        event: "service_key.revoked",
        actorUserId: actor.id,
        organizationId,
        target: `service_key:${id}`,
        requestId,
        details: { name: key.name, prefix: key.prefix },
      }, tx);
      return updated;
    });
    // The trigger bumped the security version; under a lease, wait until every replica has applied it.
    await this.deps.access.changed();
    this.#cache.clear();
    return toKey(row);
  }

  /**
   * Authenticates a service key for a scope: the one 401 for anything wrong
   * with it (unknown, revoked, expired, its organization deactivated), 403
   * when it lacks the scope.
   */
  async authenticate(secret: string, scope: ServiceKeyScope): Promise<ServiceKey> {
    if (!SECRET.test(secret)) throw unauthenticated();
    const version = await this.deps.access.cache.sync();
    if (version !== this.#version) {
      this.#cache = new Map();
      this.#version = version;
    }
    const hash = await hashSecret(secret);
    let key = this.#cache.get(hash);
    if (!key) {
      const { db, t } = this.deps.db;
      const [row] = await db.select().from(t.serviceKeys).where(eq(t.serviceKeys.keyHash, hash)).limit(1);
      if (!row) throw unauthenticated();
      key = toKey(row);
      if (this.#cache.size >= CACHE_MAX) this.#cache = new Map();
      this.#cache.set(hash, key);
    }
    const now = this.#now();
    if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) throw unauthenticated();
    if (key.organizationId !== null) {
      const org = await this.deps.access.cache.organization(key.organizationId);
      if (!org || !org.isActive) throw unauthenticated();
    }
    if (!key.scopes.includes(scope)) {
      throw new AppError("FORBIDDEN", `service key ${key.prefix}… lacks the scope ${scope}`, {
        extra: { layer: "tenant", reason: "missing_scope", scope },
      });
    }
    this.#touch(key, now);
    return key;
  }

  /** Records last use, at most once a minute per key per replica, without holding up the request. */
  #touch(key: ServiceKey, now: number): void {
    const last = this.#lastUsedWrites.get(key.id) ?? key.lastUsedAt?.getTime() ?? 0;
    if (now - last < LAST_USED_EVERY_MS) return;
    this.#lastUsedWrites.set(key.id, now);
    const { db, t } = this.deps.db;
    db.update(t.serviceKeys).set({ lastUsedAt: new Date(now) }).where(eq(t.serviceKeys.id, key.id))
      .then(() => {}, () => {/* best effort: a missed last-used time is no failure */});
  }

  #owned(organizationId: number | null): SQL | undefined {
    const t = this.deps.db.t.serviceKeys;
    return organizationId === null ? isNull(t.organizationId) : eq(t.organizationId, organizationId);
  }

  /** Org admins manage their organization's keys; super admins the platform's and any organization's. */
  #mayManage(actor: { kind: string; organizationId: number | null }, organizationId: number | null): void {
    if (actor.kind === "super_admin") return;
    if (actor.kind === "admin" && organizationId !== null && actor.organizationId === organizationId) return;
    throw new AppError(
      "FORBIDDEN",
      organizationId === null
        ? "platform service keys are managed by platform super admins only"
        : "service keys are managed by the organization's admins and platform super admins only",
      { extra: { layer: "rbac", reason: "missing_permission" } },
    );
  }
}

type Row = typeof import("../db/schema.ts").pgSchema.serviceKeys.$inferSelect;
function toKey(r: Row): ServiceKey {
  return {
    id: r.id,
    organizationId: r.organizationId,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes,
    createdById: r.createdById,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    lastUsedAt: r.lastUsedAt,
    revokedAt: r.revokedAt,
  };
}
