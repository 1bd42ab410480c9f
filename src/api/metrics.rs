//! `GET /metrics`: Prometheus text exposition (format 0.0.4) of the in-process recorders
//! ([`scaivault_domain::metrics`]) and of gauges read from the store at scrape time.
//!
//! Unlike the probes it needs a bearer token: the families name every managed certificate's
//! domains and ids, and the job queues' activity, which is the inventory of what the service
//! protects. A scraper presents `[security] metrics_token` (which opens nothing else), or any
//! API token with `pki:read`.
//!
//! Each store-backed family is one statement (an aggregate or a single scan), run concurrently,
//! so a scrape's cost does not grow with extra round trips as certificates are added. A family
//! whose query fails is left out and `scaivault_metrics_store_up` is 0, so the in-process
//! metrics still reach the scraper while the database is unreachable.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use scaivault_domain::metrics::{self, Exposition, Kind};
use scaivault_domain::order::OrderStatus;
use scaivault_domain::scope::Scope;
use scaivault_domain::timestamp::to_millis;
use scaivault_jobs::Job;

use super::auth;
use super::error::ApiError;
use crate::state::AppState;

/// The queues whose depth is always shown (zero when empty).
const QUEUES: [&str; 3] = [
    scaivault_jobs::RenewalTask::QUEUE,
    scaivault_jobs::ScanTask::QUEUE,
    scaivault_jobs::WebhookDelivery::QUEUE,
];

/// apalis' task states, as the `state` label shows them (lower case).
const STATES: [&str; 6] = ["pending", "queued", "running", "done", "failed", "killed"];

/// A caller allowed to scrape: the metrics token, or an API token with `pki:read`.
#[derive(Debug)]
pub struct Scraper;

impl FromRequestParts<AppState> for Scraper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = auth::bearer(parts)?;
        if state.auth.is_metrics_token(presented) {
            return Ok(Scraper);
        }
        state
            .auth
            .authenticate(presented)
            .await?
            .require(Scope::PkiRead)?;
        Ok(Scraper)
    }
}

/// The exposition text.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "probes", security(("bearer" = ["pki:read"])),
    responses((status = 200, description = "Metrics in the Prometheus text format, version 0.0.4; needs `[security] metrics_token` or a token with `pki:read`", content_type = "text/plain", body = String)),
)]
pub async fn render(
    State(state): State<AppState>,
    _: Scraper,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let store = &state.store;
    let (orders, certificates, queues) = tokio::join!(
        store.order_counts_by_status(),
        store.certificate_expiries(),
        state.jobs.queue_depths(),
    );
    let mut out = Exposition::new();
    metrics::encode_process(&mut out, env!("CARGO_PKG_VERSION"));
    let mut store_up = true;

    match certificates {
        Ok(certificates) => {
            out.family(
                "scaivault_certificate_not_after_seconds",
                "Expiry (notAfter) of each valid managed certificate's current version, unix seconds.",
                Kind::Gauge,
            );
            for c in &certificates {
                out.sample(
                    "scaivault_certificate_not_after_seconds",
                    &[("certificate_id", &c.certificate_id), ("domain", &c.domain)],
                    seconds(c.not_after),
                );
            }
            out.family(
                "scaivault_certificate_renew_at_seconds",
                "When each valid managed certificate is due for renewal, unix seconds.",
                Kind::Gauge,
            );
            for c in &certificates {
                if let Some(renew_at) = c.renew_at {
                    out.sample(
                        "scaivault_certificate_renew_at_seconds",
                        &[("certificate_id", &c.certificate_id), ("domain", &c.domain)],
                        seconds(renew_at),
                    );
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "metrics: cannot read certificate expiries");
            store_up = false;
        }
    }

    match orders {
        Ok(rows) => {
            let mut counts: BTreeMap<String, i64> = OrderStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), 0))
                .collect();
            counts.extend(rows);
            out.family("scaivault_orders", "Orders by status.", Kind::Gauge);
            for (status, count) in &counts {
                out.sample("scaivault_orders", &[("status", status)], *count as f64);
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "metrics: cannot count orders");
            store_up = false;
        }
    }

    match queues {
        Ok(rows) => {
            let mut depth: BTreeMap<(String, String), i64> = QUEUES
                .iter()
                .flat_map(|q| {
                    STATES
                        .iter()
                        .map(move |s| (((*q).to_owned(), (*s).to_owned()), 0))
                })
                .collect();
            for row in rows {
                *depth
                    .entry((row.queue, row.status.to_ascii_lowercase()))
                    .or_default() += row.count;
            }
            out.family(
                "scaivault_job_queue_depth",
                "Tasks in each durable job queue by state (done and killed are apalis' history).",
                Kind::Gauge,
            );
            for ((queue, state), count) in &depth {
                out.sample(
                    "scaivault_job_queue_depth",
                    &[("queue", queue), ("state", state)],
                    *count as f64,
                );
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "metrics: cannot read the job queues");
            store_up = false;
        }
    }

    out.family(
        "scaivault_metrics_store_up",
        "1 when every store-backed family of this scrape could be read.",
        Kind::Gauge,
    );
    out.sample(
        "scaivault_metrics_store_up",
        &[],
        f64::from(u8::from(store_up)),
    );
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], out.finish())
}

/// Unix seconds, with the millisecond the store keeps.
fn seconds(at: time::OffsetDateTime) -> f64 {
    to_millis(at) as f64 / 1000.0
}
