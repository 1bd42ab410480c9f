-- The event log: what happened to certificates and orders, for GET /v1/events and (later)
-- webhook deliveries.

CREATE TABLE events (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    data       TEXT NOT NULL
);

CREATE INDEX events_created ON events (created_at, id);
CREATE INDEX events_kind_created ON events (kind, created_at, id);
