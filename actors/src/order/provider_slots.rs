//! A bound on DNS provider API calls in flight, per provider (`[dns] max_concurrent_requests`).
//!
//! Why: a burst of dns-01 orders (a thousand placed at once, or a wave of renewals) would
//! otherwise become a burst of the same size against one account's DNS API, and the cloud APIs
//! throttle bursts (Route 53 allows five requests per second per account,
//! <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html>); BIND
//! serialises updates of a zone anyway. A slot covers one `present` or `clean_up` call, not
//! the propagation wait after it, so a slow nameserver never holds other orders back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Provider API calls in flight per provider when `[dns] max_concurrent_requests` is not set.
pub(crate) const DEFAULT_REQUESTS_PER_PROVIDER: usize = 8;

/// One semaphore per DNS provider id, created on first use.
#[derive(Debug)]
pub(crate) struct ProviderSlots {
    per_provider: usize,
    semaphores: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl ProviderSlots {
    /// `per_provider` calls in flight per provider (at least 1).
    pub(crate) fn new(per_provider: usize) -> Self {
        Self {
            per_provider: per_provider.max(1),
            semaphores: Mutex::default(),
        }
    }

    /// Waits for a free slot of `provider_id`; the slot is free again when the permit drops.
    pub(crate) async fn acquire(&self, provider_id: &str) -> OwnedSemaphorePermit {
        let semaphore = self
            .semaphores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(provider_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_provider)))
            .clone();
        // Never closed: the semaphore lives as long as the map.
        semaphore
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("provider semaphores are never closed"))
    }
}

impl Default for ProviderSlots {
    fn default() -> Self {
        Self::new(DEFAULT_REQUESTS_PER_PROVIDER)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs `calls` tasks per provider that each hold a slot for a moment; returns the peak
    /// number in flight per provider.
    async fn peaks(slots: Arc<ProviderSlots>, providers: &[&str], calls: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut tasks = Vec::new();
        let counters: Vec<(Arc<AtomicUsize>, Arc<AtomicUsize>)> = providers
            .iter()
            .map(|_| (Arc::default(), Arc::default()))
            .collect();
        for (provider, (now, peak)) in providers.iter().zip(&counters) {
            for _ in 0..calls {
                let (slots, now, peak) = (slots.clone(), now.clone(), peak.clone());
                let provider = provider.to_string();
                tasks.push(tokio::spawn(async move {
                    let _slot = slots.acquire(&provider).await;
                    let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(in_flight, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                }));
            }
        }
        for task in tasks {
            task.await.expect("task");
        }
        for (_, peak) in &counters {
            out.push(peak.load(Ordering::SeqCst));
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_limit_per_provider_and_providers_do_not_share() {
        let slots = Arc::new(ProviderSlots::new(3));
        assert_eq!(peaks(slots, &["dns_a", "dns_b"], 20).await, vec![3, 3]);
    }

    #[tokio::test]
    async fn zero_means_one() {
        let slots = Arc::new(ProviderSlots::new(0));
        assert_eq!(peaks(slots, &["dns_a"], 10).await, vec![1]);
    }
}
