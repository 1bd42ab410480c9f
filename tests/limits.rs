//! The API's limits through the real binary, each at its boundary: the request body size
//! (1 MiB, `payload_too_large`), domains per order (100, validated for real against Pebble),
//! page sizes (`limit` 1..=100 on every paginated list, malformed cursors refused), and bodies
//! of the wrong shape or type on every JSON endpoint. Orders per minute per token is tested in
//! tests/api_edge.rs (`orders_per_minute_per_token`).

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Db, domains, issuing, options, wait_final};
use scaivault_testkit::{ApiClient, PebbleOptions, Service};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `BODY_LIMIT` in src/api/mod.rs, as README.md documents it.
const BODY_LIMIT: usize = 1024 * 1024;
/// `MAX_LIMIT` in src/api/pagination.rs.
const MAX_PAGE: usize = 100;

/// Every endpoint that reads a JSON body, with a body of the right shape (refused or accepted
/// later for what it says, never for its form).
fn json_endpoints() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "POST",
            "/v1/auth/tokens",
            json!({"name": "limits", "scopes": ["pki:read"]}),
        ),
        ("PUT", "/v1/secrets/limits/a", json!({"value": "v"})),
        (
            "POST",
            "/v1/pki/acme/accounts",
            json!({"name": "a", "provider": "custom", "email": "a@b.co",
                   "directory_url": "http://127.0.0.1:9/dir"}),
        ),
        (
            "POST",
            "/v1/pki/acme/issue",
            json!({"account_id": "acme_missing", "domains": ["a.example.test"],
                   "challenge_type": "http-01"}),
        ),
        (
            "POST",
            "/v1/pki/revoke",
            json!({"serial_number": "01", "reason": "superseded", "use_acme": false}),
        ),
        (
            "POST",
            "/v1/pki/dns-providers",
            json!({"name": "x", "type": "rfc2136", "config": {}}),
        ),
        (
            "POST",
            "/v1/webhooks",
            json!({"url": "https://hooks.example.test/x", "events": ["certificate.issued"]}),
        ),
    ]
}

/// An answer read off the wire.
struct Answer {
    status: u16,
    headers: String,
    body: Value,
}

/// Sends one request over a fresh TCP connection, the body either with `Content-Length` or
/// chunked, and reads the whole answer. The server may answer before it read everything (a
/// refused body); a failed write is then expected and the answer is still read.
async fn send(
    service: &Service,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    chunked: bool,
) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", service.port()))
        .await
        .expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n",
        service.admin_token()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    let mut wire = Vec::with_capacity(body.len() + 1024);
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        wire.extend(head.as_bytes());
        for chunk in body.chunks(64 * 1024) {
            wire.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
            wire.extend(chunk);
            wire.extend(b"\r\n");
        }
        wire.extend(b"0\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        wire.extend(head.as_bytes());
        wire.extend(body);
    }
    let _ = stream.write_all(&wire).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let (headers, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {text:?}"));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no status: {headers}"));
    let body = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{method} {path}: the answer is not JSON ({e}): {body:?}"));
    Answer {
        status,
        headers: headers.to_lowercase(),
        body,
    }
}

/// `body` serialised and padded with trailing whitespace (valid JSON) to exactly `size` bytes.
fn padded(body: &Value, size: usize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(body).expect("json");
    assert!(bytes.len() <= size);
    bytes.resize(size, b' ');
    bytes
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or_default()
}

/// 1 MiB is accepted; one byte more is 413 `payload_too_large` in the API's error format, on
/// every JSON endpoint, whether the size is announced (`Content-Length`) or not (chunked).
#[tokio::test]
async fn body_size_limit() {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts).await;
    for (method, path, body) in json_endpoints() {
        for chunked in [false, true] {
            let over = send(
                &service,
                method,
                path,
                Some("application/json"),
                &padded(&body, BODY_LIMIT + 1),
                chunked,
            )
            .await;
            assert_eq!(
                (over.status, code(&over.body)),
                (413, "payload_too_large"),
                "{method} {path} (chunked: {chunked}): {}",
                over.body
            );
            assert_eq!(
                over.body["error"]["details"]["limit_bytes"], BODY_LIMIT,
                "{}",
                over.body
            );
            assert!(over.headers.contains("content-type: application/json"));
            assert!(over.headers.contains("x-request-id: "));

            let at = send(
                &service,
                method,
                path,
                Some("application/json"),
                &padded(&body, BODY_LIMIT),
                chunked,
            )
            .await;
            assert_ne!(
                at.status, 413,
                "{method} {path} (chunked: {chunked}): exactly the limit is read: {}",
                at.body
            );
            assert!(at.status < 500, "{method} {path}: {}", at.body);
        }
    }
    // Exactly the limit, and the request does what it says.
    let at = send(
        &service,
        "POST",
        "/v1/auth/tokens",
        Some("application/json"),
        &padded(
            &json!({"name": "at-the-limit", "scopes": ["pki:read"]}),
            BODY_LIMIT,
        ),
        true,
    )
    .await;
    assert_eq!(at.status, 201, "{}", at.body);
    let (_, tokens) = service.client().get("/v1/auth/tokens").await;
    assert!(tokens.to_string().contains("at-the-limit"), "{tokens}");
    // A bodiless endpoint does not read what it is sent, nor choke on it.
    let renew = send(
        &service,
        "POST",
        "/v1/pki/certificates/cert_missing/renew",
        Some("application/json"),
        &padded(&json!({}), BODY_LIMIT + 1),
        false,
    )
    .await;
    assert_eq!((renew.status, code(&renew.body)), (404, "not_found"));
    let log = service.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

