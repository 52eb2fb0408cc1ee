-- Down migration of 0008_service_key_revocations: the ledger of revoked service keys is lost (the keys keep
-- their revoked_at; a restore of a backup taken before a revocation would then bring that key back).
DROP TABLE `service_key_revocations`;
