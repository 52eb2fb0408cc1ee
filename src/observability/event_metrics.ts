/**
 * Metrics from the structured events the services already log: a Logger
 * that passes every line on and, whatever LOG_LEVEL is, counts the events
 * below. Services keep one way to report what happened (their log line); the
 * metrics cannot drift from the logs. The events and their fields are the
 * contract: tests/observability/metrics_test.ts scrapes after a real seeding
 * run, backup, restore and denials, so a renamed event fails there.
 * Story: docs/operations.md ("Metrics").
 */
import type { LogFields, Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";

const seconds = (f: LogFields) => typeof f.duration_ms === "number" ? f.duration_ms / 1000 : undefined;
const str = (v: unknown, fallback: string) => typeof v === "string" && v ? v : fallback;

/** What one event does to the metrics (fields: the line's own and its child loggers'). */
export function observeEvent(m: Metrics, event: string, f: LogFields): void {
  switch (event) {
    case "audit": {
      const e = f.audit_event;
      if (e === "auth.login_failed") {
        m.loginFailures.inc({
          reason: str((f.details as LogFields | undefined)?.reason, "invalid_credentials"),
        });
      } else if (e === "auth.login_throttled") m.loginThrottled.inc();
      return;
    }
    case "seeding_completed":
    case "seeding_failed": {
      const status = event === "seeding_completed" ? "completed" : "failed";
      const kind = str(f.kind, "execute");
      m.seedingRuns.inc({ kind, status });
      const s = seconds(f);
      if (s !== undefined) m.seedingDuration.observe({ kind, status }, s);
      return;
    }
    case "backup_completed":
    case "backup_failed": {
      const outcome = event === "backup_completed" ? "succeeded" : "failed";
      m.backupRuns.inc({ kind: str(f.kind, "manual"), outcome });
      const s = seconds(f);
      if (s !== undefined) m.backupDuration.observe({ outcome }, s);
      if (outcome === "succeeded" && typeof f.size_bytes === "number") m.backupBytes.observe(f.size_bytes);
      return;
    }
    case "restore_completed":
    case "restore_failed": {
      const outcome = event === "restore_completed" ? "succeeded" : "failed";
      m.restoreRuns.inc({ outcome });
      const s = seconds(f);
      if (s !== undefined) m.restoreDuration.observe({ outcome }, s);
      if (outcome === "succeeded" && typeof f.size_bytes === "number") m.restoreBytes.observe(f.size_bytes);
      return;
    }
  }
}

const WATCHED = new Set([
  "audit",
  "seeding_completed",
  "seeding_failed",
  "backup_completed",
  "backup_failed",
  "restore_completed",
  "restore_failed",
]);

/** `logger`, with every watched event also counted in `metrics` (child loggers included). */
export function meteredLogger(logger: Logger, metrics: Metrics, base: LogFields = {}): Logger {
  const tap = (event: string, fields?: LogFields) => {
    if (!WATCHED.has(event)) return;
    try {
      observeEvent(metrics, event, fields ? { ...base, ...fields } : base);
    } catch { /* metrics never break the caller */ }
  };
  return {
    debug: (e, f) => (tap(e, f), logger.debug(e, f)),
    info: (e, f) => (tap(e, f), logger.info(e, f)),
    warn: (e, f) => (tap(e, f), logger.warn(e, f)),
    error: (e, f) => (tap(e, f), logger.error(e, f)),
    child: (fields) => meteredLogger(logger.child(fields), metrics, { ...base, ...fields }),
    enabled: (lvl) => logger.enabled(lvl),
  };
}
