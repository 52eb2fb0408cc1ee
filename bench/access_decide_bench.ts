/**
 * In-process access decisions (`deno bench`), with a warm cache:
 * - `decide()` alone (the pure core);
 * - snapshot lookups + decide, as the guard runs them after its version check;
 * - the full guard path: cached token verification, the coalesced
 *   security-version read (one tiny primary-key query), cached snapshots and decide.
 */
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrator.ts";
import { buildDeps } from "../src/deps.ts";
import { silentLogger } from "../src/log.ts";
import { decide } from "../src/access/decide.ts";

const dir = await Deno.makeTempDir({ prefix: "seedbed-decide-bench-" });
const config = loadConfig({ APP_ENV: "test", LOG_LEVEL: "silent", SECRET_KEY: "b".repeat(40) });
const db = await openDatabase(`file:${dir}/bench.db`);
await migrate(db);
const deps = await buildDeps({ config, db, logger: silentLogger });
await deps.seeding.execute({ createBackup: false, triggeredBy: "bench" });
const login = await deps.auth.login("admin@testcorp.com", "password123", { address: null });
const token = login.access_token;
const access = deps.access;
const user = (await access.authenticate(`Bearer ${token}`))!;
const orgId = user.access.organizationId!;
const org = (await access.cache.organization(orgId))!;
const request = { module: "crm", action: "read", submodule: "leads", organizationId: orgId, now: Date.now() };
globalThis.addEventListener("unload", () => {
  db.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench("decide() — pure core", { group: "decision", baseline: true }, () => {
  decide(user.access, org, request);
});

Deno.bench("cached snapshots + decide() (guard after its version check)", { group: "decision" }, async () => {
  const u = (await access.cache.user(user.access.id))!;
  const o = await access.cache.organization(orgId);
  decide(u.access, o, request);
});

Deno.bench(
  "full guard path: cached token + version read + snapshots + decide()",
  { group: "decision" },
  async () => {
    const u = await access.authenticate(`Bearer ${token}`);
    const o = await access.cache.organization(orgId);
    decide(u.access, o, request);
  },
);
