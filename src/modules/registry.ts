/**
 * Views of the module registry (`modules/mod.ts`) for the rest of Seedbed: module keys by licensing, the
 * tiers' modules and trials, each module's actions and permission names, and the record resources. Everything that used to list modules or tables by hand reads these instead.
 *
 * Must never break: a registered module is known everywhere at once (schema, routes, permissions,
 * entitlements, AuthZEN, volume data, backups, OpenAPI); a malformed registry fails at import with a
 * message naming the module. Story: docs/modules.md.
 */
import { MODULES } from "../../modules/mod.ts";
import type { Fields, Licensing, ModuleInput, ResourceInput, TierKey } from "./define.ts";
import { camel, DEFAULT_OWNER, snake } from "../db/module_tables.ts";

/** A record resource of a module, with its module and submodule resolved. */
export interface RegistryResource extends ResourceInput {
  /** Key in `db.t` (`crmLeads`). */
  readonly key: string;
  readonly module: string;
  readonly submodule: string;
  readonly path: string;
  readonly fields: Fields;
  /** The record-scope column's property (`ownerId`) and its SQL / JSON name (`owner_id`). */
  readonly ownerKey: string;
  readonly ownerColumn: string;
}

/** A module as the registry serves it. */
export interface RegistryModule {
  readonly key: string;
  readonly description: string;
  readonly licensing: Licensing;
  /** Every action of the module: its CRUD actions (all four unless it says `crud`) and its own (`execute`). */
  readonly actions: readonly string[];
  readonly colonActions: readonly string[];
  readonly actionDescriptions: Readonly<Record<string, string>>;
  readonly resources: readonly RegistryResource[];
}

/** The CRUD actions every module has. */
export const CRUD_ACTIONS = ["read", "create", "update", "delete"] as const;

const WORD = /^[a-z][a-z0-9]*$/;
const SQL_NAME = /^[a-z][a-z0-9_]*$/;

/** Validates and resolves the registry; throws naming the first problem. */
export function resolveRegistry(input: readonly ModuleInput[]): RegistryModule[] {
  const keys = new Set<string>();
  const tables = new Set<string>();
  const types = new Set<string>();
  const paths = new Set<string>();
  return input.map((m) => {
    const where = `module "${m.key}"`;
    if (!WORD.test(m.key)) {
      throw new Error(`${where}: a key is one lower-case word (letters and digits), e.g. "restaurants"`);
    }
    if (keys.has(m.key)) throw new Error(`${where} is registered twice (modules/mod.ts)`);
    keys.add(m.key);
    const l = m.licensing;
    if (typeof l === "object" && l.tiers.length === 0 && !Object.keys(l.trials ?? {}).length) {
      throw new Error(`${where}: a licensed module needs at least one tier or trial`);
    }
    const actions = [...new Set([...(m.crud ?? CRUD_ACTIONS), ...(m.actions ?? [])])];
    for (const a of actions) if (!WORD.test(a)) throw new Error(`${where}: action "${a}" is not one word`);
    for (const a of m.colonActions ?? []) {
      if (!actions.includes(a)) throw new Error(`${where}: colon action "${a}" is not one of its actions`);
    }
    const resources = Object.entries(m.resources ?? {}).map(([submodule, r]): RegistryResource => {
      const at = `${where}, resource ${submodule}`;
      if (!WORD.test(submodule)) throw new Error(`${at}: a submodule is one lower-case word`);
      if (!SQL_NAME.test(r.table)) throw new Error(`${at}: table "${r.table}" is not a snake_case name`);
      if (tables.has(r.table)) throw new Error(`${at}: table ${r.table} is declared twice`);
      tables.add(r.table);
      if (types.has(r.type)) throw new Error(`${at}: AuthZEN type ${r.type} is declared twice`);
      types.add(r.type);
      const path = r.path ?? `/api/v1/${m.key}/${submodule}`;
      if (paths.has(path)) throw new Error(`${at}: path ${path} is served twice`);
      paths.add(path);
      const ownerKey = r.owner ?? DEFAULT_OWNER;
      if (!/^[a-z][a-zA-Z0-9]*$/.test(ownerKey)) {
        throw new Error(`${at}: owner "${ownerKey}" is not a camelCase property (e.g. "assigneeId")`);
      }
      const taken = new Set(["id", "organizationId", "createdAt", "updatedAt"].map(snake));
      for (const p of Object.keys(r.fields)) taken.add(snake(p));
      if (taken.has(snake(ownerKey))) {
        throw new Error(`${at}: owner ${snake(ownerKey)} is already a column (declare it only as the owner)`);
      }
      if (r.demo && !r.unique?.length) {
        throw new Error(`${at}: demo rows need a unique key (unique) to be found again on a re-run`);
      }
      if (r.volume && !r.unique?.length && r.volumeKey === undefined) {
        throw new Error(
          `${at}: volume rows need a unique key (unique) or a volumeKey (a text field carrying VOL-<serial(i)>), or a second --scale run adds them again`,
        );
      }
      if (r.volumeKey !== undefined && r.fields[r.volumeKey]?.spec.kind !== "text") {
        throw new Error(`${at}: volumeKey ${r.volumeKey} is no text field`);
      }
      if (r.volumeKey !== undefined && !r.volume) {
        throw new Error(`${at}: volumeKey without a volume factory`);
      }
      for (const [p, f] of Object.entries(r.fields)) {
        const kind = f.spec.kind;
        if (
          (kind === "ref" || kind === "user") && f.spec.notNull &&
          (f.spec.onDelete ?? "set null") === "set null"
        ) {
          throw new Error(
            `${at}: ${
              snake(p)
            } is required (notNull) but would be set to null when what it references is deleted: give ${kind}() "cascade" or "restrict"`,
          );
        }
      }
      for (const u of r.unique ?? []) {
        for (const c of u.columns) {
          if (!(c in r.fields) && c !== ownerKey) throw new Error(`${at}: unique column ${c} is no field`);
        }
      }
      return {
        ...r,
        key: camel(r.table),
        module: m.key,
        submodule,
        path,
        ownerKey,
        ownerColumn: snake(ownerKey),
      };
    });
    return {
      key: m.key,
      description: m.description ?? m.key,
      licensing: l,
      actions,
      colonActions: m.colonActions ?? [],
      actionDescriptions: m.actionDescriptions ?? {},
      resources,
    };
  });
}

