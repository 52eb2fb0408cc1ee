-- Down migration of 0009_credential_floors: the record of each user's latest password is lost (the users keep
-- their passwords; a restore of a backup taken before a password change would then bring the old one back).
DROP TABLE `credential_floors`;
