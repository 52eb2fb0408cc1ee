-- Down migration of 0002_security_version_triggers: drops the security version triggers and their function.
DROP TRIGGER "sv_entitlement_profiles" ON "entitlement_profiles";
--> statement-breakpoint
DROP TRIGGER "sv_organizations" ON "organizations";
--> statement-breakpoint
DROP TRIGGER "sv_user_permissions" ON "user_permissions";
--> statement-breakpoint
DROP TRIGGER "sv_user_modules" ON "user_modules";
--> statement-breakpoint
DROP TRIGGER "sv_role_permissions" ON "role_permissions";
--> statement-breakpoint
DROP TRIGGER "sv_permissions" ON "permissions";
--> statement-breakpoint
DROP TRIGGER "sv_roles" ON "roles";
--> statement-breakpoint
DROP TRIGGER "sv_users" ON "users";
--> statement-breakpoint
DROP FUNCTION seedbed_bump_security_version();
