//! Statements for the event log, expanded as inherent methods of each backend's store.

macro_rules! event_methods {
    () => {
        async fn sql_insert_event(&self, event: &Event) -> Result<()> {
            // The event and its webhook deliveries (webhooks_sql.rs) in one transaction.
            let mut tx = self.begin_write().await.map_err(query_error)?;
            sqlx::query("INSERT INTO events (id, kind, created_at, data) VALUES ($1, $2, $3, $4)")
                .bind(&event.id)
                .bind(&event.kind)
                .bind(to_millis(event.created_at))
                .bind(event.data.to_string())
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
            Self::sql_fan_out_event(&mut tx, event).await?;
            tx.commit().await.map_err(query_error)?;
            Ok(())
        }

        async fn sql_list_events(&self, query: &EventQuery) -> Result<Vec<Event>> {
            let (after_at, after_id) = query.after.clone().unwrap_or((i64::MIN, String::new()));
            let rows = match &query.kind {
                Some(kind) => {
                    sqlx::query(
                        "SELECT id, kind, created_at, data FROM events WHERE kind = $1 \
                     AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
                     ORDER BY created_at, id LIMIT $4",
                    )
                    .bind(kind)
                    .bind(after_at)
                    .bind(after_id)
                    .bind(i64::from(query.limit))
                    .fetch_all(&self.pool)
                    .await
                }
                None => {
                    sqlx::query(
                        "SELECT id, kind, created_at, data FROM events \
                     WHERE (created_at > $1 OR (created_at = $1 AND id > $2)) \
                     ORDER BY created_at, id LIMIT $3",
                    )
                    .bind(after_at)
                    .bind(after_id)
                    .bind(i64::from(query.limit))
                    .fetch_all(&self.pool)
                    .await
                }
            };
            rows.map_err(query_error)?
                .iter()
                .map(|row| {
                    let text = |column: &str| -> Result<String> {
                        row.try_get(column).map_err(query_error)
                    };
                    Ok(Event {
                        id: text("id")?,
                        kind: text("kind")?,
                        created_at: from_millis(row.try_get("created_at").map_err(query_error)?),
                        data: serde_json::from_str(&text("data")?)
                            .map_err(|e| Error::Store(format!("column data: {e}")))?,
                    })
                })
                .collect()
        }
    };
}
