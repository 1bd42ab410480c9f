-- Accounts a CA paused for some identifiers: Let's Encrypt stops issuance for an (account,
-- identifier) pair after long repeated validation failures, until the subscriber visits the
-- self-service link the refusal names. Automatic renewals of certificates with a paused name are
-- held (probed again a day after `checked_at`), and the account's answers show the pause.
-- `unpause_url` carries a JWT that can unpause the account: shown to API callers, never logged.

CREATE TABLE account_pauses (
    account_id  TEXT NOT NULL REFERENCES acme_accounts (id) ON DELETE CASCADE,
    identifier  TEXT NOT NULL,
    unpause_url TEXT,
    paused_at   INTEGER NOT NULL,   -- the CA's first refusal
    checked_at  INTEGER NOT NULL,   -- its latest refusal
    PRIMARY KEY (account_id, identifier)
);
