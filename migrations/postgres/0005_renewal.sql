-- Renewal: when each certificate is due, and at most one renewal order in flight per
-- certificate (a forced renewal during a pending one joins it instead of starting a second).

ALTER TABLE certificates ADD COLUMN renew_at BIGINT;

CREATE INDEX certificates_renew_at ON certificates (renew_at);

CREATE UNIQUE INDEX acme_orders_one_renewal_in_flight ON acme_orders (certificate_id)
    WHERE certificate_id IS NOT NULL AND status IN ('pending', 'ready', 'processing');
