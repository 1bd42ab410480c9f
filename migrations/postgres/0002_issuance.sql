-- Issuance: orders with their challenges, managed certificates with their versions.
-- Booleans are BIGINT 0/1 and lists are JSON text, identical on both backends.

CREATE TABLE acme_orders (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES acme_accounts (id),
    certificate_id  TEXT,
    domains         TEXT NOT NULL,
    challenge_type  TEXT NOT NULL,
    key_type        TEXT NOT NULL,
    csr_pem         TEXT,
    profile         TEXT,
    auto_renew      BIGINT NOT NULL,
    dns_provider_id TEXT,
    status          TEXT NOT NULL,
    order_url       TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    sealed_key      BYTEA,
    restarts        BIGINT NOT NULL DEFAULT 0,
    not_after       BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX acme_orders_created ON acme_orders (created_at, id);
CREATE INDEX acme_orders_status_created ON acme_orders (status, created_at, id);

CREATE TABLE acme_challenges (
    order_id          TEXT NOT NULL REFERENCES acme_orders (id),
    domain            TEXT NOT NULL,
    challenge_type    TEXT NOT NULL,
    status            TEXT NOT NULL,
    token             TEXT NOT NULL,
    key_authorization TEXT NOT NULL,
    authorization_url TEXT NOT NULL,
    challenge_url     TEXT NOT NULL,
    error             TEXT,
    PRIMARY KEY (order_id, domain)
);

-- The http-01 and tls-alpn-01 responders look challenges up by token and by domain.
CREATE INDEX acme_challenges_token ON acme_challenges (token);
CREATE INDEX acme_challenges_domain ON acme_challenges (domain, challenge_type);

CREATE TABLE certificates (
    id              TEXT PRIMARY KEY NOT NULL,
    account_id      TEXT NOT NULL REFERENCES acme_accounts (id),
    domains         TEXT NOT NULL,
    challenge_type  TEXT NOT NULL,
    key_type        TEXT NOT NULL,
    dns_provider_id TEXT,
    profile         TEXT,
    auto_renew      BIGINT NOT NULL,
    own_csr         BIGINT NOT NULL,
    current_version BIGINT NOT NULL,
    status          TEXT NOT NULL,
    serial_number   TEXT NOT NULL,
    not_after       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX certificates_created ON certificates (created_at, id);
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE certificate_versions (
    certificate_id TEXT NOT NULL REFERENCES certificates (id),
    version        BIGINT NOT NULL,
    order_id       TEXT NOT NULL UNIQUE,
    serial_number  TEXT NOT NULL UNIQUE,
    issuer         TEXT NOT NULL,
    sans           TEXT NOT NULL,
    not_before     BIGINT NOT NULL,
    not_after      BIGINT NOT NULL,
    chain_pem      TEXT NOT NULL,
    sealed_key     BYTEA,
    status         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (certificate_id, version)
);
