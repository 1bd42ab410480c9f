-- Redeliveries: an operator may deliver an event to a webhook again, as a new delivery of the
-- same event (`redelivery_of` names the delivery it repeats). The fan-out of an event still
-- writes at most one delivery per webhook (a partial unique index, which the event's
-- `ON CONFLICT ... WHERE redelivery_of IS NULL` names); redeliveries are outside it.
--
-- SQLite cannot drop a table's UNIQUE constraint, so the table is rebuilt. Foreign keys are on
-- and cannot be switched off inside the migration's transaction, where dropping
-- webhook_deliveries would cascade to the attempts: those are set aside first and put back.

CREATE TABLE webhook_delivery_attempts_kept AS SELECT * FROM webhook_delivery_attempts;
DROP TABLE webhook_delivery_attempts;

CREATE TABLE webhook_deliveries_rebuilt (
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
    redelivery_of    TEXT                 -- the delivery this one repeats; NULL for the event's own
);
INSERT INTO webhook_deliveries_rebuilt (id, webhook_id, event_id, event_type, payload, status,
    attempts, last_error, last_status_code, next_attempt_at, delivered_at, queued_at, created_at)
SELECT id, webhook_id, event_id, event_type, payload, status, attempts, last_error,
    last_status_code, next_attempt_at, delivered_at, queued_at, created_at
FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_rebuilt RENAME TO webhook_deliveries;

CREATE UNIQUE INDEX webhook_deliveries_one_per_event ON webhook_deliveries (webhook_id, event_id)
    WHERE redelivery_of IS NULL;
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
INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
SELECT delivery_id, attempt, at, status_code, error, duration_ms
FROM webhook_delivery_attempts_kept;
DROP TABLE webhook_delivery_attempts_kept;
