/**
 * The permission grammar.
 *
 * - `module.action`   e.g. `crm.read`            (seed 002's colon form `users:create` means the same)
 * - `module.*`        every action of a module  (`crm:*` too)
 * - `module_admin`    the module's admin: same reach as `module.*`
 * - `module_sub_action` a submodule permission such as `crm_leads_read` (executives)
 *
 * Names are case-insensitive (normalized to lower case). Anything else —
 * `crm-read`, `crm read`, `crm`, `crm.` — is malformed.
 * Story: docs/access.md ("Layer 3 — RBAC and record scope").
 */
import { validation } from "../errors.ts";

const WORD = "[a-z][a-z0-9]*";
const ACTION = "[a-z][a-z0-9_]*";
const DOTTED = new RegExp(`^(${WORD})[.:](${ACTION}|\\*)$`);
const ADMIN = new RegExp(`^(${WORD})_admin$`);
const SUBMODULE = new RegExp(`^(${WORD})_(${WORD})_(${WORD})$`);

export type Grant =
  /** Every action of the module (`module.*`, `module_admin`). */
  | { kind: "module"; module: string; name: string }
  /** One action of the module, any submodule (`module.action`). */
  | { kind: "action"; module: string; action: string; name: string }
  /** One action of one submodule (`module_sub_action`). */
  | { kind: "submodule"; module: string; submodule: string; action: string; name: string };

/** Parses a permission name; null when it is malformed. */
export function parsePermission(raw: string): Grant | null {
  const name = raw.trim().toLowerCase();
  let m = DOTTED.exec(name);
  if (m) {
    return m[2] === "*"
      ? { kind: "module", module: m[1], name: `${m[1]}.*` }
      : { kind: "action", module: m[1], action: m[2], name: `${m[1]}.${m[2]}` };
  }
  m = ADMIN.exec(name);
  if (m) return { kind: "module", module: m[1], name: `${m[1]}_admin` };
  m = SUBMODULE.exec(name);
  if (m) return { kind: "submodule", module: m[1], submodule: m[2], action: m[3], name };
  return null;
}

/** The canonical spelling of a permission (`users:create` → `users.create`); throws 422 when malformed. */
export function normalizePermission(raw: string): string {
  return requirePermission(raw).name;
}

/** Parses a permission or throws a 422 naming the value and the accepted forms. */
export function requirePermission(raw: string, field = "permission"): Grant {
  const g = typeof raw === "string" ? parsePermission(raw) : null;
  if (!g) {
    throw validation(
      `${field}: "${raw}" is not a valid permission; use module.action, module.*, module_admin or module_submodule_action (e.g. crm.read, crm.*, crm_admin, crm_leads_read)`,
      { errors: [{ field, message: `malformed permission "${raw}"` }] },
    );
  }
  return g;
}

/**
 * A set of grants compiled for constant-time checks: `crm.*`, `crm.read`,
 * `crm.leads.read` keys in one Set.
 */
export class GrantSet {
  readonly keys: ReadonlySet<string>;
  readonly names: readonly string[];
  constructor(grants: Iterable<Grant>) {
    const keys = new Set<string>();
    const names = new Set<string>();
    for (const g of grants) {
      names.add(g.name);
      if (g.kind === "module") keys.add(`${g.module}.*`);
      else if (g.kind === "action") keys.add(`${g.module}.${g.action}`);
      else keys.add(`${g.module}.${g.submodule}.${g.action}`);
    }
    this.keys = keys;
    this.names = [...names].sort();
  }

  /** Builds a set from permission names, skipping malformed ones (reported through `onInvalid`). */
  static fromNames(names: Iterable<string>, onInvalid?: (name: string) => void): GrantSet {
    const out: Grant[] = [];
    for (const n of names) {
      const g = parsePermission(n);
      if (g) out.push(g);
      else onInvalid?.(n);
    }
    return new GrantSet(out);
  }

  /** True when the set allows `action` on `module` (and `submodule`, when the request names one). */
  allows(module: string, action: string, submodule?: string): boolean {
    const k = this.keys;
    return k.has(`${module}.*`) || k.has(`${module}.${action}`) ||
      (submodule !== undefined && k.has(`${module}.${submodule}.${action}`));
  }

  /** The grants this set has on a module (for action search and traces). */
  matching(module: string, action: string, submodule?: string): string[] {
    const out: string[] = [];
    if (this.keys.has(`${module}.*`)) out.push(`${module}.*`);
    if (this.keys.has(`${module}.${action}`)) out.push(`${module}.${action}`);
    if (submodule && this.keys.has(`${module}.${submodule}.${action}`)) {
      out.push(`${module}_${submodule}_${action}`);
    }
    return out;
  }
}

/** The canonical permission name of a (module, action) pair. */
export function permissionName(module: string, action: string): string {
  return `${module}.${action}`;
}
