/** `deno task migrate [up|status|history|down]`. */
import { awaitReplicas } from "../access/lease.ts";
import { migrate, migrationStatus } from "../db/migrator.ts";
import { type CliContext, UsageError } from "./context.ts";

export const MIGRATE_USAGE = `usage: deno task migrate [up|status|history|down]
  up       apply every pending migration (default)
  status   applied and pending migrations, each with its SHA-256; drift is flagged
  history  applied migrations, newest first, with when they were applied
  down     not supported: migrations are forward-only (see below)`;

/** Runs a migrate subcommand; returns the process exit code. */
export async function runMigrate(
  ctx: CliContext,
  args: string[],
): Promise<number> {
  const sub = args[0] ?? "up";
  switch (sub) {
    case "up":
    case "head": {
      const r = await migrate(ctx.db);
      if (r.applied.length === 0) {
        ctx.out(`Already at head (${r.head ?? "no migrations"}).`);
      }
      for (const tag of r.applied) ctx.out(`Applied ${tag}`);
      if (r.applied.length) {
        ctx.out(`Now at head (${r.head}).`);
        // A migration may change what the access layer caches: lease replicas apply it before we return.
        await awaitReplicas(ctx.db, ctx.logger, { fallbackMs: ctx.config.access.leaseMs });
      }
      return 0;
    }
    case "status":
    case "current": {
      const status = await migrationStatus(ctx.db);
      ctx.out(`Database: ${ctx.db.label} (${ctx.db.dialect})`);
      for (const s of status) {
        const when = s.appliedAt ? `  applied ${s.appliedAt.toISOString()}` : "";
        ctx.out(
          `${s.state.toUpperCase().padEnd(8)} ${s.tag.padEnd(32)} sha256:${s.hash}${when}`,
        );
        if (s.state === "drift") {
          ctx.out(
            `         file changed after it was applied (applied as sha256:${s.appliedHash})`,
          );
        }
      }
      const pending = status.filter((s) => s.state === "pending").length;
      const drift = status.filter((s) => s.state === "drift" || s.state === "missing")
        .length;
      ctx.out(
        `${status.length - pending - drift} applied, ${pending} pending, ${drift} drifted`,
      );
      return drift ? 1 : 0;
    }
    case "history": {
      const status = (await migrationStatus(ctx.db)).filter((s) => s.appliedAt)
        .reverse();
      if (status.length === 0) ctx.out("No migrations applied.");
      for (const s of status) {
        ctx.out(
          `${s.appliedAt!.toISOString()}  ${s.tag}  sha256:${s.appliedHash ?? s.hash}${
            s.state === "drift" ? "  (DRIFT: the file now hashes to sha256:" + s.hash + ")" : ""
          }`,
        );
      }
      return 0;
    }
    case "down":
    case "downgrade":
      ctx.out(
        "Migrations are forward-only: drizzle-kit generates no down migrations, and Seedbed does not pretend otherwise.\n" +
          "A backup restores only into a database at the schema version it was taken at, so to go back:\n" +
          "  1. run the previous release of Seedbed (its code knows the old schema) against a new, empty database;\n" +
          "     its `deno task migrate` brings that database to the old head;\n" +
          "  2. there, restore a backup taken before the migration:\n" +
          "       deno task seed --restore --key database-backups/<timestamp>_execution_<id>.json.gz\n" +
          "  3. point DATABASE_URL at that database.\n" +
          "Or write a new forward migration that undoes the change.",
      );
      return 1;
    default:
      throw new UsageError(
        `unknown migrate command "${sub}"\n${MIGRATE_USAGE}`,
      );
  }
}
