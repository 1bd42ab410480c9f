//! Statements behind the store-backed gauges of `GET /metrics`, expanded inside each backend's
//! `impl Store`: one aggregate or one plain scan each, so a scrape costs one round trip per
//! family however many orders and certificates there are (no per-row follow-up queries).

use scaivault_domain::{Error, Result};

/// The first name of a `domains` column (a JSON array of strings) without building the whole
/// list: a 100-name certificate costs one string, not a hundred.
pub(crate) fn first_domain(text: &str) -> Result<String> {
    use serde::de::{Deserializer as _, IgnoredAny, SeqAccess, Visitor};

    struct First;

    impl<'de> Visitor<'de> for First {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-empty array of names")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<String, A::Error> {
            let first: String = seq
                .next_element()?
                .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_seq(First)
        .and_then(|first| de.end().map(|()| first))
        .map_err(|e| Error::Store(format!("column domains: {e}")))
}

macro_rules! metrics_methods {
    () => {
        async fn sql_order_counts_by_status(&self) -> Result<Vec<(String, i64)>> {
            sqlx::query_as(
                "SELECT status, COUNT(*) FROM acme_orders GROUP BY status ORDER BY status",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)
        }

        async fn sql_certificate_expiries(
            &self,
        ) -> Result<Vec<scaivault_domain::metrics::CertificateExpiry>> {
            let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
                "SELECT id, domains, not_after, renew_at FROM certificates \
                 WHERE status = 'valid' ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
            rows.into_iter()
                .map(|(id, domains, not_after, renew_at)| {
                    Ok(scaivault_domain::metrics::CertificateExpiry {
                        domain: crate::metrics_sql::first_domain(&domains)?,
                        certificate_id: id,
                        not_after: from_millis(not_after),
                        renew_at: renew_at.map(from_millis),
                    })
                })
                .collect()
        }
    };
}
