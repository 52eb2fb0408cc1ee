/**
 * Prometheus metrics (prom-client), one registry per process (tests build
 * several apps side by side). Series and their labels are listed in
 * docs/operations.md; labels are bounded sets (route patterns, never raw
 * paths; no user or organization ids), so a scanner cannot explode them.
 *
 * Must never break: `/metrics` is never public by accident (metrics_routes.ts);
 * a failing gauge collection (database down) never fails the scrape — the
 * gauge is left unset and `seedbed_metrics_collect_errors_total` counts it.
 * Story: docs/operations.md ("Metrics").
 */
import client from "prom-client";

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LONG_SECONDS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const BYTES = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/** Values read at scrape time (the database, the lease), supplied by deps.ts. */
export interface MetricsSources {
  /** Epoch seconds of the newest completed backup in the catalog, or null. */
  lastSuccessfulBackup?: () => Promise<number | null>;
  /** The lease state (ACCESS_FRESHNESS=lease), or undefined in read mode. */
  lease?: () => { valid: boolean; polls: number; acks: number } | undefined;
  /** The security version this replica's caches are at. */
  securityVersion?: () => number;
  /** Postgres: connections to the database by state (every replica's pools together); null elsewhere. */
  connections?: () => Promise<Record<string, number> | null>;
  /** Postgres: this process's pool connections by state; null without a pool. */
  pool?: () => Promise<Record<string, number> | null>;
  /** Postgres: the size of this process's pool (absent without one). */
  poolMax?: number;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly httpRequests: client.Counter<"method" | "route" | "status">;
  readonly httpDuration: client.Histogram<"method" | "route" | "status">;
  readonly decisions: client.Counter<"source" | "decision" | "layer" | "reason">;
  readonly loginFailures: client.Counter<"reason">;
  readonly loginThrottled: client.Counter;
  readonly seedingRuns: client.Counter<"kind" | "status">;
  readonly seedingDuration: client.Histogram<"kind" | "status">;
  readonly backupRuns: client.Counter<"kind" | "outcome">;
  readonly backupDuration: client.Histogram<"outcome">;
  readonly backupBytes: client.Histogram;
  readonly restoreRuns: client.Counter<"outcome">;
  readonly restoreDuration: client.Histogram<"outcome">;
  readonly restoreBytes: client.Histogram;
  readonly scheduledBackups: client.Counter<"outcome">;
  readonly collectErrors: client.Counter<"gauge">;

