-- Order leases: with several instances on one database, each unfinished order is driven by
-- exactly one instance at a time. The holder renews `expires_at` while its order actor runs and
-- deletes the row when the order ends or the instance shuts down; an instance that finds no row
-- or an expired one takes the order over (one atomic upsert decides who). Times are unix
-- milliseconds from the instances' clocks (keep them in sync, e.g. with NTP).

CREATE TABLE order_leases (
    order_id    TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL
);

CREATE INDEX order_leases_owner ON order_leases (owner);
CREATE INDEX order_leases_expires ON order_leases (expires_at);
