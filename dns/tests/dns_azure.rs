//! The Azure DNS provider against local fakes of the Microsoft identity platform token endpoint
//! and the Azure Resource Manager record sets API (2018-05-01), each checking requests against
//! the published API and answering as documented:
//!
//! - Token: `POST /{tenant}/oauth2/v2.0/token`, form-encoded `client_id`, `client_secret`,
//!   `scope=https://management.azure.com/.default`, `grant_type=client_credentials`; a wrong
//!   secret gets 401 `invalid_client` (AADSTS7000215) as Entra ID answers.
//! - Record sets: `GET`/`PUT`/`DELETE /subscriptions/{sub}/resourceGroups/{rg}/providers/
//!   Microsoft.Network/dnsZones/{zone}/TXT/{name}?api-version=2018-05-01` with
//!   `Authorization: Bearer {issued token}`; PUT bodies `{"properties":{"TTL","TXTRecords":
//!   [{"value":[…]}]}}`, `If-Match`/`If-None-Match` honoured with 412, 200/201 on PUT, 200/204
//!   on DELETE, 404 `NotFound` on a missing record set.

mod cloud_fake;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};
use cloud_fake::{Checks, Fault, Recorder, config, form, header, http, json, query, serve};
use scaivault_dns::{AzureDns, DnsError, DnsProvider};
use serde_json::{Value, json};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "00000000-aaaa-bbbb-cccc-111111111111";
const SECRET: &str = "s3cr3t~client.secret_value";
const SUBSCRIPTION: &str = "12345678-1234-1234-1234-123456789012";
const RG: &str = "dns-rg";
const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.example.test";
const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "Qz8nV2lq0cz8p7TbJQ2wq3p5wZ8rRr7e1u1jYVhW0xk";

#[derive(Clone, Debug)]
struct Stored {
    etag: String,
    properties: Value,
}

#[derive(Default)]
struct Fake {
    rec: Recorder,
    tokens: Mutex<HashSet<String>>,
    token_requests: AtomicUsize,
    /// Relative record set name → record set.
    sets: Mutex<BTreeMap<String, Stored>>,
    etags: AtomicUsize,
    /// Change the record set behind the client's back before the next PUT/DELETE.
    race: AtomicBool,
}

impl Fake {
    fn etag(&self) -> String {
        format!(
            "{:08x}-0000-0000-0000-000000000000",
            self.etags.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// The TXT values of a record set, each record's strings concatenated.
    fn values(&self, name: &str) -> Vec<String> {
        self.sets
            .lock()
            .unwrap()
            .get(name)
            .and_then(|s| s.properties["TXTRecords"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<String>()
            })
            .collect()
    }
}

async fn start() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let router = Router::new().fallback(handle).with_state(fake.clone());
    (fake, serve(router).await)
}

fn provider(base: &str, secret: &str) -> AzureDns {
    AzureDns::new(
        &config(&[
            ("tenant_id", TENANT),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("subscription_id", SUBSCRIPTION),
            ("resource_group", RG),
            ("zone", ZONE),
            ("endpoint", base),
            ("login_endpoint", base),
        ]),
        http(),
    )
    .expect("provider")
}

fn arm_error(status: u16, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    fake.rec.request(format!("{method} {}", uri.path()));
    if uri.path().ends_with("/oauth2/v2.0/token") {
        return token(&fake, &method, &uri, &headers, &body);
    }
    record_set(&fake, &method, &uri, &headers, &body)
}

fn token(
    fake: &Fake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    fake.token_requests.fetch_add(1, Ordering::Relaxed);
    let mut checks = Checks::default();
    checks.eq("token method", method, &Method::POST);
    checks.eq(
        "token path",
        uri.path(),
        format!("/{TENANT}/oauth2/v2.0/token").as_str(),
    );
    checks.check(
        header(headers, "content-type").starts_with("application/x-www-form-urlencoded"),
        || format!("token content-type {:?}", header(headers, "content-type")),
    );
    let f = form(body);
    checks.eq(
        "grant_type",
        &f.get("grant_type").map(String::as_str),
        &Some("client_credentials"),
    );
    checks.eq(
        "scope",
        &f.get("scope").map(String::as_str),
        &Some("https://management.azure.com/.default"),
    );
    checks.eq(
        "client_id",
        &f.get("client_id").map(String::as_str),
        &Some(CLIENT_ID),
    );
    checks.check(header(headers, "authorization").is_empty(), || {
        "token request carries an Authorization header".into()
    });
    if let Some(violation) = fake.rec.judge("token request", checks.0) {
        return violation;
    }
    if f.get("client_secret").map(String::as_str) != Some(SECRET) {
        return json(
            401,
            json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                "error_codes": [7000215],
                "timestamp": "2026-01-01 00:00:00Z",
                "trace_id": "00000000-0000-0000-0000-000000000000",
                "correlation_id": "00000000-0000-0000-0000-000000000000",
                "error_uri": "https://login.microsoftonline.com/error?code=7000215"
            }),
        );
    }
    let access_token = cloud_fake::random_token("eyJ0eXAiOiJKV1Qi.");
    fake.tokens.lock().unwrap().insert(access_token.clone());
    json(
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access_token,
        }),
    )
}

