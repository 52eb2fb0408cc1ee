-- Down migration of 0004_service_keys_scheduled_runs: service credentials and scheduled runs go (their rows are lost).
DROP TABLE IF EXISTS service_keys;
--> statement-breakpoint
DROP TABLE IF EXISTS scheduled_runs;
