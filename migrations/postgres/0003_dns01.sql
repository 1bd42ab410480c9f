-- dns-01: configured DNS providers, and every TXT record an order wrote, so cleanup happens
-- after success, after failure, and after a restart interrupted the order.

CREATE TABLE dns_providers (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    config     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE dns_challenge_records (
    order_id    TEXT NOT NULL REFERENCES acme_orders (id),
    domain      TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    fqdn        TEXT NOT NULL,
    value       TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    next_try_at BIGINT NOT NULL DEFAULT 0,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (order_id, domain)
);

CREATE INDEX dns_challenge_records_state ON dns_challenge_records (state, next_try_at);
CREATE INDEX acme_orders_dns_provider ON acme_orders (dns_provider_id, status);
