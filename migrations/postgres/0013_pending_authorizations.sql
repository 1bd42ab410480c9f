-- The local rate-limit ledger counts an account's pending authorizations before each new order
-- (the challenges of its pending orders): one index seek per order instead of a scan.
CREATE INDEX acme_orders_account_status ON acme_orders (account_id, status);
