CREATE TABLE `assets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`asset_tag` text NOT NULL,
	`name` text NOT NULL,
	`category` text NOT NULL,
	`status` text DEFAULT 'in_service' NOT NULL,
	`purchase_value_cents` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `assets_organization_idx` ON `assets` (`organization_id`);--> statement-breakpoint
CREATE INDEX `assets_owner_idx` ON `assets` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `assets_org_tag_uq` ON `assets` (`organization_id`,`asset_tag`);--> statement-breakpoint
CREATE TABLE `audit_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event` text NOT NULL,
	`actor_user_id` integer,
	`organization_id` integer,
	`target` text,
	`request_id` text,
	`details` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_logs_organization_idx` ON `audit_logs` (`organization_id`);--> statement-breakpoint
CREATE INDEX `audit_logs_created_idx` ON `audit_logs` (`created_at`);--> statement-breakpoint
CREATE TABLE `backups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`s3_key` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`kind` text DEFAULT 'manual' NOT NULL,
	`execution_id` integer,
	`created_by` text NOT NULL,
	`size_bytes` integer,
	`sha256` text,
	`row_counts` text,
	`manifest` text,
	`schema_version` text,
	`dialect` text NOT NULL,
	`error_message` text,
	`created_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `backups_s3_key_uq` ON `backups` (`s3_key`);--> statement-breakpoint
CREATE INDEX `backups_execution_idx` ON `backups` (`execution_id`);--> statement-breakpoint
CREATE TABLE `crm_leads` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`name` text NOT NULL,
	`email` text,
	`company` text,
	`status` text DEFAULT 'new' NOT NULL,
	`source` text,
	`value_cents` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `crm_leads_organization_idx` ON `crm_leads` (`organization_id`);--> statement-breakpoint
CREATE INDEX `crm_leads_owner_idx` ON `crm_leads` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `crm_leads_org_name_uq` ON `crm_leads` (`organization_id`,`name`);--> statement-breakpoint
CREATE TABLE `entitlement_profiles` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tier` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`modules` text NOT NULL,
	`trial_modules` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `entitlement_profiles_tier_uq` ON `entitlement_profiles` (`tier`);--> statement-breakpoint
CREATE TABLE `files` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`name` text NOT NULL,
	`s3_key` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`content_type` text NOT NULL,
	`sha256` text NOT NULL,
	`metadata` text NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `files_organization_idx` ON `files` (`organization_id`);--> statement-breakpoint
CREATE INDEX `files_owner_idx` ON `files` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `files_s3_key_uq` ON `files` (`s3_key`);--> statement-breakpoint
CREATE TABLE `hr_employees` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`employee_number` text NOT NULL,
	`full_name` text NOT NULL,
	`department` text NOT NULL,
	`position` text NOT NULL,
	`hired_at` integer,
	`salary_cents` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `hr_employees_organization_idx` ON `hr_employees` (`organization_id`);--> statement-breakpoint
CREATE INDEX `hr_employees_owner_idx` ON `hr_employees` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `hr_employees_org_number_uq` ON `hr_employees` (`organization_id`,`employee_number`);--> statement-breakpoint
CREATE TABLE `manufacturing_orders` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`order_number` text NOT NULL,
	`product` text NOT NULL,
	`quantity` integer NOT NULL,
	`status` text DEFAULT 'planned' NOT NULL,
	`due_date` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `manufacturing_orders_organization_idx` ON `manufacturing_orders` (`organization_id`);--> statement-breakpoint
CREATE INDEX `manufacturing_orders_owner_idx` ON `manufacturing_orders` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `manufacturing_orders_org_number_uq` ON `manufacturing_orders` (`organization_id`,`order_number`);--> statement-breakpoint
CREATE TABLE `marketing_campaigns` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`name` text NOT NULL,
	`channel` text NOT NULL,
	`status` text DEFAULT 'draft' NOT NULL,
	`budget_cents` integer DEFAULT 0 NOT NULL,
	`starts_at` integer,
	`ends_at` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `marketing_campaigns_organization_idx` ON `marketing_campaigns` (`organization_id`);--> statement-breakpoint
CREATE INDEX `marketing_campaigns_owner_idx` ON `marketing_campaigns` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `marketing_campaigns_org_name_uq` ON `marketing_campaigns` (`organization_id`,`name`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`license_tier` text DEFAULT 'free' NOT NULL,
	`enabled_modules` text NOT NULL,
	`trial_ends` text NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `organizations_name_uq` ON `organizations` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `organizations_slug_uq` ON `organizations` (`slug`);--> statement-breakpoint
CREATE TABLE `permissions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`module` text NOT NULL,
	`action` text NOT NULL,
	`description` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `permissions_name_uq` ON `permissions` (`name`);--> statement-breakpoint
