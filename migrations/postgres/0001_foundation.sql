-- Foundation: key/value metadata, API tokens, sealed secrets, ACME accounts.
-- Times are unix milliseconds (BIGINT) so both backends sort and compare them the same way.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT
);

CREATE TABLE secrets (
    path       TEXT PRIMARY KEY NOT NULL,
    sealed     BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE acme_accounts (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL UNIQUE,
    provider           TEXT NOT NULL,
    environment        TEXT NOT NULL,
    directory_url      TEXT NOT NULL,
    email              TEXT NOT NULL,
    status             TEXT NOT NULL,
    account_url        TEXT NOT NULL,
    eab_kid            TEXT,
    sealed_credentials BYTEA NOT NULL,
    created_at         BIGINT NOT NULL,
    deactivated_at     BIGINT
);

CREATE INDEX acme_accounts_created ON acme_accounts (created_at);