  constructor(sources: MetricsSources = {}, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.httpRequests = new client.Counter({
      name: "seedbed_http_requests_total",
      help: "HTTP requests by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new client.Histogram({
      name: "seedbed_http_request_duration_seconds",
      help: "HTTP request latency by method, route pattern and status",
      labelNames: ["method", "route", "status"],
      buckets: SECONDS,
      registers,
    });
    this.decisions = new client.Counter({
      name: "seedbed_access_decisions_total",
      help: "Access decisions (guard, authzen, forward_auth) by outcome, deciding layer and reason",
      labelNames: ["source", "decision", "layer", "reason"],
      registers,
    });
    this.loginFailures = new client.Counter({
      name: "seedbed_login_failures_total",
      help: "Failed logins (bad credentials, inactive account)",
      labelNames: ["reason"],
      registers,
    });
    this.loginThrottled = new client.Counter({
      name: "seedbed_login_throttled_total",
      help: "Logins refused by the throttle (429)",
      registers,
    });
    this.seedingRuns = new client.Counter({
      name: "seedbed_seeding_runs_total",
      help: "Seeding runs by kind (execute, reset, restore) and status (completed, failed)",
      labelNames: ["kind", "status"],
      registers,
    });
    this.seedingDuration = new client.Histogram({
      name: "seedbed_seeding_duration_seconds",
      help: "Seeding run duration by kind and status",
      labelNames: ["kind", "status"],
      buckets: LONG_SECONDS,
      registers,
    });
    this.backupRuns = new client.Counter({
      name: "seedbed_backup_runs_total",
      help: "Backups by kind (manual, execution, safety, reset, scheduled) and outcome (succeeded, failed)",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.backupDuration = new client.Histogram({
      name: "seedbed_backup_duration_seconds",
      help: "Backup duration by outcome",
      labelNames: ["outcome"],
      buckets: LONG_SECONDS,
      registers,
    });
    this.backupBytes = new client.Histogram({
      name: "seedbed_backup_size_bytes",
      help: "Size of successful backups (compressed)",
      buckets: BYTES,
      registers,
    });
    this.restoreRuns = new client.Counter({
      name: "seedbed_restore_runs_total",
      help: "Restores by outcome (succeeded, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.restoreDuration = new client.Histogram({
      name: "seedbed_restore_duration_seconds",
      help: "Restore duration by outcome",
      labelNames: ["outcome"],
      buckets: LONG_SECONDS,
      registers,
    });
    this.restoreBytes = new client.Histogram({
      name: "seedbed_restore_size_bytes",
      help: "Size of the backups successful restores read (compressed)",
      buckets: BYTES,
      registers,
    });
    this.scheduledBackups = new client.Counter({
      name: "seedbed_scheduled_backups_total",
      help: "Scheduled backup slots by outcome (succeeded, failed, missed; skipped: another replica took it)",
      labelNames: ["outcome"],
      registers,
    });
    this.collectErrors = new client.Counter({
      name: "seedbed_metrics_collect_errors_total",
      help: "Gauges that could not be read at scrape time",
      labelNames: ["gauge"],
      registers,
    });
    const errors = this.collectErrors;
    if (sources.lastSuccessfulBackup) {
      // One catalog read per scrape, shared by both gauges (they are collected concurrently).
      const source = sources.lastSuccessfulBackup;
      let pending: { at: number; value: Promise<number | null> } | undefined;
      const read = () => {
        const now = performance.now();
        if (!pending || now - pending.at > 1000) pending = { at: now, value: source() };
        return pending.value;
      };
      new client.Gauge({
        name: "seedbed_backup_last_success_timestamp_seconds",
        help: "When the newest successful backup completed (epoch seconds; 0 when there is none)",
        registers,
        async collect() {
          try {
            this.set((await read()) ?? 0);
          } catch {
            errors.inc({ gauge: "backup_last_success" });
          }
        },
      });
      new client.Gauge({
        name: "seedbed_backup_last_success_age_seconds",
        help: "Seconds since the newest successful backup completed (absent when there is none)",
        registers,
        async collect() {
          this.reset();
          try {
            const t = await read();
            if (t !== null) this.set(Math.max(0, Date.now() / 1000 - t));
          } catch {
            errors.inc({ gauge: "backup_last_success_age" });
          }
        },
      });
    }
    if (sources.lease) {
      const lease = sources.lease;
      new client.Gauge({
        name: "seedbed_access_lease_valid",
        help: "1 while this replica answers access questions under a valid lease (ACCESS_FRESHNESS=lease)",
        registers,
        collect() {
          const l = lease();
          this.set(l ? (l.valid ? 1 : 0) : 0);
        },
      });
      new client.Gauge({
        name: "seedbed_access_lease_polls",
        help: "Lease polls done by this replica since it started",
        registers,
        collect() {
          this.set(lease()?.polls ?? 0);
        },
      });
    }
    if (sources.securityVersion) {
      const v = sources.securityVersion;
      new client.Gauge({
        name: "seedbed_access_security_version",
        help: "The security version this replica's access caches are at (-1: not synced yet)",
        registers,
        collect() {
          this.set(v());
        },
      });
    }
    if (sources.connections) {
      const read = sources.connections;
      new client.Gauge({
        name: "seedbed_db_connections",
        help: "Postgres: connections to this database by state (all replicas' pools; from pg_stat_activity)",
        labelNames: ["state"],
        registers,
        async collect() {
          this.reset();
          try {
            const byState = await read();
            for (const [state, n] of Object.entries(byState ?? {})) this.set({ state }, n);
          } catch {
            errors.inc({ gauge: "db_connections" });
          }
        },
      });
    }
    if (sources.pool) {
      const read = sources.pool;
      new client.Gauge({
        name: "seedbed_db_pool_connections",
        help:
          "Postgres: this replica's pool connections by state (from pg_stat_activity, by its application_name)",
        labelNames: ["state"],
        registers,
        async collect() {
          this.reset();
          try {
            for (const [state, n] of Object.entries(await read() ?? {})) this.set({ state }, n);
          } catch {
            errors.inc({ gauge: "db_pool_connections" });
          }
        },
      });
    }
    if (sources.poolMax !== undefined) {
      new client.Gauge({
        name: "seedbed_db_pool_max",
        help: "Postgres: the size of this replica's pool (its most connections)",
        registers,
      }).set(sources.poolMax);
    }
    if (options.defaultMetrics ?? false) {
      client.collectDefaultMetrics({ register: this.registry, prefix: "seedbed_" });
    }
  }

  /** The exposition text. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
