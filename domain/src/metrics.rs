//! Process-wide metrics and their Prometheus text exposition (format version 0.0.4).
//!
//! The recorders are statics here, in the crate every other crate already depends on, so actors
//! (ACME latency, DNS propagation, renewals) and jobs (webhook failures) record into them without
//! a new dependency edge, and the HTTP edge renders them at scrape time together with the gauges
//! it reads from the store. Everything is in memory and per process: counters start at zero on
//! every start, which Prometheus' `rate()` and `increase()` handle as a counter reset.
//!
//! The encoder is written by hand because the service exposes a handful of counters, gauges and
//! fixed-bucket histograms; see
//! <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format> for the
//! rules it follows (label value escaping, cumulative `le` buckets ending in `+Inf`, `_sum` and
//! `_count`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket upper bounds (seconds) for ACME requests: a loopback Pebble answers in milliseconds, a
/// public CA in tens to hundreds, a CA under load in seconds.
pub const ACME_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket upper bounds (seconds) for dns-01 propagation: a local authoritative server serves a
/// record at once, a cloud DNS provider within seconds to minutes.
pub const DNS_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Latency of each ACME HTTP request, by endpoint kind and the account's provider (with
/// `_staging` for staging; `custom` for any caller-named CA, whose host must not become a label:
/// a caller could grow the series without bound).
pub static ACME_REQUESTS: HistogramVec = HistogramVec::new(
    "scaivault_acme_request_duration_seconds",
    "Duration of ACME HTTP requests (until the whole response is read), by endpoint and provider.",
    &["endpoint", "provider"],
    ACME_BUCKETS,
);

/// Time from writing a dns-01 TXT record until every authoritative nameserver served it.
pub static DNS_PROPAGATION: HistogramVec = HistogramVec::new(
    "scaivault_dns_propagation_seconds",
    "Time from writing a dns-01 TXT record until every authoritative nameserver served it.",
    &[],
    DNS_BUCKETS,
);

/// Automatic renewal attempts that produced a new certificate version.
pub static RENEWALS_SUCCEEDED: Counter = Counter::new();
/// Automatic renewal attempts that failed (each is retried with backoff).
pub static RENEWALS_FAILED: Counter = Counter::new();
/// Webhook delivery attempts that failed (non-2xx, timeout, refused target).
pub static WEBHOOK_FAILURES: Counter = Counter::new();
/// Webhook deliveries given up after their last attempt failed.
pub static WEBHOOK_GIVEN_UP: Counter = Counter::new();

/// Records one ACME request's duration; `provider` is a provider's table name
/// (`letsencrypt`, `letsencrypt_staging`, ..., `custom`).
pub fn observe_acme_request(endpoint: &str, provider: &str, took: Duration) {
    ACME_REQUESTS.observe(&[endpoint, provider], took.as_secs_f64());
}

/// The most series one histogram family keeps; observations for further label values go to one
/// series labelled `other`, so no input can grow the exposition without bound.
pub const MAX_SERIES: usize = 256;

/// The label value of the series that holds observations beyond [`MAX_SERIES`].
pub const OVERFLOW_LABEL: &str = "other";

/// Records one dns-01 record's propagation time.
pub fn observe_dns_propagation(took: Duration) {
    DNS_PROPAGATION.observe(&[], took.as_secs_f64());
}

/// A monotonically increasing count.
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

/// One histogram series: per-bucket counts (not cumulative; the encoder accumulates), sum and
/// count.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramData {
    /// `counts[i]` observations fell into `(bounds[i-1], bounds[i]]`; the last entry counts
    /// those above every bound (the `+Inf` bucket's share).
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl HistogramData {
    fn new(buckets: usize) -> Self {
        Self {
            counts: vec![0; buckets + 1],
            sum: 0.0,
            count: 0,
        }
    }
}

/// A histogram family with fixed buckets and a fixed set of label names; a series per distinct
/// label value list. The lock is held for a map lookup and three additions: recorders are ACME
/// requests and DNS checks, far from contention.
#[derive(Debug)]
pub struct HistogramVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    bounds: &'static [f64],
    series: Mutex<BTreeMap<Vec<String>, HistogramData>>,
}

impl HistogramVec {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Self {
            name,
            help,
            labels,
            bounds,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records `value` for the series named by `label_values` (in the family's label order).
    pub fn observe(&self, label_values: &[&str], value: f64) {
        debug_assert_eq!(label_values.len(), self.labels.len(), "{}", self.name);
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        let mut series = self.lock();
        let mut key: Vec<String> = label_values.iter().map(|v| (*v).to_owned()).collect();
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            key = vec![OVERFLOW_LABEL.to_owned(); label_values.len()];
        }
        let data = series
            .entry(key)
            .or_insert_with(|| HistogramData::new(self.bounds.len()));
        data.counts[bucket] += 1;
        data.sum += value;
        data.count += 1;
    }

