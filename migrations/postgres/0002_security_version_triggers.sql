-- Security version triggers: any change to the tables the access layer caches bumps
-- security_versions('access') in the same transaction, whoever writes (API, CLI, seeders,
-- restore, raw SQL). Replicas compare the counter before answering, so no cache serves a stale allow.
CREATE OR REPLACE FUNCTION seedbed_bump_security_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO security_versions (scope, version) VALUES ('access', 1) ON CONFLICT (scope) DO UPDATE SET version = security_versions.version + 1;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "sv_users" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF email, role, role_id, organization_id, reports_to_id, is_super_admin, is_company_admin, is_active, must_change_password, password_changed_at, password_hash ON "users" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_roles" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "roles" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_permissions" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "permissions" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_role_permissions" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "role_permissions" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_user_modules" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "user_modules" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_user_permissions" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "user_permissions" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_organizations" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF license_tier, enabled_modules, trial_ends, is_active, name ON "organizations" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
--> statement-breakpoint
CREATE TRIGGER "sv_entitlement_profiles" AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE ON "entitlement_profiles" FOR EACH STATEMENT EXECUTE FUNCTION seedbed_bump_security_version();
