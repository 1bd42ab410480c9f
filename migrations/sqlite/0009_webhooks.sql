-- Webhooks: subscriptions (the secret sealed with the webhook id as associated data), one
-- delivery per event and subscribed webhook (written in the event's own transaction), and every
-- attempt at a delivery. Deleting a webhook deletes its deliveries and their attempts.

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,          -- JSON array of event types, or ["*"]
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE INDEX webhooks_created ON webhooks (created_at, id);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES events (id),
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,       -- the exact body of every attempt
    status           TEXT NOT NULL,       -- pending, delivered, failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_status_code INTEGER,
    next_attempt_at  INTEGER,
    delivered_at     INTEGER,
    queued_at        INTEGER,             -- NULL until the first attempt is in the job queue
    created_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_unqueued ON webhook_deliveries (created_at, id)
    WHERE queued_at IS NULL;

CREATE TABLE webhook_delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
