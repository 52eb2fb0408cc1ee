CREATE TABLE `access_replicas` (
	`id` text PRIMARY KEY NOT NULL,
	`applied_version` integer NOT NULL,
	`lease_until_ms` integer NOT NULL
);
