/**
 * SuperAdminSeeder: the platform super admin (organization_id null,
 * is_super_admin true, role super_admin).
 *
 * - development / test: seed 002's `admin@foodfleet.com` / `SuperAdmin@123`
 *   (username `superadmin`) and seed 000's `superadmin@example.com`.
 * - production: one account (`SUPERADMIN_EMAIL`, default admin@foodfleet.com)
 *   whose password comes from `SUPERADMIN_PASSWORD` or is generated and
 *   announced once; it must be changed at first login. The published default
 *   password can never exist in a production database: any seeded super
 *   admin account still carrying it gets a new password (and must change it).
 *
 * Existing accounts keep their password and their active flag; only the
 * super-admin attributes are reconciled.
 */
import { eq } from "drizzle-orm";
import { base64url } from "jose";
import { verifyPassword } from "../src/auth/passwords.ts";
import { ALL_ENVS, defineSeeder, type SeedContext } from "../src/seeding/types.ts";

export const DEFAULT_SUPERADMIN_EMAIL = "admin@foodfleet.com";
export const DEFAULT_SUPERADMIN_PASSWORD = "SuperAdmin@123";
export const EXAMPLE_SUPERADMIN_EMAIL = "superadmin@example.com";

/** A random password: 20 characters from a 64-symbol alphabet (120 bits). */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return base64url.encode(bytes);
}

async function superAdminRoleId(ctx: SeedContext): Promise<number> {
  const [role] = await ctx.tx.select({ id: ctx.t.roles.id }).from(ctx.t.roles)
    .where(eq(ctx.t.roles.name, "super_admin"));
  if (!role) throw new Error('role "super_admin" does not exist (RolesSeeder must run first)');
  return role.id;
}

export const superAdminSeeder = defineSeeder({
  name: "SuperAdminSeeder",
  description: "Creates the platform super admin (development default, or SUPERADMIN_* in production)",
  dependsOn: ["RolesSeeder"],
  environments: ALL_ENVS,
  async seed(ctx) {
    const { t } = ctx;
    const production = ctx.options.env === "production";
    const roleId = await superAdminRoleId(ctx);
    const attrs = {
      role: "super_admin",
      roleId,
      organizationId: null,
      isSuperAdmin: true,
      isCompanyAdmin: false,
    };

    if (!production) {
      const accounts = [
        { email: DEFAULT_SUPERADMIN_EMAIL, username: "superadmin", fullName: "Super Administrator" },
        { email: EXAMPLE_SUPERADMIN_EMAIL, username: null, fullName: "Platform Super Admin" },
      ];
      if (ctx.options.superadminEmail && !accounts.some((a) => a.email === ctx.options.superadminEmail)) {
        accounts.push({
          email: ctx.options.superadminEmail,
          username: null,
          fullName: "Super Administrator",
        });
      }
      const password = ctx.options.superadminPassword ?? DEFAULT_SUPERADMIN_PASSWORD;
      for (const a of accounts) {
        await ctx.upsert(t.users, { email: a.email }, attrs, async () => ({
          username: a.username,
          fullName: a.fullName,
          passwordHash: await ctx.passwordHash(password),
          isActive: true,
          isVerified: true,
          mustChangePassword: false,
        }));
      }
      return ctx.stats;
    }

    const email = ctx.options.superadminEmail ?? DEFAULT_SUPERADMIN_EMAIL;
    if (ctx.options.superadminPassword === DEFAULT_SUPERADMIN_PASSWORD) {
      throw new Error("SUPERADMIN_PASSWORD: the published default password cannot be used in production");
    }
    let generated: string | undefined;
    const newPassword = () => (ctx.options.superadminPassword ?? (generated ??= generatePassword()));
    const { status } = await ctx.upsert(t.users, { email }, attrs, async () => ({
      username: email === DEFAULT_SUPERADMIN_EMAIL ? "superadmin" : null,
      fullName: "Super Administrator",
      passwordHash: await ctx.passwordHash(newPassword()),
      isActive: true,
      isVerified: true,
      mustChangePassword: true,
    }));
    if (status === "created" && generated) {
      ctx.announce(
        `SuperAdminSeeder: created super admin ${email} with a generated password (shown once; it must be changed at first login):\n  ${generated}`,
      );
    }

    // The published default must not survive in production, on any seeded account.
    for (const candidate of new Set([email, DEFAULT_SUPERADMIN_EMAIL, EXAMPLE_SUPERADMIN_EMAIL])) {
      const [u] = await ctx.tx.select().from(t.users).where(eq(t.users.email, candidate));
      if (!u || !(await verifyPassword(u.passwordHash, DEFAULT_SUPERADMIN_PASSWORD))) continue;
      const replacement = candidate === email ? newPassword() : generatePassword();
      const retired = {
        passwordHash: await ctx.passwordHash(replacement),
        mustChangePassword: true,
        passwordChangedAt: new Date(),
      };
      await ctx.tx.update(t.users).set(retired).where(eq(t.users.id, u.id));
      // The published default is retired: no restore of an older backup brings it back (docs/backups.md).
      await ctx.tx.insert(t.credentialFloors).values({ userId: u.id, email: u.email, ...retired })
        .onConflictDoUpdate({ target: [t.credentialFloors.userId, t.credentialFloors.email], set: retired });
      ctx.stats.updated++;
      if (replacement !== ctx.options.superadminPassword) {
        ctx.announce(
          `SuperAdminSeeder: ${candidate} had the published default password; it was replaced by (shown once; change it at first login):\n  ${replacement}`,
        );
      }
    }
    return ctx.stats;
  },
});
