//! The API's edge behaviour through the real binary: authentication and scopes, the error
//! format for bad input, secrets sealed at rest, CA failures as clear errors, graceful shutdown.

#[macro_use]
mod common;

use common::{Db, custom_account, options, start};
use scaivault_contract::{ListSecrets, SecretList};
use scaivault_testkit::{Pebble, PebbleOptions, Service, free_port};
use serde_json::{Value, json};

/// A raw request, for bodies the typed client cannot send (malformed JSON, huge bodies).
async fn raw_post(
    service: &Service,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", service.base_url()))
        .bearer_auth(service.admin_token())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.expect("every answer is JSON");
    (status, body)
}

/// Sends one request line verbatim over TCP and returns the response's status line.
async fn raw_http_status(service: &Service, request_line: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", service.port()))
        .await
        .expect("connect");
    let request = format!(
        "{request_line} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        service.admin_token(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn tokens_and_scopes() {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts).await;
    let admin = service.client();

    let (status, body) = admin.without_token().get("/v1/pki/acme/accounts").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = admin
        .with_token("tok_abc.def")
        .get("/v1/pki/acme/accounts")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = admin
        .with_token("garbage")
        .get("/v1/pki/acme/accounts")
        .await;
    assert_eq!(status, 401);

    let (status, created) = admin
        .post(
            "/v1/auth/tokens",
            &json!({"name": "reader", "scopes": ["pki:read"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let value = created["token"]
        .as_str()
        .expect("value shown once")
        .to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    let reader = admin.with_token(value.clone());

    let (status, _) = reader.get("/v1/pki/acme/accounts").await;
    assert_eq!(status, 200);
    let (status, body) = reader
        .post(
            "/v1/pki/acme/accounts",
            &json!({"name": "x", "provider": "letsencrypt", "email": "a@b.co"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["details"]["required_scope"], "pki:write");
    let (status, body) = reader.post("/v1/pki/acme/accounts", &json!({})).await;
    assert_eq!(
        status, 403,
        "the scope is checked before the body is validated: {body}"
    );
    let (status, _) = reader.get("/v1/auth/tokens").await;
    assert_eq!(status, 403);
    let (status, _) = reader.get("/v1/secrets/a/b").await;
    assert_eq!(status, 403);

    let (status, list) = admin.get("/v1/auth/tokens").await;
    assert_eq!(status, 200);
    let listed = list["tokens"].as_array().expect("tokens");
    assert!(listed.iter().any(|t| t["id"] == id.as_str()));
    assert!(
        !list.to_string().contains(&value),
        "values are never listed"
    );

    let (status, body) = admin
        .post(
            "/v1/auth/tokens",
            &json!({"name": "bad", "scopes": ["pki:everything"]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );

    let (status, _) = admin.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = reader.get("/v1/pki/acme/accounts").await;
    assert_eq!(status, 401, "a deleted token stops working");
    let (status, _) = admin.delete(&format!("/v1/auth/tokens/{id}")).await;
    assert_eq!(status, 404);

    assert!(
        !service.log_text().contains(&value),
        "token values are never logged"
    );
}

#[tokio::test]
async fn bad_input_gets_documented_4xx_codes() {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts).await;
    let api = service.client();
    let cases = [
        (
            json!({"name": "a", "provider": "nope", "email": "a@b.co"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "custom", "email": "a@b.co"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "custom", "email": "a@b.co", "directory_url": "http://ca.test/dir"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "letsencrypt", "email": "not-an-email"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "letsencrypt", "environment": "qa", "email": "a@b.co"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "", "provider": "letsencrypt", "email": "a@b.co"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "letsencrypt"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "letsencrypt", "email": "a@b.co", "colour": "red"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "buypass", "email": "a@b.co"}),
            400,
            "provider_discontinued",
        ),
        (
            json!({"name": "a", "provider": "google", "email": "a@b.co"}),
            400,
            "eab_required",
        ),
        (
            json!({"name": "a", "provider": "letsencrypt", "email": "a@b.co",
                   "zerossl_api_key_path": "infra/zerossl/key"}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "google", "environment": "staging", "email": "a@b.co"}),
            400,
            "eab_required",
        ),
        (
            json!({"name": "a", "provider": "zerossl", "environment": "staging", "email": "a@b.co", "eab": {"kid": "k", "hmac_key": "aGk"}}),
            400,
            "invalid_request",
        ),
        (
            json!({"name": "a", "provider": "google", "email": "a@b.co", "eab": {"kid": "k", "hmac_key": "not base64!"}}),
            400,
            "invalid_request",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let (status, answer) = api.post("/v1/pki/acme/accounts", &body).await;
        assert_eq!(status, want_status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], want_code, "{body} -> {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    let (status, body) = raw_post(
        &service,
        "/v1/pki/acme/accounts",
        "application/json",
        b"{\"name\": ".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (status, body) = raw_post(
        &service,
        "/v1/pki/acme/accounts",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let mut huge = b"{\"value\": \"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
    huge.extend(b"\"}");
    let (status, body) =
        raw_post(&service, "/v1/pki/acme/accounts", "application/json", huge).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    let (status, body) = api.get("/v1/no/such/route").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = api.put("/v1/pki/acme/accounts", &json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, body) = api.get("/v1/pki/acme/accounts/acme_missing").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let (status, providers) = api.get("/v1/pki/acme/providers").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = providers["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["letsencrypt", "zerossl", "buypass", "google", "custom"]
    );
    let buypass = &providers["providers"][2];
    assert_eq!(buypass["status"], "discontinued");
    assert_eq!(
        providers["providers"][0]["environments"]["staging"],
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    );

    let log = service.log_text();
    assert!(!log.contains("panicked"), "nothing panicked:\n{log}");
}

async fn secrets_are_sealed(db: Db) {
    let (opts, pg) = options(db);
    let service = Service::start(opts).await;
    let api = service.client();
    let value = "route53-secret-access-key-VALUE-4711";
    let path = "/v1/secrets/infra/aws/route53/secret-access-key";

    let (status, created) = api.put(path, &json!({"value": value})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);
    assert!(
        created.get("value").is_none(),
        "a write does not echo the value"
    );
    let (status, replaced) = api.put(path, &json!({"value": format!("{value}-2")})).await;
    assert_eq!((status, replaced["version"].as_i64()), (200, Some(2)));
    let (status, read) = api.get(path).await;
    assert_eq!(status, 200);
    assert_eq!(read["value"], format!("{value}-2"));
    assert_eq!(read["path"], "infra/aws/route53/secret-access-key");

    for bad in ["/v1/secrets/a//b", "/v1/secrets/a%20b"] {
        let (status, body) = api.put(bad, &json!({"value": "x"})).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    // HTTP clients normalise `..` away; a raw request shows the service refuses it itself.
    let head = raw_http_status(&service, "PUT /v1/secrets/a/../b", r#"{"value":"x"}"#).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");

    let stored_in_plaintext = match &pg {
        Some(pg) => {
            pg.query(&format!(
                "SELECT count(*) FROM secrets WHERE position('{value}'::bytea in sealed) > 0"
            ))
            .trim()
                != "0"
        }
        None => std::fs::read_dir(service.data_dir())
            .expect("data dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("scaivault.db"))
            .any(|e| {
                let bytes = std::fs::read(e.path()).expect("read");
                bytes.windows(value.len()).any(|w| w == value.as_bytes())
            }),
    };
    assert!(!stored_in_plaintext, "secret values are sealed at rest");
    assert!(
        !service.log_text().contains(value),
        "secret values are never logged"
    );

    let (status, _) = api.delete(path).await;
    assert_eq!(status, 204);
    let (status, body) = api.get(path).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
on_both_backends!(secrets_are_sealed);

/// `GET /v1/secrets`: paths, versions and times, never a value; `prefix` narrows them byte for
/// byte, pages run newest first through `next_cursor`, and reading them needs `secrets:read`.
async fn secret_paths_are_listed_never_values(db: Db) {
    let (opts, _pg) = options(db);
    let service = Service::start(opts).await;
    let api = service.client();
    let value = "listed-secret-VALUE-0815";
    for path in ["infra/aws/key", "infra/aws_other/key", "dns/bind/tsig"] {
        api.create_secret(path, value).await.expect("created");
    }
    let (status, _) = api
        .put("/v1/secrets/infra/aws/key", &json!({ "value": "changed" }))
        .await;
    assert_eq!(status, 200);

    let list = |prefix: Option<&str>, limit: Option<u32>, cursor: Option<String>| {
        let api = api.clone();
        let query = ListSecrets {
            prefix: prefix.map(str::to_owned),
            limit,
            cursor,
        };
        async move { api.secrets(&query).await.expect("listed") }
    };
    let paths = |page: &SecretList| -> Vec<String> {
        page.secrets.iter().map(|s| s.path.clone()).collect()
    };
    // Newest first is pinned in the store's conformance tests; three requests may share a
    // millisecond, so here the set is compared.
    let sorted = |page: &SecretList| {
        let mut paths = paths(page);
        paths.sort();
        paths
    };
    let all = list(None, None, None).await;
    assert_eq!(
        sorted(&all),
        ["dns/bind/tsig", "infra/aws/key", "infra/aws_other/key"]
    );
    assert_eq!(all.next_cursor, None);
    let replaced = all
        .secrets
        .iter()
        .find(|s| s.path == "infra/aws/key")
        .expect("listed");
    assert_eq!(replaced.version, 2);
    assert!(replaced.updated_at > replaced.created_at);
    let (_, raw) = api.get("/v1/secrets").await;
    assert!(!raw.to_string().contains(value), "no value: {raw}");

    assert_eq!(
        sorted(&list(Some("infra/aws"), None, None).await),
        ["infra/aws/key", "infra/aws_other/key"]
    );
    assert_eq!(
        paths(&list(Some("infra/aws/"), None, None).await),
        ["infra/aws/key"]
    );
    assert!(list(Some("INFRA/"), None, None).await.secrets.is_empty());

    // One per page: every path once, in the same order.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(None, Some(1), cursor).await;
        seen.extend(page.secrets.iter().map(|s| s.path.clone()));
        assert!(seen.len() <= 3, "pages never end: {seen:?}");
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, paths(&all));

    for (query, field) in [
        ("?prefix=a%20b", "prefix"),
        ("?limit=101", "limit"),
        ("?cursor=nonsense", "cursor"),
        ("?colour=red", "colour"),
    ] {
        let (status, body) = api.get(&format!("/v1/secrets{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }

    let (_, token) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "writer", "scopes": ["secrets:write"]}),
        )
        .await;
    let writer = api.with_token(token["token"].as_str().expect("token"));
    let refused = writer
        .secrets(&ListSecrets::default())
        .await
        .expect_err("needs secrets:read");
    assert_eq!(refused.status, 403, "{refused}");
    // A path still reads its secret.
    let (status, one) = api.get("/v1/secrets/dns/bind/tsig").await;
    assert_eq!((status, one["value"].as_str()), (200, Some(value)));
}
on_both_backends!(secret_paths_are_listed_never_values);

#[tokio::test]
async fn ca_failures_are_clear_errors_never_500() {
    // A Pebble whose listener root the service does NOT trust, and a port nobody listens on.
    let untrusted = Pebble::start(PebbleOptions::default()).await;
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts).await;
    let api = service.client();

    let (status, body) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("untrusted", &untrusted),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "backend_error");
    // The caller learns the kind of failure; the handshake's detail (certificate names) is
    // only in the log.
    assert_eq!(body["error"]["details"]["failure"], "tls", "{body}");
    assert!(
        service.log_text().contains("UnknownIssuer"),
        "{}",
        service.log_tail()
    );

    let closed = free_port(std::net::Ipv4Addr::LOCALHOST.into());
    let mut unreachable = custom_account("unreachable", &untrusted);
    unreachable["directory_url"] = json!(format!("https://127.0.0.1:{closed}/dir"));
    let (status, body) = api.post("/v1/pki/acme/accounts", &unreachable).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "backend_error");
    assert!(
        body["error"]["details"]["directory_url"]
            .as_str()
            .expect("url")
            .contains(&closed.to_string())
    );

    let (_, list) = api.get("/v1/pki/acme/accounts").await;
    assert_eq!(
        list["accounts"],
        json!([]),
        "failed registrations leave nothing behind"
    );
}

#[tokio::test]
async fn graceful_shutdown_on_sigterm() {
    let mut env = start(Db::Sqlite, PebbleOptions::default()).await;
    let (status, _) = env
        .service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("before-stop", &env.pebble),
        )
        .await;
    assert_eq!(status, 201);
    let exit = env.service.terminate().await;
    assert!(exit.success(), "SIGTERM ends the service cleanly: {exit:?}");
    let log = env.service.log_text();
    assert!(log.contains("SIGTERM"), "{log}");
    env.service.restart().await;
    let (_, list) = env.service.client().get("/v1/pki/acme/accounts").await;
    assert_eq!(list["accounts"].as_array().expect("accounts").len(), 1);
}

#[tokio::test]
async fn readiness_reports_the_backend() {
    let (opts, _pg) = options(Db::Postgres);
    let service = Service::start(opts).await;
    let (status, body) = service.client().without_token().get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "postgres");
    assert_eq!(body["checks"]["database"], "ok");
}

/// `[server] orders_per_minute` caps orders per API token: the next one is 429 `rate_limited`
/// with `Retry-After`, before any other work; another token has its own allowance.
#[tokio::test]
async fn orders_per_minute_per_token() {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts.env("SCAIVAULT_SERVER__ORDERS_PER_MINUTE", "2")).await;
    let admin = service.client();
    let order = json!({"account_id": "acme_missing", "domains": ["a.example.test"],
                       "challenge_type": "http-01"});
    for _ in 0..2 {
        let (status, body) = admin.post("/v1/pki/acme/issue", &order).await;
        assert_eq!(status, 404, "{body}");
    }
    let refused = admin
        .raw(reqwest::Method::POST, "/v1/pki/acme/issue", Some(&order))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    let body: Value = serde_json::from_str(&refused.body).expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["error"]["details"]["retry_after"], retry_after);
    // Renewals count too.
    let (status, _) = admin
        .post("/v1/pki/certificates/cert_missing/renew", &json!({}))
        .await;
    assert_eq!(status, 429);

    let (status, created) = admin
        .post(
            "/v1/auth/tokens",
            &json!({"name": "other", "scopes": ["pki:write"]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let other = admin.with_token(created["token"].as_str().expect("token"));
    let (status, body) = other.post("/v1/pki/acme/issue", &order).await;
    assert_eq!(status, 404, "another token is not limited: {body}");
}

/// tls-alpn-01 with no `[challenges] tls_alpn01_listen`: nothing could answer the CA, so the
/// order is refused before the CA is asked, with the setting named.
#[tokio::test]
async fn tls_alpn01_without_a_responder_is_refused_at_once() {
    let env = start(Db::Sqlite, PebbleOptions::default()).await;
    let api = env.service.client();
    let account = common::register_custom(&api, "no-alpn", &env.pebble.directory_url()).await;
    let (status, body) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": account, "domains": common::domains(1),
                    "challenge_type": "tls-alpn-01"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["details"]["field"], "challenge_type");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("tls_alpn01_listen"), "{message}");
    let (_, orders) = api.get("/v1/pki/acme/orders").await;
    assert_eq!(orders["orders"], json!([]), "no order was placed");
}