    /// A copy of every series, by label values.
    pub fn snapshot(&self) -> BTreeMap<Vec<String>, HistogramData> {
        self.lock().clone()
    }

    /// Writes the family (HELP, TYPE and every series).
    pub fn encode(&self, out: &mut Exposition) {
        out.family(self.name, self.help, Kind::Histogram);
        let mut series = self.snapshot();
        if self.labels.is_empty() {
            // An unlabelled histogram has its one series from the start, zero until observed.
            series
                .entry(Vec::new())
                .or_insert_with(|| HistogramData::new(self.bounds.len()));
        }
        for (values, data) in series {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            out.histogram(self.name, &labels, self.bounds, &data);
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<String>, HistogramData>> {
        // A panic while holding the lock leaves consistent numbers (each update is complete
        // before the next statement), so a poisoned lock is still usable.
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes the in-process families: build info, renewals, webhook failures, ACME latency and DNS
/// propagation.
pub fn encode_process(out: &mut Exposition, version: &str) {
    out.family(
        "scaivault_build_info",
        "The running build; the value is always 1.",
        Kind::Gauge,
    );
    out.sample("scaivault_build_info", &[("version", version)], 1.0);
    out.family(
        "scaivault_renewals_total",
        "Automatic renewal attempts by result (a failure is retried with backoff).",
        Kind::Counter,
    );
    out.counter(
        "scaivault_renewals_total",
        &[("result", "success")],
        RENEWALS_SUCCEEDED.get(),
    );
    out.counter(
        "scaivault_renewals_total",
        &[("result", "failure")],
        RENEWALS_FAILED.get(),
    );
    out.family(
        "scaivault_webhook_delivery_failures_total",
        "Failed webhook delivery attempts (non-2xx answer, timeout or refused target).",
        Kind::Counter,
    );
    out.counter(
        "scaivault_webhook_delivery_failures_total",
        &[],
        WEBHOOK_FAILURES.get(),
    );
    out.family(
        "scaivault_webhook_deliveries_given_up_total",
        "Webhook deliveries marked failed after their last allowed attempt.",
        Kind::Counter,
    );
    out.counter(
        "scaivault_webhook_deliveries_given_up_total",
        &[],
        WEBHOOK_GIVEN_UP.get(),
    );
    ACME_REQUESTS.encode(out);
    DNS_PROPAGATION.encode(out);
}

/// A managed certificate's expiry, for the per-certificate gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateExpiry {
    pub certificate_id: String,
    /// The first of the certificate's names.
    pub domain: String,
    pub not_after: OffsetDateTime,
    pub renew_at: Option<OffsetDateTime>,
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A text exposition under construction. Callers write each family's `family` line pair first
/// and then its samples, keeping a family's samples together as the format requires.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// `# HELP` and `# TYPE` of a family.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        debug_assert!(valid_name(name), "{name}");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_into(&mut self.out, help, false);
        self.out.push('\n');
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line with a float value.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.series(name, labels, None);
        self.out.push(' ');
        push_float(&mut self.out, value);
        self.out.push('\n');
    }

    /// One sample line with an integer value (exact beyond 2^53).
    pub fn counter(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.series(name, labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// A histogram series: cumulative `_bucket` lines for each bound and `+Inf`, then `_sum`
    /// and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        data: &HistogramData,
    ) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += data.counts.get(i).copied().unwrap_or(0);
            let mut le = String::new();
            push_float(&mut le, *bound);
            self.series(&bucket, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        // `+Inf` counts everything, which is `_count` by definition.
        self.series(&bucket, labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", data.count);
        self.sample(&format!("{name}_sum"), labels, data.sum);
        self.counter(&format!("{name}_count"), labels, data.count);
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }

    /// `name{a="x",b="y"}` (or just `name`), with an `le` label appended for buckets.
    fn series(&mut self, name: &str, labels: &[(&str, &str)], le: Option<&str>) {
        self.out.push_str(name);
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let mut first = true;
        for (label, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
            debug_assert!(valid_name(label) && !label.contains(':'), "{label}");
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(label);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
        self.out.push('}');
    }
}

/// Escapes per the text format: in label values `\`, `"` and line feed; in HELP text `\` and
/// line feed.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A float as Go's `ParseFloat` reads it: `+Inf`, `-Inf`, `NaN`, or Rust's shortest
/// round-tripping decimal.
fn push_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{value}");
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, the metric name rule (label names additionally exclude `:`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = Exposition::new();
        out.family("m", "a \\ help\nwith \"quotes\"", Kind::Gauge);
        out.sample("m", &[("a", "back\\slash"), ("b", "q\"uote\nnl")], 1.5);
        assert_eq!(
            out.finish(),
            "# HELP m a \\\\ help\\nwith \"quotes\"\n\
             # TYPE m gauge\n\
             m{a=\"back\\\\slash\",b=\"q\\\"uote\\nnl\"} 1.5\n"
        );
    }

    #[test]
    fn samples_without_labels_and_special_values() {
        let mut out = Exposition::new();
        out.sample("a", &[], 1.0);
        out.sample("b", &[], f64::INFINITY);
        out.sample("c", &[], f64::NEG_INFINITY);
        out.sample("d", &[], f64::NAN);
        out.sample("e", &[], 1_700_000_000.0);
        out.counter("f", &[("x", "y")], u64::MAX);
        assert_eq!(
            out.finish(),
            "a 1\nb +Inf\nc -Inf\nd NaN\ne 1700000000\nf{x=\"y\"} 18446744073709551615\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        static H: HistogramVec = HistogramVec::new("h_seconds", "help", &["k"], &[0.25, 1.0, 10.0]);
        // On a bound counts into that bound's bucket (`le` is "less than or equal").
        for value in [0.125, 0.25, 0.5, 0.75, 20.0] {
            H.observe(&["x"], value);
        }
        H.observe(&["y\""], 2.0);
        let mut out = Exposition::new();
        H.encode(&mut out);
        let text = out.finish();
        assert_eq!(
            text,
            "# HELP h_seconds help\n\
             # TYPE h_seconds histogram\n\
             h_seconds_bucket{k=\"x\",le=\"0.25\"} 2\n\
             h_seconds_bucket{k=\"x\",le=\"1\"} 4\n\
             h_seconds_bucket{k=\"x\",le=\"10\"} 4\n\
             h_seconds_bucket{k=\"x\",le=\"+Inf\"} 5\n\
             h_seconds_sum{k=\"x\"} 21.625\n\
             h_seconds_count{k=\"x\"} 5\n\
             h_seconds_bucket{k=\"y\\\"\",le=\"0.25\"} 0\n\
             h_seconds_bucket{k=\"y\\\"\",le=\"1\"} 0\n\
             h_seconds_bucket{k=\"y\\\"\",le=\"10\"} 1\n\
             h_seconds_bucket{k=\"y\\\"\",le=\"+Inf\"} 1\n\
             h_seconds_sum{k=\"y\\\"\"} 2\n\
             h_seconds_count{k=\"y\\\"\"} 1\n"
        );
    }

    #[test]
    fn an_unlabelled_histogram_has_only_le() {
        static H: HistogramVec = HistogramVec::new("p", "help", &[], &[1.0]);
        H.observe(&[], 3.0);
        let mut out = Exposition::new();
        H.encode(&mut out);
        assert!(
            out.finish()
                .ends_with("p_bucket{le=\"1\"} 0\np_bucket{le=\"+Inf\"} 1\np_sum 3\np_count 1\n")
        );
    }

    #[test]
    fn an_unlabelled_histogram_shows_zeros_before_any_observation() {
        static H: HistogramVec = HistogramVec::new("z", "help", &[], &[1.0]);
        let mut out = Exposition::new();
        H.encode(&mut out);
        assert!(
            out.finish()
                .ends_with("z_bucket{le=\"1\"} 0\nz_bucket{le=\"+Inf\"} 0\nz_sum 0\nz_count 0\n")
        );
    }

    #[test]
    fn process_families_are_always_present() {
        let mut out = Exposition::new();
        encode_process(&mut out, "1.2.3");
        let text = out.finish();
        assert!(text.contains("scaivault_build_info{version=\"1.2.3\"} 1\n"));
        assert!(text.contains("# TYPE scaivault_acme_request_duration_seconds histogram\n"));
        assert!(text.contains("# TYPE scaivault_dns_propagation_seconds histogram\n"));
        assert!(text.contains("scaivault_renewals_total{result=\"failure\"} "));
        assert!(text.contains("scaivault_webhook_delivery_failures_total "));
    }

    #[test]
    fn the_series_count_is_bounded() {
        static FAMILY: HistogramVec = HistogramVec::new("t_bounded", "h", &["x"], &[1.0]);
        for i in 0..MAX_SERIES + 50 {
            FAMILY.observe(&[format!("v{i}").as_str()], 0.5);
        }
        let series = FAMILY.snapshot();
        assert_eq!(series.len(), MAX_SERIES + 1);
        assert_eq!(series[&vec![OVERFLOW_LABEL.to_owned()]].count, 50);
        // A series that exists keeps counting under its own labels.
        FAMILY.observe(&["v0"], 0.5);
        assert_eq!(FAMILY.snapshot()[&vec!["v0".to_owned()]].count, 2);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("scaivault_build_info"));
        assert!(valid_name("a:b_c1"));
        assert!(!valid_name("1abc"));
        assert!(!valid_name("a-b"));
        assert!(!valid_name(""));
    }
}
