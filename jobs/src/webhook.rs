//! Webhook deliveries as durable jobs in the `webhooks` queue.
//!
//! The store writes one `pending` delivery per subscribed webhook in the same transaction as the
//! event (so nothing is lost to a crash); the dispatcher here queues the first attempt of each
//! delivery not queued yet — woken right after an event is recorded
//! ([`scaivault_actors::EventNotifier`]), at start and every [`SWEEP`] — keyed
//! `delivery:<id>:a<n>`, so queueing again is a no-op. Each attempt POSTs the event's exact JSON,
//! signed with the webhook's secret, to the addresses the SSRF guard checked
//! ([`crate::webhook_target`]); a 2xx answer delivers, anything else fails the attempt, which the
//! queue retries with durable exponential backoff (never sooner than a 429/503 `Retry-After`)
//! until `[webhooks] max_attempts`. Every attempt is recorded (number, time, HTTP status or
//! error, duration). A deleted webhook takes its deliveries with it, and a queued attempt that
//! finds its delivery gone ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use scaivault_actors::{EventNotifier, parse_retry_after};
use scaivault_domain::SharedStore;
use scaivault_domain::seal::MasterKey;
use scaivault_domain::timestamp;
use scaivault_domain::webhook::{
    DeliveryAttempt, DeliveryRecord, DeliveryStatus, WebhookRecord, secret_aad,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::webhook_target::{Host, check_target, host};
use crate::{FailedAttempt, Job, JobError, JobQueue};

/// The queue webhook deliveries are stored under.
pub const WEBHOOK_QUEUE: &str = "webhooks";
/// How often the dispatcher looks for deliveries that were not queued (besides being woken).
pub const SWEEP: Duration = Duration::from_secs(10);
/// Deliveries queued per store round trip.
const BATCH: u32 = 100;
/// `User-Agent` of every delivery.
pub const USER_AGENT_VALUE: &str = concat!("scaivault/", env!("CARGO_PKG_VERSION"));

/// One attempt at one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub delivery_id: String,
    /// Failed attempts before this one (0 for the first).
    pub attempt: u32,
}

impl Job for WebhookDelivery {
    const QUEUE: &'static str = WEBHOOK_QUEUE;

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn next_attempt(&self) -> Self {
        Self {
            attempt: self.attempt.saturating_add(1),
            ..self.clone()
        }
    }

    fn key(&self) -> Option<String> {
        Some(format!("delivery:{}:a{}", self.delivery_id, self.attempt))
    }

    fn subject(&self) -> String {
        self.delivery_id.clone()
    }
}

/// `[webhooks]` as the deliveries need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Skip the SSRF guard (trusted, internal receivers; tests).
    pub allow_private_targets: bool,
    /// Per attempt: connecting, sending and the receiver's answer.
    pub timeout: Duration,
}

/// `sha256=<lowercase hex HMAC-SHA256 of body keyed with secret>`: the `X-ScaiVault-Signature`
/// header value.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
    )
}

/// The webhook queue with what its attempts need.
#[derive(Clone)]
pub struct Webhooks {
    queue: JobQueue<WebhookDelivery>,
    store: SharedStore,
    key: MasterKey,
    settings: WebhookSettings,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("queue", &self.queue)
            .field("settings", &self.settings)
            .finish()
    }
}

/// A failed attempt: what to record and how long the receiver asked us to wait.
struct Failure {
    message: String,
    status_code: Option<u16>,
    retry_after: Option<Duration>,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status_code: None,
            retry_after: None,
        }
    }
}

impl Webhooks {
    /// `queue`'s `max_attempts` is the delivery attempt limit.
    pub fn new(
        queue: JobQueue<WebhookDelivery>,
        store: SharedStore,
        key: MasterKey,
        settings: WebhookSettings,
    ) -> Self {
        Self {
            queue,
            store,
            key,
            settings,
        }
    }

