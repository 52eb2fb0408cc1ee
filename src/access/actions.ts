/**
 * The action catalog: every module, its actions and its submodules — the one list of what may be asked.
 *
 * The route guard refuses to be built for an action outside it, `decide()` denies anything outside it with
 * reason `unknown_action` (so the AuthZEN evaluation, batch, searches and the evaluation fast path do too),
 * action search lists from it, permission names are accepted only when they name it, and the OpenAPI
 * document publishes it. It must never list an action no route or permission means, and nothing may
 * allow an action it does not list.
 *
 * It is plain data built from the module definitions (`src/tenants/modules.ts`, `src/modules/resources.ts`)
 * by `buildActionCatalog`, so a module registry can feed it later. See docs/access.md ("Action catalog").
 */
import { ALL_MODULES } from "../tenants/modules.ts";
import { RESOURCES } from "../modules/resources.ts";

/** What one module offers. */
export interface ModuleActions {
  /** The module's actions, sorted (`create`, `delete`, `read`, `update`, …). */
  readonly actions: readonly string[];
  /** Submodules with their own permissions (`crm` → `leads`); they take the module's actions. */
  readonly submodules: readonly string[];
}

/** module → its actions and submodules. */
export type ActionCatalog = ReadonlyMap<string, ModuleActions>;

/** A module as its definition declares it (lower-case keys). */
export interface ModuleDeclaration {
  module: string;
  /** Extra actions besides create / read / update / delete. */
  actions?: readonly string[];
  submodules?: readonly string[];
}

/** Every module has these. */
export const CRUD_ACTIONS = ["create", "read", "update", "delete"] as const;

const KEY = /^[a-z][a-z0-9]*$/;
const ACTION = /^[a-z][a-z0-9_]*$/;

/** Builds (and checks) a catalog from module declarations; a module declared twice merges. */
export function buildActionCatalog(declarations: Iterable<ModuleDeclaration>): ActionCatalog {
  const acc = new Map<string, { actions: Set<string>; submodules: Set<string> }>();
  for (const d of declarations) {
    if (!KEY.test(d.module)) {
      throw new Error(`action catalog: module key "${d.module}" is not a lower-case word`);
    }
    const e = acc.get(d.module) ?? { actions: new Set(CRUD_ACTIONS), submodules: new Set() };
    for (const a of d.actions ?? []) {
      if (!ACTION.test(a) || a === "admin") {
        throw new Error(`action catalog: action "${a}" of module ${d.module} is not a lower-case word`);
      }
      e.actions.add(a);
    }
    for (const s of d.submodules ?? []) {
      if (!KEY.test(s)) {
        throw new Error(`action catalog: submodule "${s}" of module ${d.module} is not a word`);
      }
      e.submodules.add(s);
    }
    acc.set(d.module, e);
  }
  const out = new Map<string, ModuleActions>();
  for (const [m, e] of [...acc].sort(([a], [b]) => a.localeCompare(b))) {
    out.set(
      m,
      Object.freeze({
        actions: Object.freeze([...e.actions].sort()),
        submodules: Object.freeze([...e.submodules].sort()),
      }),
    );
  }
  return out;
}

/** Actions some modules have besides CRUD. */
const EXTRA_ACTIONS: Record<string, readonly string[]> = {
  seeders: ["execute"],
  access: ["evaluate"],
};

/** The catalog of this build: every module of `ALL_MODULES`, the submodules of the record resources. */
export const ACTION_CATALOG: ActionCatalog = buildActionCatalog([
  ...ALL_MODULES.map((module) => ({ module, actions: EXTRA_ACTIONS[module] ?? [] })),
  ...RESOURCES.map((r) => ({ module: r.module, submodules: [r.submodule] })),
]);

/** True when the catalog lists `action` for `module` (and `submodule`, when given). Case-sensitive: normalize first. */
export function isCatalogAction(
  module: string,
  action: string,
  submodule?: string,
  catalog: ActionCatalog = ACTION_CATALOG,
): boolean {
  const m = catalog.get(module);
  if (!m || !m.actions.includes(action)) return false;
  return submodule === undefined || m.submodules.includes(submodule);
}

/** The catalog's actions of a module (empty for an unknown module). */
export function catalogActions(module: string, catalog: ActionCatalog = ACTION_CATALOG): readonly string[] {
  return catalog.get(module)?.actions ?? [];
}

/** The catalog's submodules of a module (empty for an unknown module). */
export function catalogSubmodules(
  module: string,
  catalog: ActionCatalog = ACTION_CATALOG,
): readonly string[] {
  return catalog.get(module)?.submodules ?? [];
}

/** The catalog as JSON (module → {actions, submodules}), for the OpenAPI document and docs. */
export function catalogJson(catalog: ActionCatalog = ACTION_CATALOG): Record<string, ModuleActions> {
  return Object.fromEntries(catalog);
}