/// Bodies of the wrong form, on every JSON endpoint: unknown fields and wrong types are
/// `invalid_request`, broken JSON `invalid_json`, a missing or non-JSON content type
/// `unsupported_media_type`; a JSON content type with parameters is JSON. (tests/api_edge.rs
/// covers the account body's individual fields.)
#[tokio::test]
async fn malformed_bodies_on_every_json_endpoint() {
    let (opts, _pg) = options(Db::Sqlite);
    let service = Service::start(opts).await;
    // Deep nesting (past serde_json's recursion limit of 128) crashes nothing: the typed body
    // is refused at the first value of the wrong shape.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for (method, path, good) in json_endpoints() {
        let mut unknown = good.clone();
        unknown["colour"] = json!("red");
        let first = good
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .expect("a field");
        let mut wrong_type = good.clone();
        wrong_type[first.as_str()] = json!([1, 2]);
        let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
            (
                Some("application/json"),
                serde_json::to_vec(&unknown).expect("json"),
                400,
                "invalid_request",
            ),
            (
                Some("application/json"),
                serde_json::to_vec(&wrong_type).expect("json"),
                400,
                "invalid_request",
            ),
            (
                Some("application/json"),
                b"[1, 2, 3]".to_vec(),
                400,
                "invalid_request",
            ),
            (Some("application/json"), Vec::new(), 400, "invalid_json"),
            (
                Some("application/json"),
                b"{,}".to_vec(),
                400,
                "invalid_json",
            ),
            (
                Some("application/json"),
                deep.as_bytes().to_vec(),
                400,
                "invalid_request",
            ),
            (
                Some("application/json"),
                b"{\"\xff\xfe\": 1}".to_vec(),
                400,
                "invalid_json",
            ),
            (
                None,
                serde_json::to_vec(&good).expect("json"),
                415,
                "unsupported_media_type",
            ),
            (
                Some("application/x-www-form-urlencoded"),
                b"name=a".to_vec(),
                415,
                "unsupported_media_type",
            ),
        ];
        for (content_type, body, status, want) in cases {
            let answer = send(&service, method, path, content_type, &body, false).await;
            assert_eq!(
                (answer.status, code(&answer.body)),
                (status, want),
                "{method} {path} {content_type:?} {:?}: {}",
                String::from_utf8_lossy(&body),
                answer.body
            );
            assert!(
                answer.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{}",
                answer.body
            );
        }
        // The shape errors name the field to fix.
        for (body, field) in [(&unknown, "colour"), (&wrong_type, first.as_str())] {
            let body = serde_json::to_vec(body).expect("json");
            let answer = send(
                &service,
                method,
                path,
                Some("application/json"),
                &body,
                false,
            )
            .await;
            let named = answer.body["error"]["details"]["field"].as_str();
            assert!(
                named
                    .is_some_and(|named| named == field || named.starts_with(&format!("{field}["))),
                "{method} {path}: names {field}: {}",
                answer.body
            );
        }
    }
    let answer = send(
        &service,
        "POST",
        "/v1/auth/tokens",
        Some("application/json; charset=utf-8"),
        br#"{"name": "charset", "scopes": ["pki:read"]}"#,
        false,
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let log = service.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

/// Lists `path` page by page with `limit`; every id, in order.
async fn walk(api: &ApiClient, path: &str, key: &str, limit: Option<usize>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = &cursor {
            query.push(format!("cursor={cursor}"));
        }
        let (status, page) = api.get(&format!("{path}?{}", query.join("&"))).await;
        assert_eq!(status, 200, "{page}");
        let rows = page[key].as_array().expect("rows");
        let max = limit.unwrap_or(50);
        assert!(rows.len() <= max, "{} rows over limit {max}", rows.len());
        ids.extend(
            rows.iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(rows.len(), max, "only a full page has a next cursor");
                cursor = Some(next.to_owned());
            }
            None => return ids,
        }
    }
}

