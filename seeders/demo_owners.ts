/** The owners of demo records: each demo organization's admin, for module seeders (restaurants, menus, …). */
import { inArray } from "drizzle-orm";
import type { SeedContext } from "../src/seeding/types.ts";
import { DEMO_ORGS, DEMO_USERS } from "./demo_data.ts";

/** Each demo organization's admin (the owner of its demo restaurants and menus), by organization id. */
export async function demoAdmins(ctx: SeedContext): Promise<Map<number, number>> {
  const { t, tx } = ctx;
  const orgs = await tx.select({ id: t.organizations.id, slug: t.organizations.slug }).from(t.organizations)
    .where(inArray(t.organizations.slug, DEMO_ORGS.map((o) => o.slug)));
  const admins = DEMO_USERS.filter((u) => u.key === "admin");
  const users = await tx.select({ id: t.users.id, email: t.users.email }).from(t.users)
    .where(inArray(t.users.email, admins.map((u) => u.email)));
  const out = new Map<number, number>();
  for (const org of orgs) {
    const email = admins.find((u) => u.org === org.slug)?.email;
    const id = users.find((u) => u.email === email)?.id;
    if (id === undefined) {
      throw new Error(`demo organization ${org.slug} has no admin to own its restaurants`);
    }
    out.set(org.id, id);
  }
  return out;
}
