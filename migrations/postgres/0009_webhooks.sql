-- Webhooks: subscriptions (the secret sealed with the webhook id as associated data), one
-- delivery per event and subscribed webhook (written in the event's own transaction), and every
-- attempt at a delivery. Deleting a webhook deletes its deliveries and their attempts.

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY NOT NULL,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL,          -- JSON array of event types, or ["*"]
    sealed_secret BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE INDEX webhooks_created ON webhooks (created_at, id);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES events (id),
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,       -- the exact body of every attempt
    status           TEXT NOT NULL,       -- pending, delivered, failed
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_status_code BIGINT,
    next_attempt_at  BIGINT,
    delivered_at     BIGINT,
    queued_at        BIGINT,             -- NULL until the first attempt is in the job queue
    created_at       BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_unqueued ON webhook_deliveries (created_at, id)
    WHERE queued_at IS NULL;

CREATE TABLE webhook_delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status_code BIGINT,
    error       TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
