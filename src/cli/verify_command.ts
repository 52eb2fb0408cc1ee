/**
 * `deno task verify` (or `deno task seed verify`): seed 000's verification checklist.
 * Story: docs/seeding.md ("CLI").
 */
import { verifyDatabase, type VerifyReport } from "../seeding/verify.ts";
import { type CliContext, UsageError } from "./context.ts";
import { deno } from "../deno_command.ts";

export const VERIFY_USAGE = `usage: deno task verify [--json]
  prints: tables present, migration state, counts of organizations, users,
  permissions and role grants, each organization's tier and modules, the
  users and their roles, and the last seeding run. Exit 1 when something is wrong.`;

/** Runs the checklist; returns 0 when it passes, 1 otherwise. */
export async function runVerify(ctx: CliContext, args: string[]): Promise<number> {
  const json = args.includes("--json");
  const unknown = args.filter((a) => a !== "--json");
  if (unknown.length) throw new UsageError(`unknown verify option "${unknown[0]}"\n${VERIFY_USAGE}`);
  const r = await verifyDatabase(ctx.db);
  if (json) {
    ctx.out(JSON.stringify(r, null, 2));
    return r.problems.length ? 1 : 0;
  }
  const ok = (good: boolean) => (good ? "✓" : "✗");
  ctx.out(`Verification — ${r.database} (${r.dialect})`);
  ctx.out("");
  ctx.out("1. Database structure");
  ctx.out(
    `  ${ok(r.tables.missing.length === 0)} tables: ${
      r.tables.expected - r.tables.missing.length
    }/${r.tables.expected} present${
      r.tables.missing.length ? ` (missing: ${r.tables.missing.join(", ")})` : ""
    }`,
  );
  const m = r.migrations;
  ctx.out(
    `  ${
      ok(!m.pending.length && !m.drift.length)
    } migrations: ${m.applied} applied, ${m.pending.length} pending, ${m.drift.length} drifted; current ${
      m.head ?? "none"
    }`,
  );
  if (r.tables.missing.length) {
    ctx.out("");
    ctx.out(`Sections 2–5 skipped: the database is not migrated (run \`${deno("task migrate")}\`).`);
  } else {
    printContents(ctx, r, ok);
  }
  ctx.out("");
  if (r.problems.length === 0) {
    ctx.out("Result: OK");
    return 0;
  }
  ctx.out(`Result: ${r.problems.length} problem${r.problems.length > 1 ? "s" : ""}`);
  for (const p of r.problems) ctx.out(`  ✗ ${p}`);
  return 1;
}

function printContents(
  ctx: CliContext,
  r: VerifyReport,
  ok: (good: boolean) => string,
): void {
  ctx.out(
    `  ${ok(true)} SELECT COUNT(*) FROM organizations; → ${r.counts.organizations}`,
  );
  ctx.out(`  ${ok(r.counts.users > 0)} SELECT COUNT(*) FROM users; → ${r.counts.users}`);
  ctx.out(`  ${ok(r.counts.permissions > 0)} SELECT COUNT(*) FROM permissions; → ${r.counts.permissions}`);
  ctx.out("");
  ctx.out("2. Organizations and entitlements");
  if (r.organizations.length === 0) ctx.out("  (no organizations)");
  for (const o of r.organizations) {
    ctx.out(`  Org: ${o.name} (id ${o.id})${o.isActive ? "" : " — DEACTIVATED"}`);
    ctx.out(`    License Tier: ${o.licenseTier}`);
    ctx.out(`    Enabled Modules: ${JSON.stringify(o.enabledModules)}`);
    if (Object.keys(o.trialEnds).length) ctx.out(`    Trials end: ${JSON.stringify(o.trialEnds)}`);
    ctx.out(`    Entitled: ${o.entitledModules.join(", ")}`);
  }
  ctx.out("");
  ctx.out("3. Users and roles");
  for (const u of r.users) {
    ctx.out(
      `  User: ${u.email}  Role: ${u.role}  Org: ${u.organizationId ?? "-"}  Super Admin: ${u.isSuperAdmin}${
        u.isActive ? "" : "  (inactive)"
      }`,
    );
  }
  ctx.out("");
  ctx.out("4. Permissions");
  ctx.out(`  Total Permissions: ${r.counts.permissions}`);
  ctx.out(`  Roles: ${r.counts.roles}`);
  ctx.out(`  Role Permissions: ${r.counts.rolePermissions}`);
  ctx.out("");
  ctx.out("5. Seeding");
  const e = r.lastExecution;
  ctx.out(
    e
      ? `  last run: execution ${e.id} (${e.kind}) ${e.status}${
        e.finishedAt ? ` at ${e.finishedAt.toISOString()}` : ""
      } by ${e.triggeredBy}`
      : "  no seeding run recorded",
  );
}
