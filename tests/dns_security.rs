//! DNS provider security through the running service: endpoints must be https and public
//! unless `[dns] allow_insecure_endpoints` (checked at creation and again when an order uses
//! the provider), a provider naming secrets needs `secrets:read`, and an order's error never
//! carries the provider API's raw answer.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Db, options, wait_final};
use scaivault_testkit::{Bind, BindOptions, Pebble, PebbleOptions, Service};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Stands for a secret a hostile or broken API echoes in an error answer.
const MARKER: &str = "svt-marker-5f1c9a0e-not-for-callers";

/// A local HTTP server that counts connections and answers every request with HTTP 400 and a
/// body that is not Cloudflare's error envelope but holds [`MARKER`].
struct FakeApi {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl FakeApi {
    async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = format!("upstream trace: token={MARKER}\nrequest was refused");
                    let answer = format!(
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeApi { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn provider(name: &str, kind: &str, config: Value) -> Value {
    json!({ "name": name, "type": kind, "config": config })
}

/// With the default policy, plain http, loopback, metadata and local-name endpoints are refused
/// at creation with the key and the reason, and nothing is created.
#[tokio::test]
async fn insecure_endpoints_are_refused_at_creation() {
    let fake = FakeApi::start().await;
    let port = fake.port;
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts.set("dns", "allow_insecure_endpoints", "false")).await;
    let api = service.client();
    let cloudflare = |endpoint: String| {
        provider(
            "cf",
            "cloudflare",
            json!({"api_token_path": "dns/cf/token", "zone_id": "z1", "endpoint": endpoint}),
        )
    };
    let google = provider(
        "g",
        "google_cloud_dns",
        json!({"service_account_json_path": "dns/g/key", "project": "p", "managed_zone": "z",
               "token_endpoint": format!("https://[::ffff:127.0.0.1]:{port}/token")}),
    );
    let azure = provider(
        "a",
        "azure_dns",
        json!({"tenant_id": "t", "client_id": "c", "client_secret_path": "dns/az/secret",
               "subscription_id": "s", "resource_group": "r", "zone": "example.test",
               "login_endpoint": "https://10.1.2.3/"}),
    );
    let cases = [
        (
            cloudflare(format!("http://127.0.0.1:{port}/client/v4")),
            "config.endpoint",
            "scheme",
        ),
        (
            cloudflare(format!("https://127.0.0.1:{port}/client/v4")),
            "config.endpoint",
            "loopback",
        ),
        (
            cloudflare("https://169.254.169.254/latest/meta-data/".into()),
            "config.endpoint",
            "metadata",
        ),
        (
            cloudflare(format!("https://localhost:{port}/client/v4")),
            "config.endpoint",
            "blocked_name",
        ),
        (google, "config.token_endpoint", "loopback"),
        (azure, "config.login_endpoint", "private"),
    ];
    for (body, field, reason) in cases {
        let (status, answer) = api.post("/v1/pki/dns-providers", &body).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        let error = &answer["error"];
        assert_eq!(error["code"], "invalid_request", "{answer}");
        assert_eq!(error["details"]["field"], field, "{answer}");
        assert_eq!(error["details"]["reason"], reason, "{answer}");
        let message = error["message"].as_str().expect("message");
        assert!(
            message.contains(field) && message.contains("[dns] allow_insecure_endpoints"),
            "says which key and which setting: {message}"
        );
    }
    // The default endpoint (the provider's public API) needs no check that could fail here.
    let (status, created) = api
        .post(
            "/v1/pki/dns-providers",
            &provider(
                "cf",
                "cloudflare",
                json!({"api_token_path": "dns/cf/token"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (_, list) = api.get("/v1/pki/dns-providers").await;
    assert_eq!(list["dns_providers"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        fake.connections(),
        0,
        "a refused endpoint is never contacted"
    );
}

/// A provider sends the secrets it names to its API: naming one takes `secrets:read`.
async fn secret_paths_need_secrets_read(db: Db) {
    let (opts, _pg) = options(db);
    let service = Service::start(opts).await;
    let api = service.client();
    let token = |scopes: Value| {
        let api = api.clone();
        async move {
            let (status, token) = api
                .post("/v1/auth/tokens", &json!({"name": "t", "scopes": scopes}))
                .await;
            assert_eq!(status, 201, "{token}");
            api.with_token(token["token"].as_str().expect("token"))
        }
    };
    let admin_only = token(json!(["admin"])).await;
    let body = provider(
        "cf",
        "cloudflare",
        json!({"api_token_path": "infra/any/secret", "zone_id": "z1"}),
    );
    let (status, refused) = admin_only.post("/v1/pki/dns-providers", &body).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    assert_eq!(
        refused["error"]["details"]["required_scope"], "secrets:read",
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("config.api_token_path") && message.contains("secrets:read"),
        "{message}"
    );
    let (_, list) = api.get("/v1/pki/dns-providers").await;
    assert_eq!(list["dns_providers"], json!([]), "nothing was created");

    let reader = token(json!(["admin", "secrets:read"])).await;
    let (status, created) = reader.post("/v1/pki/dns-providers", &body).await;
    assert_eq!(status, 201, "{created}");
}
on_both_backends!(secret_paths_need_secrets_read);

/// An order whose provider API answers an error with a body holding a secret ends invalid with
/// the status in its error but not the body; after a restart with the default policy, the same
/// provider's plain-http loopback endpoint is refused when the order uses it, without any
/// connection.
async fn order_errors_hold_no_answer_body_and_endpoints_are_checked_at_use(db: Db) {
    let fake = FakeApi::start().await;
    let bind = Bind::start(BindOptions::zones(["example.test"])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        ..Default::default()
    })
    .await;
    let (opts, _pg) = options(db);
    // The harness allows insecure endpoints by default (its provider fakes are local).
    let mut service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_timeout", "20s"),
    )
    .await;
    let api = service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &common::custom_account("dns-sec", &pebble),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().expect("id").to_owned();
    let (status, _) = api
        .put("/v1/secrets/dns/cf/token", &json!({"value": "cf-token"}))
        .await;
    assert_eq!(status, 201);
    let (status, created) = api
        .post(
            "/v1/pki/dns-providers",
            &provider(
                "cf",
                "cloudflare",
                json!({"api_token_path": "dns/cf/token", "zone_id": "023e105f4ecef8ad9ca31a8372d0c353",
                       "endpoint": format!("http://127.0.0.1:{}/client/v4", fake.port)}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let provider_id = created["id"].as_str().expect("id").to_owned();
    let issue = |api: scaivault_testkit::ApiClient| {
        let account_id = account_id.clone();
        let provider_id = provider_id.clone();
        async move {
            let name = common::domains(1).remove(0);
            let (status, placed) = api
                .post(
                    "/v1/pki/acme/issue",
                    &json!({"account_id": account_id, "domains": [name],
                            "challenge_type": "dns-01", "dns_provider_id": provider_id}),
                )
                .await;
            assert_eq!(status, 202, "{placed}");
            wait_final(
                &api,
                placed["order_id"].as_str().expect("order id"),
                Duration::from_secs(60),
            )
            .await
        }
    };

    let failed = issue(api.clone()).await;
    assert_eq!(failed["status"], "invalid", "{failed}");
    let message = failed["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("HTTP 400"),
        "the status is kept: {message}"
    );
    assert!(
        !message.contains(MARKER) && !message.contains("upstream trace"),
        "the raw answer stays out of the order: {message}"
    );
    assert!(fake.connections() > 0, "the provider API was called");

    // The same provider under the default policy: refused when used, before any connection.
    service.terminate().await;
    let mut config = service.config().clone();
    config.set("dns", "allow_insecure_endpoints", "false");
    std::fs::write(service.config_path(), config.render()).expect("rewrite the config");
    service.restart().await;
    let before = fake.connections();
    let refused = issue(service.client()).await;
    assert_eq!(refused["status"], "invalid", "{refused}");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("endpoint") && message.contains("[dns] allow_insecure_endpoints"),
        "says the endpoint was refused and by which setting: {message}"
    );
    assert_eq!(
        fake.connections(),
        before,
        "no connection to a refused endpoint"
    );
}
on_both_backends!(order_errors_hold_no_answer_body_and_endpoints_are_checked_at_use);
