-- Down migration of 0002_security_version_triggers: drops the security version triggers.
DROP TRIGGER `sv_entitlement_profiles_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_entitlement_profiles_update`;
--> statement-breakpoint
DROP TRIGGER `sv_entitlement_profiles_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_organizations_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_organizations_update`;
--> statement-breakpoint
DROP TRIGGER `sv_organizations_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_user_permissions_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_user_permissions_update`;
--> statement-breakpoint
DROP TRIGGER `sv_user_permissions_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_user_modules_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_user_modules_update`;
--> statement-breakpoint
DROP TRIGGER `sv_user_modules_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_role_permissions_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_role_permissions_update`;
--> statement-breakpoint
DROP TRIGGER `sv_role_permissions_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_permissions_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_permissions_update`;
--> statement-breakpoint
DROP TRIGGER `sv_permissions_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_roles_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_roles_update`;
--> statement-breakpoint
DROP TRIGGER `sv_roles_insert`;
--> statement-breakpoint
DROP TRIGGER `sv_users_delete`;
--> statement-breakpoint
DROP TRIGGER `sv_users_update`;
--> statement-breakpoint
DROP TRIGGER `sv_users_insert`;