fn record_set(
    fake: &Fake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    let mut checks = Checks::default();
    let prefix = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Network/dnsZones/{ZONE}/TXT/"
    );
    let Some(name) = uri.path().strip_prefix(&prefix).map(str::to_owned) else {
        return fake
            .rec
            .judge("path", vec![format!("unknown path {}", uri.path())])
            .unwrap();
    };
    checks.check(
        !name.is_empty() && !name.contains('/') && !name.ends_with('.'),
        || format!("relative record set name {name:?}"),
    );
    checks.eq(
        "api-version",
        &query(uri).get("api-version").map(String::as_str),
        &Some("2018-05-01"),
    );
    if let Some(violation) = fake.rec.judge("record set request", checks.0) {
        return violation;
    }
    let bearer = header(headers, "authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    if !fake.tokens.lock().unwrap().contains(bearer) {
        return arm_error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing or invalid.",
        );
    }
    if let Some(fault) = fake.rec.take_fault() {
        return fault.response();
    }
    if *method != Method::GET && fake.race.swap(false, Ordering::Relaxed) {
        // Another writer gets in between the client's read and write.
        let etag = fake.etag();
        let mut sets = fake.sets.lock().unwrap();
        let set = sets.entry(name.clone()).or_insert_with(|| Stored {
            etag: etag.clone(),
            properties: json!({ "TTL": 3600, "TXTRecords": [] }),
        });
        set.etag = etag;
        set.properties["TXTRecords"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "value": ["racer"] }));
    }
    let mut sets = fake.sets.lock().unwrap();
    let current = sets.get(&name).cloned();
    let not_found = || {
        arm_error(
            404,
            "NotFound",
            &format!(
                "The resource record '{name}' does not exist in resource group '{RG}' of subscription '{SUBSCRIPTION}'."
            ),
        )
    };
    let if_match = header(headers, "if-match");
    let if_none_match = header(headers, "if-none-match");
    let precondition_failed = || {
        arm_error(
            412,
            "PreconditionFailed",
            &format!("The Record set {name} has been modified (etag mismatch)."),
        )
    };
    match *method {
        Method::GET => match current {
            Some(set) => json(200, present(&name, &set)),
            None => not_found(),
        },
        Method::PUT => {
            let mut checks = Checks::default();
            checks.check(
                header(headers, "content-type").starts_with("application/json"),
                || format!("PUT content-type {:?}", header(headers, "content-type")),
            );
            let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let properties = &sent["properties"];
            checks.check(properties.is_object(), || format!("PUT body {sent}"));
            checks.check(properties["TTL"].is_u64(), || {
                format!("properties.TTL {:?}", properties["TTL"])
            });
            let records = properties["TXTRecords"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            checks.check(!records.is_empty(), || "properties.TXTRecords empty".into());
            for r in &records {
                let ok = r["value"].as_array().is_some_and(|chunks| {
                    !chunks.is_empty()
                        && chunks
                            .iter()
                            .all(|c| c.as_str().is_some_and(|s| s.len() <= 255))
                });
                checks.check(ok, || {
                    format!("TXT record {r} is not {{\"value\": [strings ≤ 255]}}")
                });
            }
            for key in sent.as_object().into_iter().flat_map(|o| o.keys()) {
                checks.check(["properties", "etag"].contains(&key.as_str()), || {
                    format!("unexpected top-level field {key}")
                });
            }
            checks.check(!if_match.is_empty() || if_none_match == "*", || {
                "PUT without If-Match or If-None-Match: a concurrent change would be lost".into()
            });
            if let Some(violation) = fake.rec.judge("PUT record set", checks.0) {
                return violation;
            }
            match &current {
                Some(set) if !if_match.is_empty() && if_match != set.etag => {
                    return precondition_failed();
                }
                Some(_) if if_none_match == "*" => return precondition_failed(),
                None if !if_match.is_empty() => return precondition_failed(),
                _ => {}
            }
            let stored = Stored {
                etag: fake.etag(),
                properties: properties.clone(),
            };
            sets.insert(name.clone(), stored.clone());
            json(
                if current.is_some() { 200 } else { 201 },
                present(&name, &stored),
            )
        }
        Method::DELETE => match current {
            None => Response::builder().status(204).body(Body::empty()).unwrap(),
            Some(set) if !if_match.is_empty() && if_match != set.etag => precondition_failed(),
            Some(_) => {
                sets.remove(&name);
                Response::builder().status(200).body(Body::empty()).unwrap()
            }
        },
        ref other => fake
            .rec
            .judge("method", vec![format!("{other} on a record set")])
            .unwrap(),
    }
}

