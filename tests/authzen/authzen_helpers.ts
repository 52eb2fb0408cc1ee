/** Shared setup of the AuthZEN tests: a world of two organizations, tokens, and request builders. */
import { testApp } from "../helpers/app.ts";
import { bearer, createWorld, login } from "../helpers/fixtures.ts";
import type { Database } from "../../src/db/client.ts";

export async function setup(db: Database) {
  const w = await createWorld(db);
  const { app } = await testApp(db);
  const lead = async (ownerId: number, name: string, orgId = w.acme.id) =>
    (await db.db.insert(db.t.crmLeads).values({ organizationId: orgId, ownerId, name }).returning())[0];
  return {
    w,
    app,
    lead,
    root: await login(app, "root@platform.test"),
    admin: await login(app, "admin@acme.test"),
    exec: await login(app, "exec@acme.test"),
    other: await login(app, "admin@globex.test"),
  };
}

/** A JSON POST with an optional bearer token. */
export const post = (token: string | null, body: unknown, extra: Record<string, string> = {}) => ({
  method: "POST",
  headers: { ...(token ? bearer(token) : {}), "content-type": "application/json", ...extra },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

/** An AuthZEN subject for a user id. */
export const user = (id: string | number) => ({ type: "user", id: String(id) });
