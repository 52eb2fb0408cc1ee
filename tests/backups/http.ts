/** An app with real S3 and logged-in users, for the backup HTTP tests. */
import type { Database } from "../../src/db/client.ts";
import { createApp } from "../../src/app.ts";
import { buildDeps } from "../../src/deps.ts";
import { memoryLogger } from "../../src/log.ts";
import { testConfig } from "../helpers/app.ts";
import { bearer, createOrg, createRole, createUser, login } from "../helpers/fixtures.ts";
import { startTestS3 } from "../helpers/s3.ts";

/** An app over `db` and a fresh bucket, with a super admin and three tenant users logged in. */
export async function setup(db: Database, env: Record<string, string> = {}) {
  const s3 = await startTestS3();
  const logger = memoryLogger();
  const deps = await buildDeps({ config: testConfig({ ...s3.env, ...env }), db, logger });
  const app = createApp(deps);
  const org = await createOrg(db, { name: "Backup Org" });
  await createUser(db, {
    email: "root@backup.test",
    role: "super_admin",
    organizationId: null,
    isSuperAdmin: true,
  });
  // A tenant user holding seeders:read through a custom role is still refused: backups are a platform operation.
  const readerRole = await createRole(db, {
    name: "backup_reader",
    organizationId: org.id,
    permissions: ["seeders:read"],
  });
  await createUser(db, {
    email: "admin@backup.test",
    role: "admin",
    organizationId: org.id,
    isCompanyAdmin: true,
  });
  await createUser(db, {
    email: "reader@backup.test",
    role: "backup_reader",
    roleId: readerRole.id,
    organizationId: org.id,
  });
  await createUser(db, { email: "nobody@backup.test", role: "executive", organizationId: org.id });
  const tokens = {
    root: await login(app, "root@backup.test"),
    reader: await login(app, "reader@backup.test"),
    admin: await login(app, "admin@backup.test"),
    nobody: await login(app, "nobody@backup.test"),
  };
  const call = (method: string, path: string, token: string | null, body?: unknown) =>
    app.request(path, {
      method,
      headers: {
        ...(token ? bearer(token) : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { s3, deps, app, tokens, call, logger };
}
