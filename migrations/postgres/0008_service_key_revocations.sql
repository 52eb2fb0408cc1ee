CREATE TABLE "service_key_revocations" (
	"key_hash" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"revoked_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- Keys revoked before this migration: their revocations outlive a restore too.
INSERT INTO "service_key_revocations" ("key_hash", "prefix", "revoked_at") SELECT "key_hash", "prefix", "revoked_at" FROM "service_keys" WHERE "revoked_at" IS NOT NULL;
