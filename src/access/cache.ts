/**
 * Snapshot caches around the loader, valid for one security version. Every
 * lookup first obtains a version read that started after the request arrived
 * (`VersionGate`); a newer version than the one the cache was filled at
 * empties it (with ACCESS_FRESHNESS=lease the lease stands in for the read
 * while it holds) — unless nothing but revocations (logouts, "revoke all")
 * happened since: then the snapshots stay and every cached user's token
 * state is re-read in one query. That is known by reading the version and
 * the revocation count together: each revocation bumps both by one in its
 * transaction, so the version moved by exactly as much as the count only
 * when every bump in between was a revocation. Entries are promises, so
 * concurrent misses share one load.
 * Story: docs/freshness.md ("Immediate effect on every replica").
 */
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { AccessOrganization } from "./decide.ts";
import { AccessLoader, type UserSnapshot } from "./loader.ts";
import type { LeaseReplica } from "./lease.ts";
import { securityVersionReader, VersionGate } from "./version.ts";
import { loadAllRevocations, readVersions } from "../auth/revocation.ts";

const NO_REVOCATIONS = { revokedBefore: 0, revoked: new Set<string>() } as const;

const MAX_ENTRIES = 50_000;

export class AccessCache {
  readonly loader: AccessLoader;
  readonly gate: VersionGate;
  /** Set with ACCESS_FRESHNESS=lease (see lease.ts). */
  lease: LeaseReplica | undefined;
  #version = -1;
  /** The revocation count read with `#version`. */
  #revocations = -1;
  /** The move to a newer version in progress. */
  #moving: Promise<number> | null = null;
  /** Version moves that kept the snapshots (only revocations had happened). */
  revocationRefreshes = 0;
  #users = new Map<number, Entry<UserSnapshot | null>>();
  #orgs = new Map<number, Entry<AccessOrganization | null>>();
  /** Loads performed (for tests and the bench: a warm cache performs none). */
  loads = 0;

  readonly #db: Database;

  constructor(db: Database, logger: Logger) {
    this.#db = db;
    this.loader = new AccessLoader(db, logger);
    this.gate = new VersionGate(securityVersionReader(db));
  }

  /**
   * Brings the cache up to the current security version: the lease's version while it holds
   * (ACCESS_FRESHNESS=lease), else one coalesced read. Versions only grow: one at or below the cache's
   * (a lease a poll behind the cache's own read) needs nothing.
   */
  async sync(): Promise<number> {
    const leased = this.lease?.version();
    const v = leased !== undefined ? leased : await this.gate.current();
    if (v <= this.#version) return this.#version;
    return await this.#moveTo(v);
  }

  /** Moves the cache to version `v` or later (one move at a time; see the module comment). */
  #moveTo(v: number): Promise<number> {
    const moving = this.#moving;
    if (moving) return moving.then((now) => (now >= v ? now : this.#moveTo(v)));
    const from = this.#version;
    const fromRevocations = this.#revocations;
    const users = this.#users;
    const p = (async () => {
      const now = await readVersions(this.#db);
      let kept = false;
      if (from >= 0 && now.version - from === now.revocations - fromRevocations) {
        // Only revocations since: the same snapshots, every token state re-read (one query).
        const states = await loadAllRevocations(this.#db);
        const next = new Map<number, Entry<UserSnapshot | null>>();
        for (const [id, e] of users) {
          if (e.value === undefined) continue;
          const value = e.value && {
            ...e.value,
            tokens: { epoch: e.value.tokens.epoch, ...(states.get(id) ?? NO_REVOCATIONS) },
          };
          next.set(id, { promise: Promise.resolve(value), value });
        }
        // An invalidation in the meantime wins: nothing is kept.
        if (this.#version === from) {
          this.#users = next;
          kept = true;
          this.revocationRefreshes++;
        }
      }
      if (!kept) {
        this.#users = new Map();
        this.#orgs = new Map();
      }
      this.#version = now.version;
      this.#revocations = now.revocations;
      return now.version;
    })().finally(() => {
      if (this.#moving === p) this.#moving = null;
    });
    this.#moving = p;
    return p;
  }

  /**
   * The lease's poll applied version `v`: nothing to do here — the next `sync()` sees the lease's version
   * and moves the cache before any lookup.
   */
  apply(_v: number): void {}

  /** Empties the cache now (this process just committed a change; other replicas see the version bump). */
  invalidate(): void {
    this.#version = -1;
    this.#revocations = -1;
    this.#users = new Map();
    this.#orgs = new Map();
  }

  /** The version the cache is at (-1: none yet). */
  get version(): number {
    return this.#version;
  }

  /** A user's snapshot at the synced version. Call `sync()` first in the same request. */
  user(id: number): Promise<UserSnapshot | null> {
    let e = this.#users.get(id);
    if (!e) {
      if (this.#users.size >= MAX_ENTRIES) this.#users = new Map();
      this.loads++;
      e = entry(this.#users, id, this.loader.loadUser(id));
    }
    return e.promise;
  }

  /** The user's snapshot when it is loaded at the synced version (no await needed), else undefined. */
  loadedUser(id: number): UserSnapshot | null | undefined {
    return this.#users.get(id)?.value;
  }

  /** An organization's snapshot at the synced version. */
  organization(id: number): Promise<AccessOrganization | null> {
    let e = this.#orgs.get(id);
    if (!e) {
      if (this.#orgs.size >= MAX_ENTRIES) this.#orgs = new Map();
      this.loads++;
      e = entry(this.#orgs, id, this.loader.loadOrganization(id));
    }
    return e.promise;
  }

  /** The organization's snapshot when it is loaded at the synced version, else undefined. */
  loadedOrganization(id: number): AccessOrganization | null | undefined {
    return this.#orgs.get(id)?.value;
  }
}

/** A cache entry: the load, and its value once it has arrived (hot paths then skip the await). */
interface Entry<T> {
  promise: Promise<T>;
  value?: T;
}

/** Puts a load in `map`; a failed load leaves the map so the next request retries. */
function entry<T>(map: Map<number, Entry<T>>, id: number, promise: Promise<T>): Entry<T> {
  const e: Entry<T> = { promise };
  map.set(id, e);
  promise.then((v) => (e.value = v), () => {
    if (map.get(id) === e) map.delete(id);
  });
  return e;
}
