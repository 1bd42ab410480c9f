//! Seeding a store with many managed certificates, straight in SQL (a benchmark tool may; the
//! service may not outside `store/`).
//!
//! One certificate issued through the API is the template: every seeded certificate copies its
//! account, key type, chain (a real PEM, reused) and sealed key, and gets its own id, name,
//! serial, order (status `valid`) and version 1. The fleet is 90-day certificates issued
//! uniformly over the last 58 days (plus one hour), so `not_after` spreads over the next 32–90
//! days and `renew_at` (30 days before expiry, as `[renewal] before_expiry`, minus up to an
//! hour of jitter) over the next 2–60 days: nothing is due while the benchmark runs.

/// Days of lifetime, as Let's Encrypt's classic certificates.
const LIFETIME_MS: i64 = 90 * 86_400_000;
/// `renew_at` = `not_before` + 60 days (a third of the lifetime left).
const RENEW_AFTER_MS: i64 = 60 * 86_400_000;
/// Issued uniformly over this span before `now - 1 h`.
const SPREAD_MS: i64 = 58 * 86_400_000;

/// The statements, for `backend` `"sqlite"` or `"postgres"`, seeding `count` certificates
/// relative to `now_ms` (unix milliseconds).
pub fn seed_sql(backend: &str, count: usize, now_ms: i64) -> String {
    let sqlite = backend == "sqlite";
    let (seq, hex24, hex30, random, jobs) = if sqlite {
        (
            format!(
                "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) \
                 SELECT i FROM s"
            ),
            "printf('%024x', i)",
            "printf('%030x', i)",
            format!("(abs(random()) % {SPREAD_MS})"),
            "Jobs",
        )
    } else {
        (
            format!("SELECT generate_series(1, {count}) AS i"),
            "lpad(to_hex(i), 24, '0')",
            "lpad(to_hex(i), 30, '0')",
            format!("(random() * {SPREAD_MS})::bigint"),
            "apalis.jobs",
        )
    };
    let temp = if sqlite { "TEMP" } else { "TEMPORARY" };
    format!(
        "BEGIN;
CREATE {temp} TABLE seed AS SELECT i,
  'cert_' || {hex24} AS cert_id,
  'acme_order_' || {hex24} AS order_id,
  'ee' || {hex30} AS serial,
  '[\"s' || i || '.seed.example.test\"]' AS domains,
  {now_ms} - 3600000 - {random} AS not_before
FROM ({seq}) q;
INSERT INTO acme_orders (id, account_id, certificate_id, domains, challenge_type, key_type,
  csr_pem, profile, auto_renew, dns_provider_id, status, order_url, restarts, not_after,
  created_at, updated_at)
SELECT s.order_id, o.account_id, s.cert_id, s.domains, o.challenge_type, o.key_type, NULL,
  o.profile, 1, o.dns_provider_id, 'valid', o.order_url || '-seed-' || s.i, 0,
  s.not_before + {LIFETIME_MS}, s.not_before - 5000, s.not_before
FROM seed s, (SELECT * FROM acme_orders LIMIT 1) o;
INSERT INTO certificates (id, account_id, domains, challenge_type, key_type, dns_provider_id,
  profile, auto_renew, own_csr, current_version, status, serial_number, not_after, created_at,
  updated_at, renew_at)
SELECT s.cert_id, c.account_id, s.domains, c.challenge_type, c.key_type, c.dns_provider_id,
  c.profile, 1, 0, 1, 'valid', s.serial, s.not_before + {LIFETIME_MS}, s.not_before,
  s.not_before, s.not_before + {RENEW_AFTER_MS} - (s.i * 37 % 3600000)
FROM seed s, (SELECT * FROM certificates LIMIT 1) c;
INSERT INTO certificate_versions (certificate_id, version, order_id, serial_number, issuer, sans,
  not_before, not_after, chain_pem, sealed_key, status, created_at)
SELECT s.cert_id, 1, s.order_id, s.serial, v.issuer, s.domains, s.not_before,
  s.not_before + {LIFETIME_MS}, v.chain_pem, v.sealed_key, 'valid', s.not_before
FROM seed s, (SELECT * FROM certificate_versions LIMIT 1) v;
DROP TABLE seed;
DELETE FROM {jobs} WHERE job_type = 'renewals';
COMMIT;
"
    )
}

/// Live renewal tasks per certificate: `(valid auto-renewed certificates, of them with exactly
/// one live task, live renewal tasks in total)`, one row `a|b|c`.
pub fn one_task_each_sql(backend: &str) -> String {
    let jobs = if backend == "sqlite" {
        "Jobs"
    } else {
        "apalis.jobs"
    };
    let live = "j.job_type = 'renewals' AND j.status IN ('Pending', 'Queued', 'Running', 'Failed')";
    format!(
        "SELECT
  (SELECT COUNT(*) FROM certificates WHERE status = 'valid' AND auto_renew = 1),
  (SELECT COUNT(*) FROM certificates c WHERE c.status = 'valid' AND c.auto_renew = 1 AND
    (SELECT COUNT(*) FROM {jobs} j WHERE {live}
      AND j.idempotency_key >= 'renewal:' || c.id || ':'
      AND j.idempotency_key < 'renewal:' || c.id || ';') = 1),
  (SELECT COUNT(*) FROM {jobs} j WHERE {live});"
    )
}

/// The renewal task rows of one certificate (`key_prefix` = `renewal:<id>:`), as text: job,
/// status, attempts, max attempts, priority, metadata, key, `run_at` in seconds; to compare a
/// task the queue stored with one start-up's bulk insert stored.
pub fn task_rows_sql(backend: &str, key_prefix: &str) -> String {
    if backend == "sqlite" {
        format!(
            "SELECT CAST(job AS TEXT), status, attempts, max_attempts, priority, metadata, \
             idempotency_key, run_at, length(id) FROM Jobs WHERE job_type = 'renewals' \
             AND idempotency_key LIKE '{key_prefix}%' ORDER BY id"
        )
    } else {
        format!(
            "SELECT convert_from(job, 'UTF8'), status, attempts, max_attempts, priority, \
             metadata::text, idempotency_key, extract(epoch FROM run_at)::bigint, length(id) \
             FROM apalis.jobs WHERE job_type = 'renewals' \
             AND idempotency_key LIKE '{key_prefix}%' ORDER BY id"
        )
    }
}

/// The id of the one certificate before seeding (the template).
pub fn template_sql() -> String {
    "SELECT id FROM certificates LIMIT 1".to_owned()
}
