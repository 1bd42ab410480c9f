-- The CA's suggested renewal window (RFC 9773 §4.2) for the current version, unix millis; the
-- chosen renew_at inside it is kept while the window stays the same.
ALTER TABLE certificates ADD COLUMN ari_window_start BIGINT;
ALTER TABLE certificates ADD COLUMN ari_window_end BIGINT;
