-- Revocation (RFC 8555 §7.6): when a version was revoked, why (an RFC 5280 §5.3.1 reason, as
-- the API spells it) and whether the CA was told (1) or the mark is ScaiVault's only (0). All
-- NULL while the version is not revoked. Versions are found by serial through the UNIQUE index
-- on certificate_versions.serial_number (0002), so no further index is needed.

ALTER TABLE certificate_versions ADD COLUMN revoked_at BIGINT;
ALTER TABLE certificate_versions ADD COLUMN revocation_reason TEXT;
ALTER TABLE certificate_versions ADD COLUMN revoked_via_acme BIGINT;
