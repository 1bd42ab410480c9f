-- The local rate-limit ledger: one row per counted new order, certificate per registered domain
-- and exact set of names, checked against the provider's limits before an order is placed.
-- `scope` is the CA (its directory URL), `kind` one of order / certificate / duplicate,
-- `subject` the account id, registered domain or sorted names.

CREATE TABLE rate_ledger (
    id         TEXT PRIMARY KEY NOT NULL,
    scope      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX rate_ledger_key ON rate_ledger (scope, kind, subject, created_at);
CREATE INDEX rate_ledger_scope_created ON rate_ledger (scope, created_at);
