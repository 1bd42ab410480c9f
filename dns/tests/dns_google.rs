//! The Google Cloud DNS provider against local fakes of Google's OAuth 2.0 token endpoint and
//! the Cloud DNS API v1, each checking requests against the published API and answering as
//! documented:
//!
//! - Token: `POST {token_uri}` form-encoded `grant_type=urn:ietf:params:oauth:grant-type:
//!   jwt-bearer` and `assertion`; the assertion's RS256 signature is verified with the public
//!   key of the test service account (an RSA key pair generated here with rcgen), its header
//!   `kid`, and its claims `iss` (client_email), `scope` (ndev.clouddns.readwrite), `aud`
//!   (token_uri), `iat` and `exp` (at most one hour). A bad assertion gets 400 `invalid_grant`.
//! - `GET /dns/v1/projects/{project}/managedZones/{zone}/rrsets?name={absolute}&type=TXT` and
//!   `POST …/changes` with `Authorization: Bearer {issued token}`; a change is applied
//!   atomically: each deletion must match the existing RRset exactly (else 412
//!   `conditionNotMet`), an addition must not collide with a remaining RRset (else 409
//!   `alreadyExists`); TXT rrdatas must be quoted character-strings.

mod cloud_fake;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};
use cloud_fake::{Checks, Fault, Recorder, config, form, header, http, json, query, serve};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use scaivault_dns::{DnsError, DnsProvider, GoogleCloudDns};
use serde_json::{Value, json};

const PROJECT: &str = "acme-project-123";
const MANAGED_ZONE: &str = "example-test";
const EMAIL: &str = "dns01@acme-project-123.iam.gserviceaccount.com";
const KEY_ID: &str = "4f6c0d3a2b1e0f9d8c7b6a5f4e3d2c1b0a9f8e7d";
const SCOPE: &str = "https://www.googleapis.com/auth/ndev.clouddns.readwrite";
const NAME: &str = "_acme-challenge.example.test";
const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "Qz8nV2lq0cz8p7TbJQ2wq3p5wZ8rRr7e1u1jYVhW0xk";

/// The test service account's key pair (PKCS#8 private key PEM, SPKI public key PEM).
fn account_key() -> &'static (String, String) {
    static KEY: OnceLock<(String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        cloud_fake::init();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        (key.serialize_pem(), key.public_key_pem())
    })
}

/// Another RSA key: the signature of a key file with it does not verify.
fn foreign_key() -> &'static String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .expect("RSA key")
            .serialize_pem()
    })
}

