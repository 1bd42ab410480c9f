-- certificate.expiring fires once per version: the last version it was sent for.
ALTER TABLE certificates ADD COLUMN expiring_notified_version INTEGER;