/// `limit` out of 1..=100 and malformed cursors are refused on every paginated list, with the
/// field named; in range, a page holds at most `limit` rows and the cursor walks all of them.
async fn pagination_caps(db: Db) {
    let (opts, _pg) = options(db);
    let service = Service::start(opts.set("webhooks", "allow_private_targets", "true")).await;
    let api = service.client();
    let mut created = BTreeSet::new();
    for i in 0..=MAX_PAGE {
        let (status, hook) = api
            .post(
                "/v1/webhooks",
                &json!({"url": format!("http://127.0.0.1:9/h{i}"), "events": ["certificate.issued"]}),
            )
            .await;
        assert_eq!(status, 201, "{hook}");
        created.insert(hook["id"].as_str().expect("id").to_owned());
    }
    let webhook = created.first().expect("a webhook").clone();

    // 101 rows: the default page is 50, the largest 100, and both walk every row once.
    for limit in [None, Some(MAX_PAGE), Some(1)] {
        let ids = walk(&api, "/v1/webhooks", "webhooks", limit).await;
        assert_eq!(ids.len(), MAX_PAGE + 1, "limit {limit:?}");
        assert_eq!(
            ids.iter().cloned().collect::<BTreeSet<_>>(),
            created,
            "limit {limit:?}"
        );
    }
    let (_, first) = api.get("/v1/webhooks?limit=100").await;
    assert_eq!(first["webhooks"].as_array().expect("rows").len(), MAX_PAGE);

    let deliveries = format!("/v1/webhooks/{webhook}/deliveries");
    for (path, key) in [
        ("/v1/pki/acme/orders", "orders"),
        ("/v1/pki/certificates", "certificates"),
        ("/v1/events", "events"),
        ("/v1/webhooks", "webhooks"),
        (deliveries.as_str(), "deliveries"),
    ] {
        for limit in ["1", "100"] {
            let (status, page) = api.get(&format!("{path}?limit={limit}")).await;
            assert_eq!(status, 200, "{path}?limit={limit}: {page}");
            assert!(page[key].is_array(), "{page}");
        }
        for limit in ["101", "1000", "0", "4294967296"] {
            let (status, answer) = api.get(&format!("{path}?limit={limit}")).await;
            assert_eq!(
                (status, code(&answer)),
                (400, "invalid_request"),
                "{path}?limit={limit}: {answer}"
            );
            assert_eq!(answer["error"]["details"]["field"], "limit", "{answer}");
        }
        for limit in ["-1", "abc", "1.5", ""] {
            let (status, answer) = api.get(&format!("{path}?limit={limit}")).await;
            assert_eq!(
                (status, code(&answer)),
                (400, "invalid_request"),
                "{path}?limit={limit}: {answer}"
            );
            assert_eq!(answer["error"]["details"]["field"], "limit", "{answer}");
        }
        for cursor in [
            "garbage",
            "123.",
            ".whk_x",
            "x.whk_x",
            "99999999999999999999.whk_x",
        ] {
            let (status, answer) = api.get(&format!("{path}?cursor={cursor}")).await;
            assert_eq!(
                (status, code(&answer)),
                (400, "invalid_request"),
                "{path}?cursor={cursor}: {answer}"
            );
            assert_eq!(answer["error"]["details"]["field"], "cursor", "{answer}");
        }
        // Well-formed but pointing nowhere: an ordinary (possibly empty) page.
        let (status, page) = api.get(&format!("{path}?cursor=1.nothing")).await;
        assert_eq!(status, 200, "{page}");
    }
}
on_both_backends!(pagination_caps);

/// An order of 100 names (the most) is accepted and validated by Pebble, every name over
/// http-01; 101 is refused naming `domains`.
async fn one_hundred_domains(db: Db) {
    let env = issuing(
        db,
        PebbleOptions {
            nonce_reject_percent: Some(0),
            ..Default::default()
        },
        &[],
    )
    .await;
    let api = env.service.client();
    let names = domains(101);
    let (status, refused) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": env.account_id, "domains": names, "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(
        (status, code(&refused)),
        (400, "invalid_request"),
        "{refused}"
    );
    assert_eq!(refused["error"]["details"]["field"], "domains");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("100")),
        "{refused}"
    );

    let hundred = &names[..100];
    let started = std::time::Instant::now();
    let (status, placed) = api
        .post(
            "/v1/pki/acme/issue",
            &json!({"account_id": env.account_id, "domains": hundred, "challenge_type": "http-01"}),
        )
        .await;
    assert_eq!(status, 202, "{placed}");
    assert_eq!(placed["domains"].as_array().map(Vec::len), Some(100));
    let done = wait_final(
        &api,
        placed["order_id"].as_str().expect("order id"),
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(done["status"], "valid", "{done}");
    eprintln!("100-name order valid after {:?}", started.elapsed());
    let answered = env
        .service
        .log_text()
        .matches("answered http-01 challenge")
        .count();
    assert!(
        answered >= 100,
        "Pebble fetched every name's http-01 response: {answered}"
    );
    let certificate = done["certificate_id"].as_str().expect("certificate");
    let (_, certificate) = api
        .get(&format!("/v1/pki/certificates/{certificate}"))
        .await;
    let sans: BTreeSet<&str> = certificate["versions"][0]["sans"]
        .as_array()
        .expect("sans")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let want: BTreeSet<&str> = hundred.iter().map(String::as_str).collect();
    assert_eq!(sans, want, "the certificate names all 100");
}
on_both_backends!(one_hundred_domains);
