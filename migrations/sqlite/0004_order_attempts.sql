-- An order may be placed at the CA again when validation failed only because the CA could not
-- reach this service (e.g. during a restart); ca_attempts counts the CA orders placed for it.

ALTER TABLE acme_orders ADD COLUMN ca_attempts INTEGER NOT NULL DEFAULT 1;
