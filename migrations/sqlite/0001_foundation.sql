-- Foundation: key/value metadata, API tokens, sealed secrets, ACME accounts.
-- Times are unix milliseconds (INTEGER) so both backends sort and compare them the same way.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);

CREATE TABLE secrets (
    path       TEXT PRIMARY KEY NOT NULL,
    sealed     BLOB NOT NULL,
    version    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
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
    sealed_credentials BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    deactivated_at     INTEGER
);

CREATE INDEX acme_accounts_created ON acme_accounts (created_at);
