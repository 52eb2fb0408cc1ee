/** One retry of a read over a lost connection; outages logged start and end at warn (src/http/db_outage.ts). */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { AppError } from "../../src/errors.ts";
import { renderError } from "../../src/http/errors.ts";
import { CONNECTION_LOST_HEADER, OutageMonitor, withDatabaseRetry } from "../../src/http/db_outage.ts";
import { memoryLogger } from "../../src/log.ts";
import { dbTest } from "../helpers/db.ts";
import { waitFor } from "../faults/helpers.ts";

const lost = () =>
  new AppError("DATABASE_UNAVAILABLE", "the database is unreachable (CONNECTION_CLOSED)", {
    headers: { "Retry-After": "1" },
    cause: Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" }),
  });

/** An app whose handler fails with `failures` lost connections before answering. */
function flaky(failures: number) {
  const app = new Hono();
  let calls = 0;
  app.onError((err, c) => renderError(c as never, err));
  app.all("/x", (c) => {
    calls++;
    if (calls <= failures) throw lost();
    return c.json({ ok: true });
  });
  app.get("/refused", () => {
    calls++;
    throw new AppError("DATABASE_UNAVAILABLE", "the database refused the credentials in DATABASE_URL", {
      cause: Object.assign(new Error("password authentication failed"), { code: "28P01" }),
    });
  });
  return { app, calls: () => calls };
}

dbTest("db outage: a read that lost its connection is retried once; a write never", async (db) => {
  const logger = memoryLogger();
  const monitor = new OutageMonitor(db, logger);
  try {
    const once = flaky(1);
    const ok = await withDatabaseRetry(monitor, once.app.fetch)(new Request("http://x/x"));
    assert.equal(ok.status, 200);
    assert.equal(once.calls(), 2);
    assert.ok(!monitor.inOutage, "a retried read that worked is no outage");

    const write = flaky(1);
    const res = await withDatabaseRetry(monitor, write.app.fetch)(
      new Request("http://x/x", { method: "POST" }),
    );
    assert.equal(res.status, 503);
    assert.equal(write.calls(), 1, "a POST may have changed something: not retried");
    assert.equal(res.headers.get("Retry-After"), "1");
    assert.equal(res.headers.get(CONNECTION_LOST_HEADER), null, "the marker never leaves the process");

    const twice = flaky(2);
    const failed = await withDatabaseRetry(monitor, twice.app.fetch)(new Request("http://x/x"));
    assert.equal(failed.status, 503);
    assert.equal(twice.calls(), 2, "once, not more");
    assert.equal((await failed.json()).code, "DATABASE_UNAVAILABLE");

    const refused = flaky(0);
    const r = await withDatabaseRetry(monitor, refused.app.fetch)(new Request("http://x/refused"));
    assert.equal(r.status, 503);
    assert.equal(refused.calls(), 1, "bad credentials are not a lost connection");

    // The outage began with the first failure that reached a client; the probe sees the database answer.
    const start = logger.records.find((l) => l.event === "database_unavailable");
    assert.equal(start?.level, "warn");
    const end = await waitFor(
      "database_recovered",
      () => Promise.resolve(logger.records.find((l) => l.event === "database_recovered")),
    );
    assert.equal(end.level, start.level);
    assert.equal(end.failed_requests, 2);
    assert.ok(!monitor.inOutage);
  } finally {
    monitor.stop();
  }
}, { only: ["libsql"] });
