CREATE TABLE "access_replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"applied_version" bigint NOT NULL,
	"lease_until_ms" bigint NOT NULL
);
