/**
 * Snapshot caches around the loader, valid for one security version. Every
 * lookup first obtains a version read that started after the request arrived
 * (`VersionGate`); a different version than the one the cache was filled at
 * empties it. Entries are promises, so concurrent misses share one load.
 */
import type { Database } from "../db/client.ts";
import type { Logger } from "../log.ts";
import type { AccessOrganization } from "./decide.ts";
import { AccessLoader, type UserSnapshot } from "./loader.ts";
import { securityVersionReader, VersionGate } from "./version.ts";

const MAX_ENTRIES = 50_000;

export class AccessCache {
  readonly loader: AccessLoader;
  readonly gate: VersionGate;
  #version = -1;
  #users = new Map<number, Promise<UserSnapshot | null>>();
  #orgs = new Map<number, Promise<AccessOrganization | null>>();
  /** Loads performed (for tests and the bench: a warm cache performs none). */
  loads = 0;

  constructor(db: Database, logger: Logger) {
    this.loader = new AccessLoader(db, logger);
    this.gate = new VersionGate(securityVersionReader(db));
  }

  /** Brings the cache up to the current security version (one coalesced read). */
  async sync(): Promise<number> {
    const v = await this.gate.current();
    this.#apply(v);
    return v;
  }

  #apply(v: number): void {
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
    let p = this.#users.get(id);
    if (!p) {
      if (this.#users.size >= MAX_ENTRIES) this.#users = new Map();
      const users = this.#users;
      this.loads++;
      p = this.loader.loadUser(id);
      users.set(id, p);
      p.catch(() => users.delete(id));
    }
    return p;
  }

  /** An organization's snapshot at the synced version. */
  organization(id: number): Promise<AccessOrganization | null> {
    let p = this.#orgs.get(id);
    if (!p) {
      if (this.#orgs.size >= MAX_ENTRIES) this.#orgs = new Map();
      const orgs = this.#orgs;
      this.loads++;
      p = this.loader.loadOrganization(id);
      orgs.set(id, p);
      p.catch(() => orgs.delete(id));
    }
    return p;
  }
}