CREATE TABLE `role_permissions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`role_id` integer NOT NULL,
	`permission_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`permission_id`) REFERENCES `permissions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `role_permissions_uq` ON `role_permissions` (`role_id`,`permission_id`);--> statement-breakpoint
CREATE TABLE `roles` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`organization_id` integer,
	`scope_key` integer DEFAULT 0 NOT NULL,
	`is_system` integer DEFAULT false NOT NULL,
	`aliases` text NOT NULL,
	`record_scope` text DEFAULT 'own' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `roles_scope_name_uq` ON `roles` (`scope_key`,`name`);--> statement-breakpoint
CREATE INDEX `roles_organization_idx` ON `roles` (`organization_id`);--> statement-breakpoint
CREATE TABLE `security_versions` (
	`scope` text PRIMARY KEY NOT NULL,
	`version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `seeder_executions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`kind` text DEFAULT 'execute' NOT NULL,
	`triggered_by` text NOT NULL,
	`triggered_by_user_id` integer,
	`environment` text NOT NULL,
	`dry_run` integer DEFAULT false NOT NULL,
	`options` text NOT NULL,
	`results` text NOT NULL,
	`total_created` integer DEFAULT 0 NOT NULL,
	`total_updated` integer DEFAULT 0 NOT NULL,
	`total_deleted` integer DEFAULT 0 NOT NULL,
	`backup_created` integer DEFAULT false NOT NULL,
	`backup_s3_key` text,
	`warnings` text NOT NULL,
	`error_message` text,
	`error_traceback` text,
	`started_at` integer,
	`finished_at` integer,
	`duration_ms` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `seeder_executions_created_idx` ON `seeder_executions` (`created_at`);--> statement-breakpoint
CREATE TABLE `seeding_locks` (
	`name` text PRIMARY KEY NOT NULL,
	`execution_id` integer NOT NULL,
	`holder` text NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `service_tickets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`ticket_number` text NOT NULL,
	`subject` text NOT NULL,
	`priority` text DEFAULT 'normal' NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`customer_email` text,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `service_tickets_organization_idx` ON `service_tickets` (`organization_id`);--> statement-breakpoint
CREATE INDEX `service_tickets_owner_idx` ON `service_tickets` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `service_tickets_org_number_uq` ON `service_tickets` (`organization_id`,`ticket_number`);--> statement-breakpoint
CREATE TABLE `sms_templates` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`body` text NOT NULL,
	`description` text,
	`variables` text NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sms_templates_name_uq` ON `sms_templates` (`name`);--> statement-breakpoint
CREATE TABLE `transport_trips` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`trip_number` text NOT NULL,
	`vehicle_id` integer,
	`origin` text NOT NULL,
	`destination` text NOT NULL,
	`distance_km` integer NOT NULL,
	`status` text DEFAULT 'scheduled' NOT NULL,
	`departed_at` integer,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`vehicle_id`) REFERENCES `transport_vehicles`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `transport_trips_organization_idx` ON `transport_trips` (`organization_id`);--> statement-breakpoint
CREATE INDEX `transport_trips_owner_idx` ON `transport_trips` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `transport_trips_org_number_uq` ON `transport_trips` (`organization_id`,`trip_number`);--> statement-breakpoint
CREATE TABLE `transport_vehicles` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`owner_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`plate_number` text NOT NULL,
	`model` text NOT NULL,
	`capacity_kg` integer NOT NULL,
	`status` text DEFAULT 'available' NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `transport_vehicles_organization_idx` ON `transport_vehicles` (`organization_id`);--> statement-breakpoint
CREATE INDEX `transport_vehicles_owner_idx` ON `transport_vehicles` (`owner_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `transport_vehicles_org_plate_uq` ON `transport_vehicles` (`organization_id`,`plate_number`);--> statement-breakpoint
CREATE TABLE `user_modules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`module` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_modules_uq` ON `user_modules` (`user_id`,`module`);--> statement-breakpoint
CREATE INDEX `user_modules_organization_idx` ON `user_modules` (`organization_id`);--> statement-breakpoint
CREATE TABLE `user_permissions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`organization_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`permission` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_permissions_uq` ON `user_permissions` (`user_id`,`permission`);--> statement-breakpoint
CREATE INDEX `user_permissions_organization_idx` ON `user_permissions` (`organization_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text NOT NULL,
	`username` text,
	`full_name` text,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`role_id` integer,
	`organization_id` integer,
	`reports_to_id` integer,
	`is_super_admin` integer DEFAULT false NOT NULL,
	`is_company_admin` integer DEFAULT false NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`is_verified` integer DEFAULT false NOT NULL,
	`must_change_password` integer DEFAULT false NOT NULL,
	`password_changed_at` integer NOT NULL,
	`last_login_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`organization_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`reports_to_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_uq` ON `users` (`email`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_uq` ON `users` (`username`);--> statement-breakpoint
CREATE INDEX `users_organization_idx` ON `users` (`organization_id`);--> statement-breakpoint
CREATE INDEX `users_reports_to_idx` ON `users` (`reports_to_id`);