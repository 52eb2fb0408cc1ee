-- Security version triggers: any change to the tables the access layer caches bumps
-- security_versions('access') in the same transaction, whoever writes (API, CLI, seeders,
-- restore, raw SQL). Replicas compare the counter before answering, so no cache serves a stale allow.
CREATE TRIGGER `sv_users_insert` AFTER INSERT ON `users` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_users_update` AFTER UPDATE OF email, role, role_id, organization_id, reports_to_id, is_super_admin, is_company_admin, is_active, must_change_password, password_changed_at, password_hash ON `users` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_users_delete` AFTER DELETE ON `users` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_roles_insert` AFTER INSERT ON `roles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_roles_update` AFTER UPDATE ON `roles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_roles_delete` AFTER DELETE ON `roles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_permissions_insert` AFTER INSERT ON `permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_permissions_update` AFTER UPDATE ON `permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_permissions_delete` AFTER DELETE ON `permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_role_permissions_insert` AFTER INSERT ON `role_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_role_permissions_update` AFTER UPDATE ON `role_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_role_permissions_delete` AFTER DELETE ON `role_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_modules_insert` AFTER INSERT ON `user_modules` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_modules_update` AFTER UPDATE ON `user_modules` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_modules_delete` AFTER DELETE ON `user_modules` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_permissions_insert` AFTER INSERT ON `user_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_permissions_update` AFTER UPDATE ON `user_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_user_permissions_delete` AFTER DELETE ON `user_permissions` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_organizations_insert` AFTER INSERT ON `organizations` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_organizations_update` AFTER UPDATE OF license_tier, enabled_modules, trial_ends, is_active, name ON `organizations` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_organizations_delete` AFTER DELETE ON `organizations` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_entitlement_profiles_insert` AFTER INSERT ON `entitlement_profiles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_entitlement_profiles_update` AFTER UPDATE ON `entitlement_profiles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
--> statement-breakpoint
CREATE TRIGGER `sv_entitlement_profiles_delete` AFTER DELETE ON `entitlement_profiles` FOR EACH ROW BEGIN INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1; END;