    /// The queue (for the dashboard).
    pub fn queue(&self) -> &JobQueue<WebhookDelivery> {
        &self.queue
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    /// Queues the first attempt of every pending delivery not queued yet; returns how many.
    /// Idempotent (the task key names the attempt), also across instances.
    pub async fn queue_pending(&self) -> Result<usize, String> {
        let mut queued = 0;
        loop {
            let batch = self
                .store
                .unqueued_deliveries(BATCH)
                .await
                .map_err(|err| err.to_string())?;
            let now = timestamp::now();
            for delivery in &batch {
                self.queue
                    .schedule(
                        WebhookDelivery {
                            delivery_id: delivery.id.clone(),
                            attempt: 0,
                        },
                        now,
                    )
                    .await
                    .map_err(|err| err.to_string())?;
                self.store
                    .mark_delivery_queued(&delivery.id, now)
                    .await
                    .map_err(|err| err.to_string())?;
            }
            queued += batch.len();
            if batch.len() < BATCH as usize {
                return Ok(queued);
            }
        }
    }

    /// Starts the dispatcher, woken by `recorded` besides its sweeps, and the delivery worker,
    /// until `shutdown`; the handle ends when both have stopped.
    pub fn start(
        &self,
        recorded: EventNotifier,
        shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let store = self.store.clone();
        self.queue
            .on_failure(move |failed: FailedAttempt<WebhookDelivery>| {
                let store = store.clone();
                tokio::spawn(async move {
                    // `None`: given up (the attempt already marked it failed when it could).
                    if let Err(err) = store
                        .set_delivery_next_attempt(
                            &failed.task.delivery_id,
                            i64::from(failed.task.attempt) + 1,
                            failed.next_attempt_at,
                        )
                        .await
                    {
                        tracing::warn!(delivery = %failed.task.delivery_id, error = %err,
                            "cannot record the next delivery attempt time");
                    }
                });
            });
        let this = self.clone();
        let worker = self.queue.run(
            move |task: WebhookDelivery| {
                let this = this.clone();
                async move { this.attempt(&task).await }
            },
            shutdown.clone(),
        );
        let dispatcher = tokio::spawn(self.clone().dispatch(recorded, shutdown));
        tokio::spawn(async move {
            let _ = dispatcher.await;
            let _ = worker.await;
        })
    }

    async fn dispatch(self, recorded: EventNotifier, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.queue_pending().await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "webhook deliveries queued"),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot queue webhook deliveries; trying again")
                }
            }
            tokio::select! {
                () = recorded.recorded() => {}
                () = tokio::time::sleep(SWEEP) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// One attempt: POST, record, and fail the task (to be retried) unless delivered.
    async fn attempt(&self, task: &WebhookDelivery) -> Result<(), JobError> {
        let store = &self.store;
        let Some(delivery) = store
            .get_webhook_delivery(&task.delivery_id)
            .await
            .map_err(JobError::new)?
        else {
            tracing::debug!(delivery = %task.delivery_id, "delivery gone (webhook deleted)");
            return Ok(());
        };
        if delivery.status != DeliveryStatus::Pending {
            tracing::debug!(delivery = %task.delivery_id, status = ?delivery.status, "delivery already settled");
            return Ok(());
        }
        // The webhook may be deleted between reading its delivery and here (its deliveries go
        // with it): the same end as a delivery found gone.
        let Some(webhook) = store
            .get_webhook(&delivery.webhook_id)
            .await
            .map_err(JobError::new)?
        else {
            tracing::debug!(delivery = %task.delivery_id, "delivery gone (webhook deleted)");
            return Ok(());
        };
        let sealed = store
            .webhook_secret(&webhook.id)
            .await
            .map_err(JobError::new)?
            .ok_or_else(|| JobError::new(format!("webhook {} has no secret", webhook.id)))?;
        let secret = self
            .key
            .open(&secret_aad(&webhook.id), &sealed)
            .map_err(JobError::new)?;

        let number = task.attempt.saturating_add(1);
        let at = timestamp::now();
        let started = Instant::now();
        let outcome = self.post(&webhook, &delivery, &secret).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let last = self
            .queue
            .options()
            .max_attempts
            .is_some_and(|max| number >= max);
        let (status, record, result) = match outcome {
            Ok(code) => (
                DeliveryStatus::Delivered,
                DeliveryAttempt {
                    delivery_id: delivery.id.clone(),
                    attempt: i64::from(number),
                    at,
                    status_code: Some(i64::from(code)),
                    error: None,
                    duration_ms,
                },
                Ok(()),
            ),
            Err(failure) => {
                let mut error = JobError::new(&failure.message);
                if let Some(wait) = failure.retry_after {
                    error = error.with_retry_after(wait);
                }
                (
                    if last {
                        DeliveryStatus::Failed
                    } else {
                        DeliveryStatus::Pending
                    },
                    DeliveryAttempt {
                        delivery_id: delivery.id.clone(),
                        attempt: i64::from(number),
                        at,
                        status_code: failure.status_code.map(i64::from),
                        error: Some(failure.message),
                        duration_ms,
                    },
                    Err(error),
                )
            }
        };
        match store.record_delivery_attempt(&record, status).await {
            Ok(true) => {}
            // Deleted meanwhile: nothing left to deliver.
            Ok(false) => {
                tracing::debug!(delivery = %delivery.id, "delivery gone (webhook deleted)");
                return Ok(());
            }
            // Unrecorded, the attempt counts as failed (the next one may deliver twice: the
            // receiver dedupes by X-ScaiVault-Delivery).
            Err(err) => {
                return Err(JobError::new(format!(
                    "cannot record delivery attempt {number}: {err}"
                )));
            }
        }
        match &result {
            Ok(()) => tracing::info!(delivery = %delivery.id, webhook = %webhook.id,
                event = %delivery.event_type, attempt = number, status = record.status_code,
                "webhook delivered"),
            Err(error) => {
                tracing::warn!(delivery = %delivery.id, webhook = %webhook.id,
                    event = %delivery.event_type, attempt = number, %error, gave_up = last,
                    "webhook delivery attempt failed");
                scaivault_domain::metrics::WEBHOOK_FAILURES.inc();
                if last {
                    scaivault_domain::metrics::WEBHOOK_GIVEN_UP.inc();
                }
            }
        }
        result
    }

    /// POSTs the delivery's payload to the webhook; the receiver's 2xx status, or why not.
    async fn post(
        &self,
        webhook: &WebhookRecord,
        delivery: &DeliveryRecord,
        secret: &[u8],
    ) -> Result<u16, Failure> {
        let url =
            Url::parse(&webhook.url).map_err(|err| Failure::new(format!("invalid URL: {err}")))?;
        // Checked now, and then connected to exactly these addresses (no second lookup).
        let addrs = check_target(&url, self.settings.allow_private_targets)
            .await
            .map_err(|refused| {
                Failure::new(if refused.reason == "unresolvable" {
                    refused.message
                } else {
                    format!("refused: {refused}")
                })
            })?;
        let client = pinned_client(&url, &addrs, self.settings.timeout)
            .map_err(|err| Failure::new(format!("HTTP client: {}", describe(&err))))?;
        let body = delivery.payload.clone();
        let response = client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header("X-ScaiVault-Event", header_value(&delivery.event_type)?)
            .header("X-ScaiVault-Delivery", header_value(&delivery.id)?)
            .header(
                "X-ScaiVault-Signature",
                header_value(&signature(secret, body.as_bytes()))?,
            )
            .body(body)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    Failure::new(format!(
                        "timed out after {}s",
                        self.settings.timeout.as_secs_f64()
                    ))
                } else {
                    Failure::new(describe(&err))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let retry_after = if matches!(status.as_u16(), 429 | 503) {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()))
                .map(|wait| wait.min(self.queue.options().backoff.max))
        } else {
            None
        };
        let mut message = format!("HTTP {status}");
        if status.is_redirection() {
            message.push_str(" (redirects are not followed)");
        }
        Err(Failure {
            message,
            status_code: Some(status.as_u16()),
            retry_after,
        })
    }
}