/** Every registered module, in registry order. */
export const REGISTRY: readonly RegistryModule[] = resolveRegistry(MODULES as readonly ModuleInput[]);

const keysWhere = (p: (l: Licensing) => boolean) => REGISTRY.filter((m) => p(m.licensing)).map((m) => m.key);

/** Always on for every organization, whatever its tier. */
export const ALWAYS_ON_MODULES: readonly string[] = keysWhere((l) => l === "always_on");
/** Not license-gated: access is decided by RBAC alone. */
export const RBAC_ONLY_MODULES: readonly string[] = keysWhere((l) => l === "rbac_only");
/** License-gated modules. */
export const LICENSED_MODULES: readonly string[] = keysWhere((l) => typeof l === "object");
/** Every module key: always-on, RBAC-only, then licensed. */
export const ALL_MODULES: readonly string[] = [
  ...ALWAYS_ON_MODULES,
  ...RBAC_ONLY_MODULES,
  ...LICENSED_MODULES,
];

/** The licensed modules a tier includes, and the ones it offers as trials (module → days). */
export function tierModules(tier: TierKey): { modules: string[]; trialModules: Record<string, number> } {
  const modules: string[] = [];
  const trialModules: Record<string, number> = {};
  for (const m of REGISTRY) {
    if (typeof m.licensing !== "object") continue;
    if (m.licensing.tiers.includes(tier)) modules.push(m.key);
    const days = m.licensing.trials?.[tier];
    if (days !== undefined) trialModules[m.key] = days;
  }
  return { modules, trialModules };
}

/** The module of a key, if registered. */
export function moduleByKey(key: string): RegistryModule | undefined {
  return REGISTRY.find((m) => m.key === key);
}

/** Every action of a module (empty for an unknown module). */
export function moduleActions(key: string): readonly string[] {
  return moduleByKey(key)?.actions ?? [];
}

/** Every record resource of every module, in registry order (references before referrers). */
export const REGISTRY_RESOURCES: readonly RegistryResource[] = REGISTRY.flatMap((m) => m.resources);
