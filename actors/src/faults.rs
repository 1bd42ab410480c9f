//! Fault injection for end-to-end tests of crash recovery: make each order's actor panic once at
//! a step, or end the process right after the CA accepted a revocation, or around the CA's
//! answer to an account key change. Part of the
//! configuration (`OrdersConfig`, `AccountsConfig`), never process-wide state, and in release
//! builds an empty type whose checks do nothing: only a debug build can be told to fail.

#[cfg(debug_assertions)]
use std::collections::HashSet;
#[cfg(debug_assertions)]
use std::sync::{Arc, Mutex, PoisonError};

/// The steps of an order's flow where [`Faults::order_step`] can panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStep {
    /// Before waiting for the CA to validate the answered challenges.
    Ready,
    /// Before finalising with the CSR.
    Finalize,
    /// Before downloading the certificate.
    Certificate,
}

impl OrderStep {
    const ALL: [OrderStep; 3] = [
        OrderStep::Ready,
        OrderStep::Finalize,
        OrderStep::Certificate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStep::Ready => "ready",
            OrderStep::Finalize => "finalize",
            OrderStep::Certificate => "certificate",
        }
    }
}

impl std::str::FromStr for OrderStep {
    type Err = String;

    fn from_str(step: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|known| known.as_str() == step)
            .ok_or_else(|| {
                format!("unknown order step {step:?}; known: ready, finalize, certificate")
            })
    }
}

/// Where an account key change (RFC 8555 §7.3.5) ends the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChangeCrash {
    /// The new key is stored as pending; the CA has not been asked.
    BeforeCa,
    /// The CA accepted the new key; the store still has it as pending only.
    AfterCa,
}

impl std::str::FromStr for KeyChangeCrash {
    type Err = String;

    fn from_str(at: &str) -> Result<Self, String> {
        match at {
            "before_ca" => Ok(KeyChangeCrash::BeforeCa),
            "after_ca" => Ok(KeyChangeCrash::AfterCa),
            other => Err(format!(
                "unknown key change crash point {other:?}; known: before_ca, after_ca"
            )),
        }
    }
}

/// Which faults to inject (none by default).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    #[cfg(debug_assertions)]
    panic_at: Option<OrderStep>,
    #[cfg(debug_assertions)]
    exit_after_ca_revocation: bool,
    #[cfg(debug_assertions)]
    key_change_crash: Option<KeyChangeCrash>,
    /// Orders that already panicked at their step: each panics once.
    #[cfg(debug_assertions)]
    done: Arc<Mutex<HashSet<String>>>,
}

impl Faults {
    /// Each order's actor panics the first time it reaches `step` (debug builds only).
    #[cfg(debug_assertions)]
    pub fn panic_at(mut self, step: OrderStep) -> Self {
        self.panic_at = Some(step);
        self
    }

    /// The process exits (status 86) right after the CA accepted a revocation and before
    /// anything is marked here: the worst moment to crash (debug builds only).
    #[cfg(debug_assertions)]
    pub fn exit_after_ca_revocation(mut self) -> Self {
        self.exit_after_ca_revocation = true;
        self
    }

    /// The process exits (status 86) at `at` of every account key change (debug builds only).
    #[cfg(debug_assertions)]
    pub fn crash_at_key_change(mut self, at: KeyChangeCrash) -> Self {
        self.key_change_crash = Some(at);
        self
    }

    /// Ends the process if told to at this point of a key change.
    pub(crate) fn key_change_step(&self, at: KeyChangeCrash) {
        #[cfg(debug_assertions)]
        if self.key_change_crash == Some(at) {
            tracing::error!(at = ?at, "fault injection: exiting during an account key change");
            std::process::exit(86);
        }
        #[cfg(not(debug_assertions))]
        let _ = at;
    }

    /// Panics if `order_id` reached the step to fail at for the first time.
    pub(crate) fn order_step(&self, order_id: &str, step: OrderStep) {
        #[cfg(debug_assertions)]
        if self.panic_at == Some(step) {
            let first = self
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(order_id.to_owned());
            if first {
                panic!("injected fault at step {}", step.as_str());
            }
        }
        #[cfg(not(debug_assertions))]
        let _ = (order_id, step);
    }

    /// Ends the process if told to, right after the CA revoked.
    pub(crate) fn after_ca_revocation(&self) {
        #[cfg(debug_assertions)]
        if self.exit_after_ca_revocation {
            tracing::error!("fault injection: exiting after the CA revoked, before marking");
            std::process::exit(86);
        }
    }
}