/// A client for one attempt: no proxy (it would connect elsewhere), no redirects (they would
/// go unchecked), and the checked addresses pinned for the URL's name.
fn pinned_client(
    url: &Url,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .pool_max_idle_per_host(0);
    if let Some(Host::Domain(name)) = host(url) {
        builder = builder.resolve_to_addrs(&name, addrs);
    }
    builder.build()
}

fn header_value(text: &str) -> Result<HeaderValue, Failure> {
    HeaderValue::from_str(text).map_err(|_| Failure::new(format!("invalid header value {text:?}")))
}

/// An HTTP client error with its causes, without the URL (which may carry a token).
fn describe(err: &reqwest::Error) -> String {
    let mut message = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(current) = source {
        let text = current.to_string();
        let text = text.split(" for url (").next().unwrap_or(&text).to_owned();
        if !text.is_empty() && !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = current.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keys_name_the_attempt() {
        let task = WebhookDelivery {
            delivery_id: "whd_1".into(),
            attempt: 0,
        };
        assert_eq!(task.key().as_deref(), Some("delivery:whd_1:a0"));
        assert_eq!(
            task.next_attempt().key().as_deref(),
            Some("delivery:whd_1:a1")
        );
    }

    /// Answers one request on 127.0.0.1 with `answer`; returns the port and the request head.
    async fn one_shot(answer: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&head).into_owned()
        });
        (port, task)
    }

    #[tokio::test]
    async fn the_pinned_address_is_used_and_redirects_are_not_followed() {
        // The name does not resolve anywhere: only the pinned address can be reached, and a
        // redirect comes back as the answer instead of being followed.
        let (port, request) = one_shot(
            "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let url = Url::parse(&format!("http://rebound.invalid:{port}/hook")).expect("url");
        let pinned = [SocketAddr::from(([127, 0, 0, 1], port))];
        let client = pinned_client(&url, &pinned, Duration::from_secs(5)).expect("client");
        let answer = client.post(url).body("{}").send().await.expect("sent");
        assert_eq!(answer.status().as_u16(), 302);
        let head = request.await.expect("request");
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        assert!(
            head.to_lowercase()
                .contains(&format!("host: rebound.invalid:{port}")),
            "{head}"
        );
    }
}
