-- dns-01 orders that name no DNS provider go to the provider whose zone contains their names:
-- each provider's configured zones (JSON array of names), and at most one default provider for
-- names no zone contains.
ALTER TABLE dns_providers ADD COLUMN zones TEXT NOT NULL DEFAULT '[]';
ALTER TABLE dns_providers ADD COLUMN is_default BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX dns_providers_one_default ON dns_providers (is_default) WHERE is_default = 1;
