//! Statements for a certificate's renewal plan (renew_at and the CA's ARI window), expanded
//! inside each backend's `impl Store`.

macro_rules! renewal_methods {
    () => {
        async fn sql_set_renewal_plan(
            &self,
            id: &str,
            version: i64,
            renew_at: OffsetDateTime,
            window: Option<(OffsetDateTime, OffsetDateTime)>,
        ) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE certificates SET renew_at = $3, ari_window_start = $4, ari_window_end = $5 \
                 WHERE id = $1 AND current_version = $2",
            )
            .bind(id)
            .bind(version)
            .bind(to_millis(renew_at))
            .bind(window.map(|(start, _)| to_millis(start)))
            .bind(window.map(|(_, end)| to_millis(end)))
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(done.rows_affected() == 1)
        }

        async fn sql_renewal_window(
            &self,
            id: &str,
        ) -> Result<Option<(OffsetDateTime, OffsetDateTime)>> {
            let row: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
                "SELECT ari_window_start, ari_window_end FROM certificates WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_error)?;
            Ok(match row {
                Some((Some(start), Some(end))) => Some((from_millis(start), from_millis(end))),
                _ => None,
            })
        }
    };
}
