-- Redeliveries: an operator may deliver an event to a webhook again, as a new delivery of the
-- same event (`redelivery_of` names the delivery it repeats). The fan-out of an event still
-- writes at most one delivery per webhook (a partial unique index, which the event's
-- `ON CONFLICT ... WHERE redelivery_of IS NULL` names); redeliveries are outside it.

ALTER TABLE webhook_deliveries ADD COLUMN redelivery_of TEXT;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_event_id_key;
CREATE UNIQUE INDEX webhook_deliveries_one_per_event ON webhook_deliveries (webhook_id, event_id)
    WHERE redelivery_of IS NULL;