fn key_file(token_uri: &str, private_key: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": private_key,
        "client_email": EMAIL,
        "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

#[derive(Default)]
struct Fake {
    rec: Recorder,
    /// The `aud` the assertion must carry (the key file's token_uri).
    audience: Mutex<String>,
    tokens: Mutex<HashSet<String>>,
    token_requests: AtomicUsize,
    /// Absolute name → RRset as stored (`name`, `type`, `ttl`, `rrdatas`).
    rrsets: Mutex<BTreeMap<String, Value>>,
    changes: AtomicUsize,
    /// Change the RRset behind the client's back before the next change.
    race: AtomicBool,
}

impl Fake {
    fn rrdatas(&self, name: &str) -> Vec<String> {
        self.rrsets
            .lock()
            .unwrap()
            .get(name)
            .map(|s| {
                s["rrdatas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Starts the fake; its base URL. The key file's token_uri is `{base}/token`.
async fn start() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let router = Router::new().fallback(handle).with_state(fake.clone());
    let base = serve(router).await;
    *fake.audience.lock().unwrap() = format!("{base}/token");
    (fake, base)
}

fn provider_with(base: &str, private_key: &str, extra: &[(&str, &str)]) -> GoogleCloudDns {
    let json = key_file(&format!("{base}/token"), private_key);
    let mut pairs = vec![
        ("service_account_json", json.as_str()),
        ("project", PROJECT),
        ("managed_zone", MANAGED_ZONE),
        ("endpoint", base),
    ];
    pairs.extend_from_slice(extra);
    GoogleCloudDns::new(&config(&pairs), http()).expect("provider")
}

fn provider(base: &str) -> GoogleCloudDns {
    provider_with(base, &account_key().0, &[])
}

fn google_error(status: u16, reason: &str, message: &str) -> Response<Body> {
    json(
        status,
        json!({
            "error": {
                "code": status,
                "message": message,
                "errors": [{ "message": message, "domain": "global", "reason": reason }]
            }
        }),
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
    if uri.path() == "/token" {
        return token(&fake, &method, &headers, &body);
    }
    api(&fake, &method, &uri, &headers, &body)
}

fn token(fake: &Fake, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    fake.token_requests.fetch_add(1, Ordering::Relaxed);
    let mut checks = Checks::default();
    checks.eq("token method", method, &Method::POST);
    checks.check(
        header(headers, "content-type").starts_with("application/x-www-form-urlencoded"),
        || format!("token content-type {:?}", header(headers, "content-type")),
    );
    let f = form(body);
    checks.eq(
        "grant_type",
        &f.get("grant_type").map(String::as_str),
        &Some("urn:ietf:params:oauth:grant-type:jwt-bearer"),
    );
    let assertion = f.get("assertion").cloned().unwrap_or_default();
    match jsonwebtoken::decode_header(&assertion) {
        Ok(h) => {
            checks.eq("JWT alg", &h.alg, &Algorithm::RS256);
            checks.eq("JWT typ", &h.typ.as_deref(), &Some("JWT"));
            checks.eq("JWT kid", &h.kid.as_deref(), &Some(KEY_ID));
        }
        Err(e) => checks.check(false, || format!("assertion is not a JWT: {e}")),
    }
    if let Some(violation) = fake.rec.judge("token request", checks.0) {
        return violation;
    }

    let audience = fake.audience.lock().unwrap().clone();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience.as_str()]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let key = DecodingKey::from_rsa_pem(account_key().1.as_bytes()).expect("public key");
    let claims = match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return json(
                400,
                json!({ "error": "invalid_grant", "error_description": format!("Invalid JWT Signature. ({e})") }),
            );
        }
    };
    let mut checks = Checks::default();
    checks.eq("scope claim", &claims["scope"].as_str(), &Some(SCOPE));
    let iat = claims["iat"].as_u64().unwrap_or(0);
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    checks.check(exp > iat && exp - iat <= 3600, || {
        format!(
            "exp - iat = {} is not within one hour",
            exp.wrapping_sub(iat)
        )
    });
    checks.check(iat.abs_diff(now) < 300, || {
        format!("iat {iat} is not now ({now})")
    });
    checks.check(claims.get("sub").is_none(), || {
        "sub set (domain-wide delegation)".into()
    });
    if let Some(violation) = fake.rec.judge("JWT claims", checks.0) {
        return violation;
    }
    let access_token = cloud_fake::random_token("ya29.c.");
    fake.tokens.lock().unwrap().insert(access_token.clone());
    json(
        200,
        json!({ "access_token": access_token, "expires_in": 3599, "token_type": "Bearer" }),
    )
}

fn api(
    fake: &Fake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Body> {
    let prefix = format!("/dns/v1/projects/{PROJECT}/managedZones/");
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return fake
            .rec
            .judge("path", vec![format!("unknown path {}", uri.path())])
            .unwrap();
    };
    // `managedZones/{zone}` itself, or one of its collections.
    let (zone, collection) = rest.split_once('/').unwrap_or((rest, ""));
    let bearer = header(headers, "authorization")
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    if !fake.tokens.lock().unwrap().contains(bearer) {
        return google_error(
            401,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        );
    }
    if let Some(fault) = fake.rec.take_fault() {
        return fault.response();
    }
    if zone != MANAGED_ZONE {
        return google_error(
            404,
            "notFound",
            &format!("The 'parameters.managedZone' resource named '{zone}' does not exist."),
        );
    }
    match (method, collection) {
        (&Method::GET, "") => json(
            200,
            json!({"kind": "dns#managedZone", "name": MANAGED_ZONE, "dnsName": "example.test.",
                   "id": "1234567890123456789", "visibility": "public",
                   "nameServers": ["ns-cloud-a1.googledomains.com."]}),
        ),
        (&Method::GET, "rrsets") => list(fake, uri),
        (&Method::POST, "changes") => change(fake, headers, body),
        _ => fake
            .rec
            .judge("method", vec![format!("{method} {}", uri.path())])
            .unwrap(),
    }
}

fn list(fake: &Fake, uri: &Uri) -> Response<Body> {
    let q = query(uri);
    let mut checks = Checks::default();
    let name = q.get("name").cloned().unwrap_or_default();
    checks.check(name.ends_with('.'), || {
        format!("name {name:?} is not absolute")
    });
    checks.eq("type", &q.get("type").map(String::as_str), &Some("TXT"));
    if let Some(violation) = fake.rec.judge("rrsets.list", checks.0) {
        return violation;
    }
    let rrsets: Vec<Value> = fake
        .rrsets
        .lock()
        .unwrap()
        .get(&name)
        .map(|set| {
            let mut set = set.clone();
            set["kind"] = json!("dns#resourceRecordSet");
            set
        })
        .into_iter()
        .collect();
    json(
        200,
        json!({ "kind": "dns#resourceRecordSetsListResponse", "rrsets": rrsets }),
    )
}

/// The comparable part of an RRset: name, type, ttl, rrdatas.
fn essence(set: &Value) -> Value {
    json!({
        "name": set["name"],
        "type": set["type"],
        "ttl": set["ttl"],
        "rrdatas": set["rrdatas"],
    })
}

fn change(fake: &Fake, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    let mut checks = Checks::default();
    checks.check(
        header(headers, "content-type").starts_with("application/json"),
        || format!("changes content-type {:?}", header(headers, "content-type")),
    );
    let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let additions = sent["additions"].as_array().cloned().unwrap_or_default();
    let deletions = sent["deletions"].as_array().cloned().unwrap_or_default();
    checks.check(!additions.is_empty() || !deletions.is_empty(), || {
        format!("empty change {sent}")
    });
    for set in additions.iter().chain(&deletions) {
        checks.check(
            set["name"].as_str().is_some_and(|n| n.ends_with('.')),
            || format!("rrset name {:?} is not absolute", set["name"]),
        );
        checks.eq("rrset type", &set["type"].as_str(), &Some("TXT"));
        checks.check(set["ttl"].is_u64(), || {
            format!("rrset ttl {:?}", set["ttl"])
        });
        let rrdatas = set["rrdatas"].as_array().cloned().unwrap_or_default();
        checks.check(!rrdatas.is_empty(), || "rrset without rrdatas".into());
        for d in &rrdatas {
            checks.check(
                d.as_str()
                    .is_some_and(|s| s.len() >= 2 && s.starts_with('"') && s.ends_with('"')),
                || format!("TXT rrdata {d} is not a quoted character-string"),
            );
        }
    }
    if let Some(violation) = fake.rec.judge("changes.create", checks.0) {
        return violation;
    }

    let mut rrsets = fake.rrsets.lock().unwrap();
    if fake.race.swap(false, Ordering::Relaxed) {
        let name = format!("{NAME}.");
        let set = rrsets
            .entry(name.clone())
            .or_insert_with(|| json!({ "name": name, "type": "TXT", "ttl": 300, "rrdatas": [] }));
        set["rrdatas"]
            .as_array_mut()
            .unwrap()
            .push(json!("\"racer\""));
    }
    let mut next = rrsets.clone();
    for (i, deletion) in deletions.iter().enumerate() {
        let name = deletion["name"].as_str().unwrap_or_default().to_owned();
        match next.get(&name) {
            Some(existing) if essence(existing) == essence(deletion) => {
                next.remove(&name);
            }
            _ => {
                return google_error(
                    412,
                    "conditionNotMet",
                    &format!("Precondition not met for 'entity.change.deletions[{i}]'"),
                );
            }
        }
    }
    for (i, addition) in additions.iter().enumerate() {
        let name = addition["name"].as_str().unwrap_or_default().to_owned();
        if next.contains_key(&name) {
            return google_error(
                409,
                "alreadyExists",
                &format!(
                    "The resource 'entity.change.additions[{i}]' named '{name} (TXT)' already exists"
                ),
            );
        }
        next.insert(name, essence(addition));
    }
    *rrsets = next;
    let id = fake.changes.fetch_add(1, Ordering::Relaxed) + 1;
    json(
        200,
        json!({
            "kind": "dns#change",
            "id": id.to_string(),
            "status": "pending",
            "startTime": "2026-01-01T00:00:00.000Z",
            "additions": additions,
            "deletions": deletions,
        }),
    )
}

fn q(v: &str) -> String {
    format!("\"{v}\"")
}

#[tokio::test]
async fn two_values_added_one_removed_the_other_and_foreign_values_remain() {
    let (fake, base) = start().await;
    let absolute = format!("{NAME}.");
    fake.rrsets.lock().unwrap().insert(
        absolute.clone(),
        json!({ "name": absolute, "type": "TXT", "ttl": 300, "rrdatas": [q("other-client")] }),
    );
    let dns = provider(&base);

    dns.present(NAME, V1).await.unwrap();
    dns.present(NAME, V2).await.unwrap();
    dns.present(NAME, V2).await.unwrap();
    assert_eq!(
        fake.rrdatas(&absolute),
        vec![q("other-client"), q(V1), q(V2)]
    );
    assert_eq!(fake.rrsets.lock().unwrap()[&absolute]["ttl"], 300);
    assert_eq!(
        fake.changes.load(Ordering::Relaxed),
        2,
        "a present value is not re-added"
    );

    dns.clean_up(NAME, V1).await.unwrap();
    assert_eq!(fake.rrdatas(&absolute), vec![q("other-client"), q(V2)]);
    dns.clean_up(NAME, V1).await.unwrap();
    dns.clean_up(NAME, V2).await.unwrap();
    assert_eq!(fake.rrdatas(&absolute), vec![q("other-client")]);
    assert_eq!(
        fake.token_requests.load(Ordering::Relaxed),
        1,
        "the token is cached across calls"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn the_last_value_deletes_the_rrset() {
    let (fake, base) = start().await;
    let dns = provider(&base);
    let absolute = format!("{NAME}.");
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(
        fake.rrsets.lock().unwrap()[&absolute],
        json!({ "name": absolute, "type": "TXT", "ttl": 60, "rrdatas": [q(V1)] })
    );
    dns.clean_up(NAME, V1).await.unwrap();
    assert!(!fake.rrsets.lock().unwrap().contains_key(&absolute));
    dns.clean_up(NAME, V1).await.unwrap();
    fake.rec.assert_clean();
}

#[tokio::test]
async fn conflicts_are_reread_and_retried() {
    let (fake, base) = start().await;
    let dns = provider(&base);
    let absolute = format!("{NAME}.");

    // Created by someone else between read and change: 409 alreadyExists, then merged.
    fake.race.store(true, Ordering::Relaxed);
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(fake.rrdatas(&absolute), vec![q("racer"), q(V1)]);

    // Changed between read and change: 412 conditionNotMet, then merged.
    fake.race.store(true, Ordering::Relaxed);
    dns.present(NAME, V2).await.unwrap();
    assert_eq!(
        fake.rrdatas(&absolute),
        vec![q("racer"), q(V1), q("racer"), q(V2)]
    );

    fake.race.store(true, Ordering::Relaxed);
    dns.clean_up(NAME, V1).await.unwrap();
    assert_eq!(
        fake.rrdatas(&absolute),
        vec![q("racer"), q("racer"), q(V2), q("racer")]
    );
    let posts = fake
        .rec
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST") && r.ends_with("/changes"))
        .count();
    assert_eq!(
        posts, 6,
        "each conflicted change was re-read and sent again once"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn a_key_that_does_not_match_the_account_is_refused_as_credentials() {
    let (fake, base) = start().await;
    let dns = provider_with(&base, foreign_key(), &[]);
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Auth(m) if m.contains("invalid_grant")),
        "{err:?}"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn the_token_endpoint_can_be_overridden_while_aud_stays_token_uri() {
    let (fake, base) = start().await;
    // The key file names Google's token_uri; the token is fetched from the fake anyway.
    *fake.audience.lock().unwrap() = "https://oauth2.googleapis.com/token".into();
    let json = key_file("https://oauth2.googleapis.com/token", &account_key().0);
    let token_endpoint = format!("{base}/token");
    let dns = GoogleCloudDns::new(
        &config(&[
            ("service_account_json", json.as_str()),
            ("project", PROJECT),
            ("managed_zone", MANAGED_ZONE),
            ("endpoint", &base),
            ("token_endpoint", &token_endpoint),
        ]),
        http(),
    )
    .unwrap();
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(fake.rrdatas(&format!("{NAME}.")), vec![q(V1)]);
    fake.rec.assert_clean();
}

#[tokio::test]
async fn http_errors_become_the_right_variants() {
    let (fake, base) = start().await;
    let dns = provider(&base);

    fake.rec.inject(Fault::new(
        401,
        "application/json",
        json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "errors": [{"reason": "authError", "domain": "global", "message": "Invalid Credentials"}], "status": "UNAUTHENTICATED"}}).to_string(),
    ));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Auth(_)), "{err:?}");
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(
        fake.token_requests.load(Ordering::Relaxed),
        2,
        "a refused token is replaced"
    );

    fake.rec.inject(
        Fault::new(
            429,
            "application/json",
            json!({"error": {"code": 429, "message": "Quota exceeded", "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits", "message": "Quota exceeded"}], "status": "RESOURCE_EXHAUSTED"}}).to_string(),
        )
        .header("retry-after", "12"),
    );
    let err = dns.present(NAME, V2).await.unwrap_err();
    assert!(
        matches!(
            err,
            DnsError::RateLimited {
                retry_after: Some(12),
                ..
            }
        ),
        "{err:?}"
    );

    fake.rec.inject(Fault::new(
        403,
        "application/json",
        json!({"error": {"code": 403, "message": "Rate Limit Exceeded", "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits", "message": "Rate Limit Exceeded"}]}}).to_string(),
    ));
    let err = dns.present(NAME, V2).await.unwrap_err();
    assert!(matches!(err, DnsError::RateLimited { .. }), "{err:?}");

    fake.rec.inject(Fault::new(
        403,
        "application/json",
        json!({"error": {"code": 403, "message": "Forbidden", "errors": [{"reason": "forbidden", "domain": "global", "message": "Forbidden"}]}}).to_string(),
    ));
    let err = dns.present(NAME, V2).await.unwrap_err();
    assert!(matches!(err, DnsError::Auth(_)), "{err:?}");

    fake.rec.inject(Fault::new(
        500,
        "application/json",
        json!({"error": {"code": 500, "message": "Internal error", "errors": [{"reason": "internalError", "domain": "global", "message": "Internal error"}]}}).to_string(),
    ));
    let err = dns.clean_up(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Server(_)), "{err:?}");

    let other = provider_with(&base, &account_key().0, &[("managed_zone", "no-such-zone")]);
    let err = other.present(NAME, V2).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Rejected(m) if m.contains("notFound")),
        "{err:?}"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let base = cloud_fake::closed_url().await;
    let dns = provider(&base);
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Transport(_)), "{err:?}");
}

