//! Loading: defaults, files, the environment, and refusals that name the key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn rate_limits_per_provider() {
    let config = Config::load(
        None,
        env(&[
            (
                "SCAIVAULT_RATE_LIMITS__CUSTOM__CERTIFICATES_PER_DOMAIN",
                "2",
            ),
            ("SCAIVAULT_RATE_LIMITS__LETSENCRYPT__DUPLICATES", "0"),
            ("SCAIVAULT_RATE_LIMITS__CUSTOM__FAILED_AUTHORIZATIONS", "2"),
        ]),
    )
    .expect("config");
    let limits = config.provider_limits();
    let letsencrypt = limits.of("letsencrypt");
    assert_eq!(
        letsencrypt.orders_per_account,
        scaivault_domain::rate_limit::LETSENCRYPT.orders_per_account
    );
    assert_eq!(letsencrypt.duplicates, None, "0 is unlimited");
    let custom = limits.of("custom");
    let per_domain = custom.certificates_per_domain.expect("configured");
    assert_eq!(
        (per_domain.max, per_domain.window.as_secs()),
        (2, 7 * 86_400)
    );
    assert_eq!(custom.orders_per_account, None);
    // A missing window is Let's Encrypt's hour.
    let failures = custom.failed_authorizations.expect("configured");
    assert_eq!((failures.max, failures.window.as_secs()), (2, 3600));
    assert_eq!(
        letsencrypt.failed_authorizations,
        scaivault_domain::rate_limit::LETSENCRYPT.failed_authorizations
    );
    assert_eq!(limits.of("zerossl"), Default::default());
    assert_eq!(letsencrypt.pending_authorizations, Some(300));
    // Staging has its own, looser table by default.
    let staging = limits.of("letsencrypt_staging");
    assert_eq!(staging.orders_per_account.expect("staging").max, 1500);
    assert_eq!(staging.duplicates.expect("staging").max, 30_000);
    assert_eq!(staging.failed_authorizations.expect("staging").max, 60);
    assert!(
        refusal(&[("SCAIVAULT_RATE_LIMITS__NOSUCHCA__DUPLICATES", "1")])
            .contains("rate_limits.nosuchca")
    );
    assert!(
        refusal(&[("SCAIVAULT_RATE_LIMITS__CUSTOM__ORDERS_WINDOW", "0s")])
            .contains("rate_limits.custom.orders_window")
    );
    assert!(
        refusal(&[(
            "SCAIVAULT_RATE_LIMITS__CUSTOM__FAILED_AUTHORIZATIONS_WINDOW",
            "0s"
        )])
        .contains("rate_limits.custom.failed_authorizations_window")
    );
}

#[test]
fn default_loads() {
    let config = Config::load(None, env(&[])).expect("default config");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.database.url, "sqlite://data/scaivault.db");
    assert_eq!(config.renewal.before_expiry.0.as_secs(), 30 * 86400);
    assert_eq!(config.cluster.lease.0.as_secs(), 30);
}

#[test]
fn cluster_lease_from_the_environment_and_checked() {
    let config = Config::load(None, env(&[("SCAIVAULT_CLUSTER__LEASE", "3s")])).expect("config");
    assert_eq!(config.cluster.lease.0.as_secs(), 3);
    assert!(refusal(&[("SCAIVAULT_CLUSTER__LEASE", "0s")]).contains("cluster.lease"));
    assert!(refusal(&[("SCAIVAULT_CLUSTER__LEASE", "soon")]).contains("cluster.lease"));
    assert!(refusal(&[("SCAIVAULT_CLUSTER__LEASES", "3s")]).contains("leases"));
}

