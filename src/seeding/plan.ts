/**
 * Which seeders run, and in what order. Everything here is checked before
 * anything touches the database: a duplicate name, an unknown dependency or
 * a dependency cycle is an error naming the seeders involved.
 * Story: docs/seeding.md ("How the engine works").
 */
import type { AppEnv } from "../config.ts";
import { AppError } from "../errors.ts";
import type { SeederDefinition } from "./types.ts";

export interface PlanOptions {
  env: AppEnv;
  /** Whether demo seeders are wanted (see `SeedingService` for the default). */
  demo: boolean;
  /** Rows per module table for volume seeders (0: volume seeders are left out). */
  scale: number;
  /** Run only these seeders (and what they depend on). */
  only?: string[];
}

/** Throws SEEDING_FAILED when the registry has a duplicate, an unknown dependency or a cycle. */
export function validateRegistry(seeders: readonly SeederDefinition[]): void {
  const byName = new Map<string, SeederDefinition>();
  for (const s of seeders) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(s.name)) {
      throw new AppError("SEEDING_FAILED", `invalid seeder name "${s.name}": use letters, digits and _`);
    }
    if (byName.has(s.name)) {
      throw new AppError("SEEDING_FAILED", `two seeders are named "${s.name}"`);
    }
    byName.set(s.name, s);
  }
  for (const s of seeders) {
    for (const d of s.dependsOn ?? []) {
      if (!byName.has(d)) {
        throw new AppError("SEEDING_FAILED", `seeder ${s.name} depends on unknown seeder "${d}"`);
      }
    }
  }
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (name: string) => {
    const st = state.get(name);
    if (st === "done") return;
    if (st === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new AppError("SEEDING_FAILED", `dependency cycle between seeders: ${cycle.join(" → ")}`);
    }
    state.set(name, "visiting");
    path.push(name);
    for (const d of byName.get(name)!.dependsOn ?? []) visit(d);
    path.pop();
    state.set(name, "done");
  };
  for (const s of seeders) visit(s.name);
}

/**
 * Orders seeders so that each runs after its dependencies; among seeders
 * that are ready at the same time, registry order wins (stable, readable).
 */
export function orderSeeders(seeders: readonly SeederDefinition[]): SeederDefinition[] {
  validateRegistry(seeders);
  const placed = new Set<string>();
  const names = new Set(seeders.map((s) => s.name));
  const out: SeederDefinition[] = [];
  while (out.length < seeders.length) {
    const next = seeders.find((s) =>
      !placed.has(s.name) && (s.dependsOn ?? []).every((d) => placed.has(d) || !names.has(d))
    );
    // validateRegistry ruled out cycles, so there is always a ready seeder.
    if (!next) throw new AppError("SEEDING_FAILED", "dependency cycle between seeders");
    placed.add(next.name);
    out.push(next);
  }
  return out;
}

/**
 * True when the seeder runs by default under these options (before dependencies are added). A seeder
 * never runs outside its `environments`, whatever is asked (demo, volume or not).
 */
export function selectedByDefault(s: SeederDefinition, o: PlanOptions): boolean {
  if (!s.environments.includes(o.env)) return false;
  if (s.volume) return o.scale > 0;
  if (s.demo) return o.demo;
  return true;
}

/** VALIDATION_ERROR naming a seeder asked for outside its environments, and why it was asked for. */
function outsideEnvironments(s: SeederDefinition, env: string, why: string): AppError {
  const message = `seeder ${s.name} runs only in ${
    s.environments.join(", ") || "no environment"
  }, not in ${env} (${why})`;
  return new AppError("VALIDATION_ERROR", message, {
    extra: { errors: [{ field: why.startsWith("only") ? "only" : "demo", message }] },
  });
}

/**
 * The seeders a run executes, in order. `only` names are checked
 * (VALIDATION_ERROR naming the unknown one) and pulled in with every
 * seeder they depend on, transitively.
 */
export function planSeeders(seeders: readonly SeederDefinition[], o: PlanOptions): SeederDefinition[] {
  const ordered = orderSeeders(seeders);
  const byName = new Map(ordered.map((s) => [s.name, s]));
  let roots: SeederDefinition[];
  if (o.only && o.only.length > 0) {
    const unknown = o.only.filter((n) => !byName.has(n));
    if (unknown.length) {
      throw new AppError(
        "VALIDATION_ERROR",
        `unknown seeder ${unknown.map((n) => `"${n}"`).join(", ")}; known seeders: ${
          ordered.map((s) => s.name).join(", ")
        }`,
        { extra: { errors: unknown.map((n) => ({ field: "only", message: `unknown seeder "${n}"` })) } },
      );
    }
    roots = o.only.map((n) => byName.get(n)!);
  } else {
    // Demo data asked for (--demo, SEED_DEMO) where a demo seeder may not run: refused, not skipped.
    const refused = o.demo && ordered.find((s) => s.demo && !s.volume && !s.environments.includes(o.env));
    if (refused) throw outsideEnvironments(refused, o.env, "demo seeding was asked for");
    roots = ordered.filter((s) => selectedByDefault(s, o));
  }
  const chosen = new Set<string>();
  const add = (s: SeederDefinition, root: SeederDefinition) => {
    if (chosen.has(s.name)) return;
    // Every path: `only`, its dependencies, demo and volume seeders — never outside the environments.
    if (!s.environments.includes(o.env)) {
      throw outsideEnvironments(
        s,
        o.env,
        o.only?.length
          ? s === root ? "only names it" : `only names ${root.name}, which depends on it`
          : `${root.name} depends on it`,
      );
    }
    chosen.add(s.name);
    for (const d of s.dependsOn ?? []) add(byName.get(d)!, root);
  };
  roots.forEach((r) => add(r, r));
  return ordered.filter((s) => chosen.has(s.name));
}
