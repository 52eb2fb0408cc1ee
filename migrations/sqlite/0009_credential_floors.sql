CREATE TABLE `credential_floors` (
	`user_id` integer NOT NULL,
	`email` text NOT NULL,
	`password_hash` text NOT NULL,
	`password_changed_at` integer NOT NULL,
	`must_change_password` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credential_floors_user_email_uq` ON `credential_floors` (`user_id`,`email`);
--> statement-breakpoint
-- Passwords set before this migration: a restore of an older backup does not bring back the one before them.
INSERT INTO `credential_floors` (`user_id`, `email`, `password_hash`, `password_changed_at`, `must_change_password`) SELECT `id`, `email`, `password_hash`, `password_changed_at`, `must_change_password` FROM `users`;
