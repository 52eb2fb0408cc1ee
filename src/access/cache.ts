/**
 * Snapshot caches around the loader, valid for one security version. Every
 * lookup first obtains a version read that started after the request arrived
 * (`VersionGate`); a different version than the one the cache was filled at
 * empties it (with ACCESS_FRESHNESS=lease the lease stands in for the read
 * while it holds). Entries are promises, so concurrent misses share one load.
 */
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { AccessOrganization } from "./decide.ts";
import { AccessLoader, type UserSnapshot } from "./loader.ts";
import type { LeaseReplica } from "./lease.ts";
import { securityVersionReader, VersionGate } from "./version.ts";

const MAX_ENTRIES = 50_000;

export class AccessCache {
  readonly loader: AccessLoader;
  readonly gate: VersionGate;
  /** Set with ACCESS_FRESHNESS=lease (see lease.ts). */
  lease: LeaseReplica | undefined;
  #version = -1;
  #users = new Map<number, Entry<UserSnapshot | null>>();
  #orgs = new Map<number, Entry<AccessOrganization | null>>();
  /** Loads performed (for tests and the bench: a warm cache performs none). */
  loads = 0;

  constructor(db: Database, logger: Logger) {
    this.loader = new AccessLoader(db, logger);
    this.gate = new VersionGate(securityVersionReader(db));
  }

  /**
   * Brings the cache up to the current security version: the lease's version while it holds
   * (ACCESS_FRESHNESS=lease), else one coalesced read.
   */
  async sync(): Promise<number> {
    const leased = this.lease?.version();
    const v = leased !== undefined ? leased : await this.gate.current();
    this.apply(v);
    return v;
  }

  /** Brings the cache to version `v` (a different one empties it). */
  apply(v: number): void {
    if (v !== this.#version) {
      this.#users = new Map();
      this.#orgs = new Map();
      this.#version = v;
    }
  }

  /** Empties the cache now (this process just committed a change; other replicas see the version bump). */
  invalidate(): void {
    this.#version = -1;
    this.#users = new Map();
    this.#orgs = new Map();
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
