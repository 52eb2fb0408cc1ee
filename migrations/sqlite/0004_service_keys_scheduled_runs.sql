CREATE TABLE `scheduled_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job` text NOT NULL,
	`scheduled_at` integer NOT NULL,
	`status` text NOT NULL,
	`replica` text NOT NULL,
	`backup_id` integer,
	`error_message` text,
	`started_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `scheduled_runs_slot_uq` ON `scheduled_runs` (`job`,`scheduled_at`);--> statement-breakpoint
CREATE TABLE `service_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`key_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_by_id` integer,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `service_keys_hash_uq` ON `service_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `service_keys_organization_idx` ON `service_keys` (`organization_id`);--> statement-breakpoint
CREATE TRIGGER `sv_service_keys_update` AFTER UPDATE OF revoked_at, expires_at, scopes, organization_id, key_hash ON `service_keys` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_service_keys_delete` AFTER DELETE ON `service_keys` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