#[test]
fn request_bounds_default_and_at_least_one() {
    let config = Config::load(None, env(&[])).expect("default config");
    assert_eq!(config.acme.max_concurrent_requests, 32);
    assert_eq!(config.dns.max_concurrent_requests, 8);
    let config = Config::load(
        None,
        env(&[("SCAIVAULT_DNS__MAX_CONCURRENT_REQUESTS", "2")]),
    )
    .expect("config");
    assert_eq!(config.dns.max_concurrent_requests, 2);
    for key in ["ACME", "DNS"] {
        let var = format!("SCAIVAULT_{key}__MAX_CONCURRENT_REQUESTS");
        assert!(
            refusal(&[(var.as_str(), "0")])
                .contains(&format!("{}.max_concurrent_requests", key.to_lowercase()))
        );
    }
}

#[test]
fn environment_overrides() {
    let config = Config::load(
        None,
        env(&[
            (
                "SCAIVAULT_DATABASE__URL",
                "postgres://postgres@127.0.0.1/test",
            ),
            ("SCAIVAULT_DNS__RESOLVERS", r#"["127.0.0.53:53"]"#),
            ("SCAIVAULT_DNS__PROPAGATION_TIMEOUT", "5m"),
            ("SCAIVAULT_SERVER__ADMIN_LISTEN", ""),
            ("PATH", "/usr/bin"),
        ]),
    )
    .expect("config");
    assert_eq!(config.database.url, "postgres://postgres@127.0.0.1/test");
    assert_eq!(config.dns.resolvers[0].to_string(), "127.0.0.53:53");
    assert_eq!(config.dns.propagation_timeout.0.as_secs(), 300);
    assert_eq!(config.server.admin_listen, None);
    let webhooks = Config::load(
        None,
        env(&[
            ("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
            ("SCAIVAULT_WEBHOOKS__RETRY_BASE", "200ms"),
        ]),
    )
    .expect("config")
    .webhooks;
    assert!(webhooks.allow_private_targets);
    assert_eq!(webhooks.retry_base.0.as_millis(), 200);
    assert_eq!(webhooks.max_attempts, 10);
}

fn refusal(pairs: &[(&str, &str)]) -> String {
    Config::load(None, env(pairs))
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    assert!(refusal(&[("SCAIVAULT_SERVER__LISTN", "x")]).contains("server"));
    assert!(refusal(&[("SCAIVAULT_SERVER__LISTN", "x")]).contains("listn"));
    assert!(refusal(&[("SCAIVAULT_SERVER__LISTEN", "nowhere")]).contains("server.listen"));
    assert!(
        refusal(&[("SCAIVAULT_RENEWAL__BEFORE_EXPIRY", "soon")]).contains("renewal.before_expiry")
    );
    assert!(refusal(&[("SCAIVAULT_DATABASE__URL", "mysql://x")]).contains("database.url"));
    assert!(
        !refusal(&[("SCAIVAULT_DATABASE__URL", "mysql://u:hunter2@db")]).contains("hunter2"),
        "a refused URL's password is not echoed"
    );
    assert!(
        refusal(&[("SCAIVAULT_SECURITY__ADMIN_TOKEN", "short")]).contains("security.admin_token")
    );
    assert!(refusal(&[("SCAIVAULT_NOSECTION", "1")]).contains("SCAIVAULT_NOSECTION"));
    assert!(
        refusal(&[("SCAIVAULT_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "maybe")])
            .contains("webhooks.allow_private_targets")
    );
    assert!(
        refusal(&[("SCAIVAULT_WEBHOOKS__MAX_ATTEMPTS", "0")]).contains("webhooks.max_attempts")
    );
}

#[test]
fn explicit_file_must_exist_and_is_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    assert!(Config::load(Some(&missing), env(&[])).is_err());
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:9999\"\n[bogus]\nx = 1\n",
    )
    .expect("write");
    let message = Config::load(Some(&file), env(&[]))
        .expect_err("bogus section")
        .to_string();
    assert!(message.contains("bogus"), "{message}");
    std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:9999\"\n").expect("write");
    let config = Config::load(Some(&file), env(&[])).expect("partial file");
    assert_eq!(config.server.listen.port(), 9999);
    assert_eq!(config.database.url, "sqlite://data/scaivault.db");
}