/// A record set as ARM returns it.
fn present(name: &str, set: &Stored) -> Value {
    let mut properties = set.properties.clone();
    properties["fqdn"] = json!(if name == "@" {
        format!("{ZONE}.")
    } else {
        format!("{name}.{ZONE}.")
    });
    properties["provisioningState"] = json!("Succeeded");
    json!({
        "id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Network/dnszones/{ZONE}/TXT/{name}"),
        "name": name,
        "type": "Microsoft.Network/dnszones/TXT",
        "etag": set.etag,
        "properties": properties,
    })
}

#[tokio::test]
async fn two_values_added_one_removed_the_other_and_foreign_values_remain() {
    let (fake, base) = start().await;
    fake.sets.lock().unwrap().insert(
        "_acme-challenge".into(),
        Stored {
            etag: "seed".into(),
            properties: json!({
                "TTL": 300,
                "TXTRecords": [{ "value": ["other-client"] }],
                "metadata": { "owner": "someone-else" },
            }),
        },
    );
    let dns = provider(&base, SECRET);

    dns.present(NAME, V1).await.unwrap();
    dns.present(NAME, V2).await.unwrap();
    dns.present(NAME, V2).await.unwrap();
    assert_eq!(
        fake.values("_acme-challenge"),
        vec!["other-client".to_string(), V1.into(), V2.into()]
    );
    let stored = fake.sets.lock().unwrap()["_acme-challenge"].clone();
    assert_eq!(stored.properties["TTL"], 300, "the TTL is kept");
    assert_eq!(
        stored.properties["metadata"]["owner"], "someone-else",
        "metadata is kept"
    );

    dns.clean_up(NAME, V1).await.unwrap();
    assert_eq!(
        fake.values("_acme-challenge"),
        vec!["other-client".to_string(), V2.into()]
    );
    dns.clean_up(NAME, V1).await.unwrap();
    dns.clean_up(NAME, V2).await.unwrap();
    assert_eq!(
        fake.values("_acme-challenge"),
        vec!["other-client".to_string()]
    );

    assert_eq!(
        fake.token_requests.load(Ordering::Relaxed),
        1,
        "the token is cached across calls"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn the_last_value_deletes_the_record_set_and_the_apex_is_at() {
    let (fake, base) = start().await;
    let dns = provider(&base, SECRET);
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(fake.values("_acme-challenge"), vec![V1.to_string()]);
    assert_eq!(
        fake.sets.lock().unwrap()["_acme-challenge"].properties["TTL"],
        60
    );
    dns.clean_up(NAME, V1).await.unwrap();
    assert!(!fake.sets.lock().unwrap().contains_key("_acme-challenge"));
    dns.clean_up(NAME, V1).await.unwrap();

    dns.present(ZONE, V2).await.unwrap();
    assert_eq!(fake.values("@"), vec![V2.to_string()]);
    assert!(matches!(
        dns.present("_acme-challenge.elsewhere.test", V1).await,
        Err(DnsError::Config(_))
    ));
    fake.rec.assert_clean();
}

#[tokio::test]
async fn a_concurrent_change_is_detected_by_etag_and_kept() {
    let (fake, base) = start().await;
    let dns = provider(&base, SECRET);
    dns.present(NAME, V1).await.unwrap();

    fake.race.store(true, Ordering::Relaxed);
    dns.present(NAME, V2).await.unwrap();
    assert_eq!(
        fake.values("_acme-challenge"),
        vec![V1.to_string(), "racer".into(), V2.into()],
        "the racing writer's value survives"
    );

    fake.race.store(true, Ordering::Relaxed);
    dns.clean_up(NAME, V1).await.unwrap();
    assert_eq!(
        fake.values("_acme-challenge"),
        vec!["racer".to_string(), V2.into(), "racer".into()],
        "the value removed, both racing writes kept"
    );
    assert!(
        fake.rec
            .requests()
            .iter()
            .filter(|r| r.starts_with("PUT"))
            .count()
            >= 4,
        "412 answers were retried"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_as_credentials() {
    let (fake, base) = start().await;
    let dns = provider(&base, "wrong-secret");
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Auth(m) if m.contains("invalid_client")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong-secret"));
    fake.rec.assert_clean();
}

#[tokio::test]
async fn http_errors_become_the_right_variants() {
    let (fake, base) = start().await;
    let dns = provider(&base, SECRET);

    fake.rec.inject(Fault::new(
        401,
        "application/json",
        json!({"error": {"code": "ExpiredAuthenticationToken", "message": "The access token expiry UTC time is earlier than current UTC time."}}).to_string(),
    ));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Auth(_)), "{err:?}");
    // The rejected token is dropped: the next call logs in again and succeeds.
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(fake.token_requests.load(Ordering::Relaxed), 2);

    fake.rec.inject(
        Fault::new(
            429,
            "application/json",
            json!({"error": {"code": "TooManyRequests", "message": "The request is being throttled."}}).to_string(),
        )
        .header("retry-after", "30"),
    );
    let err = dns.present(NAME, V2).await.unwrap_err();
    assert!(
        matches!(
            err,
            DnsError::RateLimited {
                retry_after: Some(30),
                ..
            }
        ),
        "{err:?}"
    );

    fake.rec.inject(Fault::new(
        500,
        "application/json",
        json!({"error": {"code": "InternalServerError", "message": "An error occurred."}})
            .to_string(),
    ));
    let err = dns.clean_up(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Server(_)), "{err:?}");

    fake.rec.inject(Fault::new(
        403,
        "application/json",
        json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Network/dnszones/TXT/write'."}}).to_string(),
    ));
    let err = dns.present(NAME, V2).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Auth(m) if m.contains("AuthorizationFailed")),
        "{err:?}"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let base = cloud_fake::closed_url().await;
    let dns = provider(&base, SECRET);
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Transport(_)), "{err:?}");
}

#[test]
fn config_is_validated_and_debug_hides_the_secret() {
    let err = AzureDns::new(&config(&[("tenant_id", TENANT)]), http()).unwrap_err();
    assert!(matches!(err, DnsError::Config(_)));
    let dns = provider("https://management.azure.com", SECRET);
    assert!(!format!("{dns:?}").contains(SECRET));
}
