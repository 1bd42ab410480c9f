//! Statements for webhooks, their deliveries and the deliveries' attempts, expanded as inherent
//! methods of each backend's store.
//!
//! [`sql_fan_out_event`] runs inside the transaction that inserts an event, so the deliveries
//! exist exactly when the event does: a crash right after the commit loses nothing, and the
//! dispatcher's sweep queues whatever was not queued yet (`queued_at IS NULL`).

macro_rules! webhook_columns {
    () => {
        "id, url, events, created_at"
    };
}

macro_rules! delivery_columns {
    () => {
        "id, webhook_id, event_id, event_type, payload, status, attempts, last_error, \
         last_status_code, next_attempt_at, delivered_at, created_at"
    };
}

macro_rules! webhook_methods {
    ($conn:ty, $row:ty) => {
        /// Creates a pending delivery of `event` for every webhook subscribed to its type,
        /// inside the caller's transaction (which inserted the event). Returns how many.
        async fn sql_fan_out_event(conn: &mut $conn, event: &Event) -> Result<u64> {
            // The LIKE narrows the candidates (the list is JSON text); the match is exact below.
            let rows = sqlx::query(
                "SELECT id, events FROM webhooks \
                 WHERE events LIKE '%\"*\"%' OR events LIKE '%\"' || $1 || '\"%'",
            )
            .bind(&event.kind)
            .fetch_all(&mut *conn)
            .await
            .map_err(query_error)?;
            if rows.is_empty() {
                return Ok(0);
            }
            let payload = serde_json::to_string(event)
                .map_err(|e| Error::Store(format!("event {}: {e}", event.id)))?;
            let mut created = 0;
            for row in &rows {
                let webhook_id: String = row.try_get("id").map_err(query_error)?;
                let events = from_json("events", &row.try_get::<String, _>("events").map_err(query_error)?)?;
                if !scaivault_domain::webhook::subscribes(&events, &event.kind) {
                    continue;
                }
                let done = sqlx::query(
                    "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, \
                     payload, status, attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6) \
                     ON CONFLICT (webhook_id, event_id) DO NOTHING",
                )
                .bind(scaivault_domain::webhook::new_delivery_id())
                .bind(&webhook_id)
                .bind(&event.id)
                .bind(&event.kind)
                .bind(&payload)
                .bind(to_millis(event.created_at))
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
                created += done.rows_affected();
            }
            Ok(created)
        }

        fn webhook_from_row(row: &$row) -> Result<WebhookRecord> {
            Ok(WebhookRecord {
                id: row.try_get("id").map_err(query_error)?,
                url: row.try_get("url").map_err(query_error)?,
                events: from_json(
                    "events",
                    &row.try_get::<String, _>("events").map_err(query_error)?,
                )?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
            })
        }

        fn delivery_from_row(row: &$row) -> Result<DeliveryRecord> {
            let millis = |column: &str| -> Result<Option<OffsetDateTime>> {
                Ok(row
                    .try_get::<Option<i64>, _>(column)
                    .map_err(query_error)?
                    .map(from_millis))
            };
            Ok(DeliveryRecord {
                id: row.try_get("id").map_err(query_error)?,
                webhook_id: row.try_get("webhook_id").map_err(query_error)?,
                event_id: row.try_get("event_id").map_err(query_error)?,
                event_type: row.try_get("event_type").map_err(query_error)?,
                status: parse_stored::<DeliveryStatus>(
                    "status",
                    &row.try_get::<String, _>("status").map_err(query_error)?,
                )?,
                attempts: row.try_get("attempts").map_err(query_error)?,
                last_error: row.try_get("last_error").map_err(query_error)?,
                last_status_code: row.try_get("last_status_code").map_err(query_error)?,
                next_attempt_at: millis("next_attempt_at")?,
                delivered_at: millis("delivered_at")?,
                created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                attempt_log: Vec::new(),
                payload: row.try_get("payload").map_err(query_error)?,
            })
        }

        fn delivery_attempt_from_row(row: &$row) -> Result<DeliveryAttempt> {
            Ok(DeliveryAttempt {
                delivery_id: row.try_get("delivery_id").map_err(query_error)?,
                attempt: row.try_get("attempt").map_err(query_error)?,
                at: from_millis(row.try_get("at").map_err(query_error)?),
                status_code: row.try_get("status_code").map_err(query_error)?,
                error: row.try_get("error").map_err(query_error)?,
                duration_ms: row.try_get("duration_ms").map_err(query_error)?,
            })
        }

        /// Hands each attempt (ordered by delivery and number) to its delivery.
        fn attach_attempts(deliveries: &mut [DeliveryRecord], attempts: Vec<DeliveryAttempt>) {
            for attempt in attempts {
                if let Some(delivery) = deliveries.iter_mut().find(|d| d.id == attempt.delivery_id)
                {
                    delivery.attempt_log.push(attempt);
                }
            }
        }

        async fn sql_insert_webhook(
            &self,
            webhook: &WebhookRecord,
            sealed_secret: &[u8],
        ) -> Result<()> {
            sqlx::query(concat!(
                "INSERT INTO webhooks (",
                webhook_columns!(),
                ", sealed_secret) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(&webhook.id)
            .bind(&webhook.url)
            .bind(to_json(&webhook.events)?)
            .bind(to_millis(webhook.created_at))
            .bind(sealed_secret)
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(())
        }

        async fn sql_get_webhook(&self, id: &str) -> Result<Option<WebhookRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                webhook_columns!(),
                " FROM webhooks WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?
            .map(|row| Self::webhook_from_row(&row))
            .transpose()
        }

        async fn sql_list_webhooks(
            &self,
            limit: u32,
            before: Option<(i64, String)>,
        ) -> Result<Vec<WebhookRecord>> {
            let (before_at, before_id) = before.unwrap_or((i64::MAX, String::new()));
            sqlx::query(concat!(
                "SELECT ",
                webhook_columns!(),
                " FROM webhooks WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) \
                 ORDER BY created_at DESC, id DESC LIMIT $3"
            ))
            .bind(before_at)
            .bind(before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::webhook_from_row)
            .collect()
        }

        async fn sql_webhook_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
            sqlx::query_scalar("SELECT sealed_secret FROM webhooks WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(query_error)
        }

        async fn sql_delete_webhook(&self, id: &str) -> Result<bool> {
            // Deliveries and their attempts go with it (ON DELETE CASCADE); a queued attempt
            // then finds its delivery gone and ends.
            let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_get_webhook_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>> {
            let Some(row) = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?
            else {
                return Ok(None);
            };
            let mut deliveries = [Self::delivery_from_row(&row)?];
            let attempts = sqlx::query(
                "SELECT delivery_id, attempt, at, status_code, error, duration_ms \
                 FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::delivery_attempt_from_row)
            .collect::<Result<Vec<_>>>()?;
            Self::attach_attempts(&mut deliveries, attempts);
            let [delivery] = deliveries;
            Ok(Some(delivery))
        }

        async fn sql_list_webhook_deliveries(
            &self,
            webhook_id: &str,
            limit: u32,
            before: Option<(i64, String)>,
        ) -> Result<Vec<DeliveryRecord>> {
            let (before_at, before_id) = before.unwrap_or((i64::MAX, String::new()));
            let mut deliveries = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE webhook_id = $1 \
                 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ))
            .bind(webhook_id)
            .bind(before_at)
            .bind(&before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::delivery_from_row)
            .collect::<Result<Vec<_>>>()?;
            if deliveries.is_empty() {
                return Ok(deliveries);
            }
            // The same page again as a subquery: the attempts of exactly these deliveries.
            let attempts = sqlx::query(
                "SELECT delivery_id, attempt, at, status_code, error, duration_ms \
                 FROM webhook_delivery_attempts WHERE delivery_id IN (\
                 SELECT id FROM webhook_deliveries WHERE webhook_id = $1 \
                 AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4) \
                 ORDER BY delivery_id, attempt",
            )
            .bind(webhook_id)
            .bind(before_at)
            .bind(&before_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::delivery_attempt_from_row)
            .collect::<Result<Vec<_>>>()?;
            Self::attach_attempts(&mut deliveries, attempts);
            Ok(deliveries)
        }

        async fn sql_unqueued_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>> {
            sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM webhook_deliveries WHERE queued_at IS NULL AND status = 'pending' \
                 ORDER BY created_at, id LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .iter()
            .map(Self::delivery_from_row)
            .collect()
        }

        async fn sql_mark_delivery_queued(&self, id: &str, at: OffsetDateTime) -> Result<()> {
            sqlx::query(
                "UPDATE webhook_deliveries SET queued_at = $2 WHERE id = $1 AND queued_at IS NULL",
            )
            .bind(id)
            .bind(to_millis(at))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(())
        }

        async fn sql_record_delivery_attempt(
            &self,
            attempt: &DeliveryAttempt,
            status: DeliveryStatus,
        ) -> Result<bool> {
            let mut tx = self.begin_write().await.map_err(query_error)?;
            // The write first, so SQLite holds the write lock for the whole transaction.
            let delivered_at = (status == DeliveryStatus::Delivered).then(|| to_millis(attempt.at));
            sqlx::query(
                "UPDATE webhook_deliveries SET \
                 attempts = CASE WHEN attempts > $2 THEN attempts ELSE $2 END, \
                 status = $3, last_error = COALESCE($4, last_error), last_status_code = $5, \
                 next_attempt_at = NULL, delivered_at = $6 \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(&attempt.delivery_id)
            .bind(attempt.attempt)
            .bind(status.as_str())
            .bind(&attempt.error)
            .bind(attempt.status_code)
            .bind(delivered_at)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            let recorded = sqlx::query(
                "INSERT INTO webhook_delivery_attempts \
                 (delivery_id, attempt, at, status_code, error, duration_ms) \
                 SELECT $1, $2, $3, $4, $5, $6 \
                 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1) \
                 ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at, \
                 status_code = excluded.status_code, error = excluded.error, \
                 duration_ms = excluded.duration_ms",
            )
            .bind(&attempt.delivery_id)
            .bind(attempt.attempt)
            .bind(to_millis(attempt.at))
            .bind(attempt.status_code)
            .bind(&attempt.error)
            .bind(attempt.duration_ms)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            Ok(recorded.rows_affected() == 1)
        }

        async fn sql_set_delivery_next_attempt(
            &self,
            id: &str,
            after: i64,
            next_attempt_at: Option<OffsetDateTime>,
        ) -> Result<()> {
            let done = match next_attempt_at {
                Some(at) => {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET next_attempt_at = $3 \
                         WHERE id = $1 AND status = 'pending' AND attempts <= $2",
                    )
                    .bind(id)
                    .bind(after)
                    .bind(to_millis(at))
                    .execute(&self.pool)
                    .await
                }
                None => {
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL \
                         WHERE id = $1 AND status = 'pending' AND attempts <= $2",
                    )
                    .bind(id)
                    .bind(after)
                    .execute(&self.pool)
                    .await
                }
            };
            done.map_err(query_error)?;
            Ok(())
        }
    };
}