#[test]
fn config_is_validated_and_debug_hides_the_key() {
    let err = GoogleCloudDns::new(
        &config(&[
            ("service_account_json", "{\"client_email\": \"x\"}"),
            ("project", PROJECT),
            ("managed_zone", MANAGED_ZONE),
        ]),
        http(),
    )
    .unwrap_err();
    assert!(matches!(err, DnsError::Config(_)), "{err:?}");
    let json = key_file("https://oauth2.googleapis.com/token", "not a pem");
    let err = GoogleCloudDns::new(
        &config(&[
            ("service_account_json", json.as_str()),
            ("project", PROJECT),
            ("managed_zone", MANAGED_ZONE),
        ]),
        http(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DnsError::Config(m) if !m.contains("not a pem")),
        "{err:?}"
    );
    let dns = provider("https://dns.googleapis.com");
    let debug = format!("{dns:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

/// The managed zone's DNS name, read with `managedZones.get`, encloses the names of its zone
/// and no others.
#[tokio::test]
async fn zone_of_reads_the_managed_zone_name() {
    let (fake, base) = start().await;
    let google = provider(&base);
    assert_eq!(
        google.zone_of("www.example.test").await.unwrap().as_deref(),
        Some("example.test")
    );
    assert_eq!(google.zone_of("www.example.org").await.unwrap(), None);
    assert!(fake.rec.requests().contains(&format!(
        "GET /dns/v1/projects/{PROJECT}/managedZones/{MANAGED_ZONE}"
    )));
    fake.rec.assert_clean();
}
