//! Holes found by probing the running service as an attacker with one scope would, closed: a
//! token cannot grant scopes it lacks, a dashboard session ends with its token, and `/metrics`
//! needs a token.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::Db;
use reqwest::Method;
use reqwest::redirect::Policy;
use scaivault_testkit::{ApiClient, Service, free_port};
use serde_json::{Value, json};

/// A minted token: a client holding it, its id and its value.
struct Minted {
    client: ApiClient,
    id: String,
    value: String,
}

/// Mints a token with `scopes` through `api`.
async fn token(api: &ApiClient, name: &str, scopes: &[&str], expires_in: Option<&str>) -> Minted {
    let mut body = json!({ "name": name, "scopes": scopes });
    if let Some(expires_in) = expires_in {
        body["expires_in"] = json!(expires_in);
    }
    let (status, created) = api.post("/v1/auth/tokens", &body).await;
    assert_eq!(status, 201, "{created}");
    let value = created["token"].as_str().expect("token value").to_owned();
    Minted {
        client: api.with_token(&value),
        id: created["id"].as_str().expect("token id").to_owned(),
        value,
    }
}

async fn tokens_grant_only_scopes_their_creator_holds(db: Db) {
    let (opts, _pg) = common::options(db);
    let service = Service::start(opts).await;
    let api = service.client();
    let (status, _) = api
        .put(
            "/v1/secrets/infra/probe",
            &json!({ "value": "the-crown-jewels" }),
        )
        .await;
    assert_eq!(status, 201);

    let admin_only = token(&api, "admin-only", &["admin"], None).await.client;
    // `admin` alone cannot read secrets ...
    assert_eq!(admin_only.get("/v1/secrets/infra/probe").await.0, 403);
    // ... nor mint a token that can: 403 naming every scope it lacks, and nothing is created.
    let (status, refused) = admin_only
        .post(
            "/v1/auth/tokens",
            &json!({ "name": "escalate", "scopes": ["secrets:read", "pki:keys", "admin"] }),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    assert_eq!(
        refused["error"]["details"]["missing_scopes"],
        json!(["pki:keys", "secrets:read"]),
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("pki:keys") && message.contains("secrets:read"),
        "{refused}"
    );
    let (_, listed) = api.get("/v1/auth/tokens").await;
    assert!(
        !listed.to_string().contains("escalate"),
        "a refused token was stored: {listed}"
    );
    // What it holds it may hand on.
    let (status, created) = admin_only
        .post(
            "/v1/auth/tokens",
            &json!({ "name": "delegate", "scopes": ["admin"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // A token holding both may grant both.
    let keeper = token(&api, "keeper", &["admin", "secrets:read"], None)
        .await
        .client;
    let (status, created) = keeper
        .post(
            "/v1/auth/tokens",
            &json!({ "name": "reader", "scopes": ["secrets:read"] }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let reader = api.with_token(created["token"].as_str().expect("value"));
    let (status, secret) = reader.get("/v1/secrets/infra/probe").await;
    assert_eq!(status, 200, "{secret}");
}
on_both_backends!(tokens_grant_only_scopes_their_creator_holds);

/// A client that keeps cookies out of its own hands (they are sent explicitly) and does not
/// follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Logs in to the dashboard at `base` with `token`; returns the session cookie (`name=value`)
/// and its `Max-Age`.
async fn login(http: &reqwest::Client, base: &str, token: &str) -> (String, u64) {
    let resp = http
        .post(format!("{base}/login"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303, "login");
    let set_cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie text")
        .to_owned();
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let max_age = set_cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .expect("seconds");
    (cookie, max_age)
}

/// The status of the dashboard's API with `cookie`.
async fn board_status(http: &reqwest::Client, base: &str, cookie: &str) -> u16 {
    http.get(format!("{base}/api/v1/queues"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("board API")
        .status()
        .as_u16()
}

async fn dashboard_sessions_end_with_their_token(db: Db) {
    let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let base = format!("http://127.0.0.1:{port}");
    let (opts, _pg) = common::options(db);
    let service =
        Service::start(opts.set_str("server", "admin_listen", &format!("127.0.0.1:{port}"))).await;
    let api = service.client();
    let http = browser();

    // Deleting the token ends its session at once.
    let operator = token(&api, "operator", &["admin"], None).await;
    let (cookie, max_age) = login(&http, &base, &operator.value).await;
    assert_eq!(
        max_age,
        8 * 3600,
        "a token without expiry: the full session lifetime"
    );
    assert_eq!(board_status(&http, &base, &cookie).await, 200);
    let (status, _) = api
        .delete(&format!("/v1/auth/tokens/{}", operator.id))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        board_status(&http, &base, &cookie).await,
        401,
        "the session of a deleted token still works"
    );

    // A token that expires: the cookie says so, and the session ends with it.
    let short = token(&api, "short-lived", &["admin"], Some("3s")).await;
    let (cookie, max_age) = login(&http, &base, &short.value).await;
    assert!(max_age <= 3, "Max-Age {max_age} outlives the token");
    assert_eq!(board_status(&http, &base, &cookie).await, 200);
    // The browser would drop the cookie after Max-Age; the server must refuse it regardless.
    let deadline = Instant::now() + Duration::from_secs(20);
    while board_status(&http, &base, &cookie).await != 401 {
        assert!(
            Instant::now() < deadline,
            "the session outlived its expired token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
on_both_backends!(dashboard_sessions_end_with_their_token);

/// Scrapes `/metrics` with `client`; returns the status and body.
async fn scrape(client: &ApiClient) -> (u16, String) {
    let answer = client.raw(Method::GET, "/metrics", None).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn metrics_need_a_token() {
    const SCRAPE_TOKEN: &str = "scrape-only-0123456789abcdef";
    let (opts, _) = common::options(Db::Sqlite);
    let service = Service::start(opts.set_str("security", "metrics_token", SCRAPE_TOKEN)).await;
    let api = service.client();

    let (status, body) = scrape(&api.without_token()).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("scaivault_"), "{body}");
    let (status, body) = scrape(&api.with_token("not-the-metrics-token")).await;
    assert_eq!(status, 401, "{body}");

    // The scrape-only token opens /metrics and nothing else.
    let scraper = api.with_token(SCRAPE_TOKEN);
    let (status, body) = scrape(&scraper).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("scaivault_build_info"), "{body}");
    for path in ["/v1/pki/certificates", "/v1/auth/tokens", "/v1/events"] {
        assert_eq!(scraper.get(path).await.0, 401, "{path}");
    }

    // API tokens: pki:read scrapes, another scope does not.
    let reader = token(&api, "reader", &["pki:read"], None).await.client;
    assert_eq!(scrape(&reader).await.0, 200);
    let writer = token(&api, "writer", &["pki:write"], None).await.client;
    let (status, body) = scrape(&writer).await;
    assert_eq!(status, 403, "{body}");
    let refused: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(refused["error"]["details"]["required_scope"], "pki:read");
    // The probes stay open.
    assert_eq!(api.without_token().get("/healthz").await.0, 200);
}
