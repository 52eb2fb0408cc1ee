/**
 * The action catalog: every module, its actions and its submodules — the one list of what may be asked.
 *
 * The route guard refuses to be built for an action outside it, `decide()` denies anything outside it with
 * reason `unknown_action` (so the AuthZEN evaluation, batch, searches and the evaluation fast path do too),
 * action search lists from it, permission names are accepted only when they name it, and the OpenAPI
 * document publishes it. It must never list an action no route or permission means, and nothing may
 * allow an action it does not list.
 *
 * It is plain data built by `buildActionCatalog` from the module registry (`modules/mod.ts`: each module
 * declares its actions and record resources). Story: docs/access.md ("Action catalog").
 */
import { REGISTRY } from "../modules/registry.ts";

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
  /** Which CRUD actions the module has (default all four). */
  crud?: readonly string[];
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
    const e = acc.get(d.module) ?? { actions: new Set(d.crud ?? CRUD_ACTIONS), submodules: new Set() };
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

/** The catalog of this build: every registered module, its actions, its record resources as submodules. */
export const ACTION_CATALOG: ActionCatalog = buildActionCatalog(
  REGISTRY.map((m) => ({
    module: m.key,
    actions: m.actions,
    crud: m.actions.filter((a) => (CRUD_ACTIONS as readonly string[]).includes(a)),
    submodules: m.resources.map((r) => r.submodule),
  })),
);

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

/**
 * The permission that grants `action` on `module`, spelled as the permission catalog spells it: seed 002's
 * colon form where the module declares it (`roles:read`, `seeders:execute`), else `module.action`
 * (`crm.read`). Denial details name it so that it can be looked up in the catalog as written.
 */
export function permissionFor(module: string, action: string): string {
  const m = REGISTRY.find((r) => r.key === module);
  return m?.colonActions.includes(action) ? `${module}:${action}` : `${module}.${action}`;
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

/**
 * Why a parsed permission names nothing of the catalog (an unknown module, action or submodule), or null
 * when it is a catalog permission: `module.*` / `module_admin` of a catalog module, `module.action` of one of
 * its actions, `module_submodule_action` of one of its submodules. Tenants can only grant these, so the
 * global permission rows never hold invented names (finding 8).
 */
export function catalogPermissionProblem(
  g: { kind: "module" | "action" | "submodule"; module: string; action?: string; submodule?: string },
  catalog: ActionCatalog = ACTION_CATALOG,
): string | null {
  const m = catalog.get(g.module);
  if (!m) return `unknown module "${g.module}"`;
  if (g.kind === "submodule" && !m.submodules.includes(g.submodule!)) {
    return `module ${g.module} has no submodule "${g.submodule}"${
      m.submodules.length ? ` (submodules: ${m.submodules.join(", ")})` : ""
    }`;
  }
  if (g.kind !== "module" && !m.actions.includes(g.action!)) {
    return `module ${g.module} has no action "${g.action}" (actions: ${m.actions.join(", ")})`;
  }
  return null;
}
