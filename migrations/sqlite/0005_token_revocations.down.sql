-- Down migration of 0005_token_revocations: the revocations are lost (tokens logged out or revoked
-- become valid again until they expire; the token epoch in security_versions is kept).
DROP TABLE `token_revocations`;
