//! The Cloudflare provider against a local server that checks every request against the
//! published API v4 (<https://developers.cloudflare.com/api/resources/dns/subresources/records/>)
//! and answers with its documented envelopes, keeping the records in memory.

mod rest_fake;

use std::sync::{Arc, Mutex};

use rest_fake::{Answer, Fake, Request};
use scaivault_dns::{Cloudflare, DnsError, DnsProvider};
use serde_json::{Value, json};

const TOKEN: &str = "Sn3lZJTBX6kkg7OdcBUAxOO963GEIyGQqnFTOFYY";
const ZONE_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const ZONE: &str = "example.com";
const NAME: &str = "_acme-challenge.www.example.com";

#[derive(Debug, Clone)]
struct Rec {
    id: String,
    kind: String,
    name: String,
    content: String,
    ttl: u64,
}

impl Rec {
    fn json(&self) -> Value {
        json!({
            "id": self.id, "zone_id": ZONE_ID, "zone_name": ZONE, "name": self.name,
            "type": self.kind, "content": self.content, "proxiable": false, "proxied": false,
            "ttl": self.ttl, "settings": {}, "meta": {}, "comment": null, "tags": [],
            "created_on": "2026-01-01T05:20:00.12345Z", "modified_on": "2026-01-01T05:20:00.12345Z",
        })
    }
}

#[derive(Default)]
struct Zone {
    records: Vec<Rec>,
    next_id: u64,
}

impl Zone {
    fn insert(&mut self, kind: &str, name: &str, content: &str) {
        self.next_id += 1;
        self.records.push(Rec {
            id: format!("{:032x}", self.next_id),
            kind: kind.into(),
            name: name.into(),
            content: content.into(),
            ttl: 1,
        });
    }

    /// TXT texts at `name`, quotes removed.
    fn txt(&self, name: &str) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| r.kind == "TXT" && r.name == name)
            .map(|r| r.content.trim_matches('"').to_owned())
            .collect()
    }
}

fn ok(result: Value) -> Value {
    json!({ "success": true, "errors": [], "messages": [], "result": result })
}

fn err(code: u64, message: &str) -> Value {
    json!({ "success": false, "errors": [{ "code": code, "message": message }], "messages": [], "result": null })
}

fn number(v: Option<&str>, default: u64, what: &str) -> Result<u64, String> {
    v.map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| format!("{what}={v:?} is not a number"))
    })
}

/// The documented API, as far as the provider uses it.
fn handle(zone: &Mutex<Zone>, req: &Request) -> Result<Answer, String> {
    match req.header("authorization") {
        Some(v) if v == format!("Bearer {TOKEN}") => {}
        Some(v) if v.starts_with("Bearer ") => {
            return Ok(Answer::json(401, err(10000, "Authentication error")));
        }
        other => {
            return Err(format!(
                "no API token as Authorization: Bearer (got {other:?})"
            ));
        }
    }
    if req.header("x-auth-key").is_some() || req.header("x-auth-email").is_some() {
        return Err("legacy X-Auth-Key/X-Auth-Email sent alongside a token".into());
    }
    let mut zone = zone.lock().unwrap();
    let segments = req.segments();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["client", "v4", "zones"]) => {
            req.only_query(&[
                "name",
                "status",
                "page",
                "per_page",
                "match",
                "order",
                "direction",
            ])?;
            req.no_body()?;
            let name = req.query("name")?.ok_or("zone lookup without name")?;
            let zones: Vec<Value> = (name == ZONE)
                .then(|| json!({ "id": ZONE_ID, "name": ZONE, "status": "active" }))
                .into_iter()
                .collect();
            let count = zones.len();
            let mut body = ok(Value::Array(zones));
            body["result_info"] = json!({ "page": 1, "per_page": 20, "count": count, "total_count": count, "total_pages": 1 });
            Ok(Answer::json(200, body))
        }
        (_, ["client", "v4", "zones", id, ..]) if *id != ZONE_ID => Ok(Answer::json(
            404,
            err(
                7003,
                "Could not route to /zones, perhaps your object identifier is invalid?",
            ),
        )),
        ("GET", ["client", "v4", "zones", _]) => {
            req.only_query(&[])?;
            req.no_body()?;
            Ok(Answer::json(
                200,
                ok(json!({ "id": ZONE_ID, "name": ZONE, "status": "active" })),
            ))
        }
        ("POST", ["client", "v4", "zones", _, "dns_records"]) => {
            let body = req.json_object()?;
            for key in body.keys() {
                if ![
                    "type", "name", "content", "ttl", "comment", "proxied", "tags", "settings",
                ]
                .contains(&key.as_str())
                {
                    return Err(format!("undocumented field {key:?} for a TXT record"));
                }
            }
            let kind = body
                .get("type")
                .and_then(Value::as_str)
                .ok_or("type must be a string")?;
            if kind != "TXT" {
                return Err(format!("type {kind:?}"));
            }
            let name = body
                .get("name")
                .and_then(Value::as_str)
                .ok_or("name must be a string")?;
            if name.ends_with('.') || !(name == ZONE || name.ends_with(&format!(".{ZONE}"))) {
                return Err(format!(
                    "name {name:?} is not a name in the zone without trailing dot"
                ));
            }
            let content = body
                .get("content")
                .and_then(Value::as_str)
                .ok_or("content must be a string")?;
            if !(content.len() >= 2 && content.starts_with('"') && content.ends_with('"')) {
                return Err(format!(
                    "TXT content {content:?} is not a quoted character string"
                ));
            }
            let ttl = body
                .get("ttl")
                .and_then(Value::as_u64)
                .ok_or("ttl must be an integer")?;
            if !(ttl == 1 || (60..=86400).contains(&ttl)) {
                return Err(format!("ttl {ttl} is neither 1 (automatic) nor 60..=86400"));
            }
            if zone
                .records
                .iter()
                .any(|r| r.kind == "TXT" && r.name == name && r.content == content)
            {
                return Ok(Answer::json(
                    400,
                    err(81058, "An identical record already exists."),
                ));
            }
            zone.insert(kind, name, content);
            zone.records.last_mut().unwrap().ttl = ttl;
            Ok(Answer::json(200, ok(zone.records.last().unwrap().json())))
        }
        ("GET", ["client", "v4", "zones", _, "dns_records"]) => {
            req.only_query(&[
                "type",
                "name",
                "name.exact",
                "content",
                "content.exact",
                "page",
                "per_page",
                "match",
                "order",
                "direction",
            ])?;
            req.no_body()?;
            let kind = req.query("type")?;
            if kind != Some("TXT") {
                return Err(format!("listed type {kind:?}, expected TXT"));
            }
            let name = req
                .query("name.exact")?
                .ok_or("listed without a name.exact filter")?;
            let page = number(req.query("page")?, 1, "page")?.max(1);
            let per_page = number(req.query("per_page")?, 100, "per_page")?;
            if !(5..=5_000_000).contains(&per_page) {
                return Err(format!("per_page {per_page} outside 5..=5000000"));
            }
            let all: Vec<&Rec> = zone
                .records
                .iter()
                .filter(|r| r.kind == "TXT" && r.name == name)
                .collect();
            let total_pages = all.len().div_ceil(per_page as usize).max(1);
            let items: Vec<Value> = all
                .iter()
                .skip((page as usize - 1) * per_page as usize)
                .take(per_page as usize)
                .map(|r| r.json())
                .collect();
            let count = items.len();
            let mut body = ok(Value::Array(items));
            body["result_info"] = json!({
                "page": page, "per_page": per_page, "count": count,
                "total_count": all.len(), "total_pages": total_pages,
            });
            Ok(Answer::json(200, body))
        }
        ("DELETE", ["client", "v4", "zones", _, "dns_records", id]) => {
            req.no_body()?;
            let before = zone.records.len();
            zone.records.retain(|r| r.id != *id);
            if zone.records.len() == before {
                return Ok(Answer::json(404, err(81044, "Record does not exist.")));
            }
            Ok(Answer::json(200, ok(json!({ "id": id }))))
        }
        _ => Err("not an endpoint of the Cloudflare API v4 DNS records surface".into()),
    }
}

async fn fake() -> (Fake, Arc<Mutex<Zone>>) {
    rest_fake::init();
    let zone = Arc::new(Mutex::new(Zone::default()));
    let state = zone.clone();
    let fake = Fake::start(move |req| handle(&state, req)).await;
    (fake, zone)
}

fn provider(fake: &Fake, token: &str, zone_id: Option<&str>) -> Cloudflare {
    let endpoint = format!("{}/client/v4", fake.base);
    let mut pairs = vec![("api_token", token), ("endpoint", endpoint.as_str())];
    if let Some(zone_id) = zone_id {
        pairs.push(("zone_id", zone_id));
    }
    Cloudflare::new(&rest_fake::config(&pairs), rest_fake::http()).unwrap()
}

#[tokio::test]
async fn adds_and_removes_one_value_keeping_the_others() {
    let (fake, zone) = fake().await;
    zone.lock()
        .unwrap()
        .insert("TXT", NAME, "someone-elses-value");
    zone.lock()
        .unwrap()
        .insert("A", "www.example.com", "192.0.2.1");
    let cf = provider(&fake, TOKEN, None);

    cf.present(NAME, "apex-token").await.unwrap();
    cf.present(NAME, "wildcard-token").await.unwrap();
    cf.present(NAME, "apex-token").await.unwrap(); // 81058: already there
    let mut values = zone.lock().unwrap().txt(NAME);
    values.sort();
    assert_eq!(
        values,
        ["apex-token", "someone-elses-value", "wildcard-token"]
    );

    cf.clean_up(NAME, "apex-token").await.unwrap();
    let mut values = zone.lock().unwrap().txt(NAME);
    values.sort();
    assert_eq!(values, ["someone-elses-value", "wildcard-token"]);
    cf.clean_up(NAME, "apex-token").await.unwrap(); // not there: fine
    cf.clean_up(&format!("{NAME}."), "wildcard-token")
        .await
        .unwrap();
    assert_eq!(zone.lock().unwrap().txt(NAME), ["someone-elses-value"]);
    assert_eq!(zone.lock().unwrap().records.len(), 2, "the A record stays");

    let lines = fake.seen_lines();
    assert_eq!(
        &lines[..3],
        [
            format!("GET /client/v4/zones?name={NAME}"),
            "GET /client/v4/zones?name=www.example.com".to_owned(),
            "GET /client/v4/zones?name=example.com".to_owned(),
        ]
    );
    assert!(lines.contains(&format!("POST /client/v4/zones/{ZONE_ID}/dns_records")));
    for req in fake.seen() {
        assert_eq!(
            req.header("authorization").unwrap(),
            format!("Bearer {TOKEN}")
        );
    }
    fake.assert_clean();
}

#[tokio::test]
async fn configured_zone_id_skips_the_lookup_and_pages_through_records() {
    let (fake, zone) = fake().await;
    for i in 0..150 {
        zone.lock()
            .unwrap()
            .insert("TXT", NAME, &format!("\"other-{i}\""));
    }
    let cf = provider(&fake, TOKEN, Some(ZONE_ID));
    cf.present(NAME, "token-on-page-two").await.unwrap();
    cf.clean_up(NAME, "token-on-page-two").await.unwrap();
    let values = zone.lock().unwrap().txt(NAME);
    assert_eq!(values.len(), 150);
    assert!(!values.contains(&"token-on-page-two".to_owned()));
    let lines = fake.seen_lines();
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("GET /client/v4/zones?")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("page=2")), "{lines:?}");
    fake.assert_clean();
}

#[tokio::test]
async fn rejected_token_is_an_auth_error() {
    let (fake, _) = fake().await;
    let cf = provider(&fake, "wrong-token", Some(ZONE_ID));
    let e = cf.present(NAME, "v").await.unwrap_err();
    assert!(
        matches!(&e, DnsError::Auth(m) if m.contains("Authentication error")),
        "{e:?}"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let (fake, _) = fake().await;
    fake.inject(
        Answer::json(
            429,
            err(
                971,
                "Please wait and consider throttling your request speed",
            ),
        )
        .with_header("retry-after", "17"),
    );
    let cf = provider(&fake, TOKEN, Some(ZONE_ID));
    let e = cf.present(NAME, "v").await.unwrap_err();
    assert!(
        matches!(
            e,
            DnsError::RateLimited {
                retry_after: Some(17),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_transient());
}

#[tokio::test]
async fn server_errors_and_unreachable_api_are_transient() {
    let (fake, _) = fake().await;
    fake.inject(Answer::json(500, err(10001, "Internal error")));
    let cf = provider(&fake, TOKEN, Some(ZONE_ID));
    let e = cf.clean_up(NAME, "v").await.unwrap_err();
    assert!(matches!(e, DnsError::Server(_)), "{e:?}");

    let endpoint = format!("{}/client/v4", rest_fake::closed_endpoint().await);
    let cf = Cloudflare::new(
        &rest_fake::config(&[
            ("api_token", TOKEN),
            ("endpoint", &endpoint),
            ("zone_id", ZONE_ID),
        ]),
        rest_fake::http(),
    )
    .unwrap();
    let e = cf.present(NAME, "v").await.unwrap_err();
    assert!(matches!(e, DnsError::Transport(_)), "{e:?}");
}

#[tokio::test]
async fn unsuccessful_envelope_is_an_error_and_no_zone_is_rejected() {
    let (fake, _) = fake().await;
    fake.inject(Answer::json(200, err(1004, "DNS Validation Error")));
    let cf = provider(&fake, TOKEN, Some(ZONE_ID));
    let e = cf.present(NAME, "v").await.unwrap_err();
    assert!(
        matches!(&e, DnsError::Rejected(m) if m.contains("DNS Validation Error")),
        "{e:?}"
    );

    let cf = provider(&fake, TOKEN, None);
    let e = cf
        .present("_acme-challenge.example.org", "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Rejected(_)), "{e:?}");
}

#[test]
fn config_and_debug() {
    rest_fake::init();
    let e = Cloudflare::new(&rest_fake::config(&[]), rest_fake::http()).unwrap_err();
    assert!(
        matches!(&e, DnsError::Config(m) if m.contains("api_token")),
        "{e:?}"
    );
    let cf = Cloudflare::new(
        &rest_fake::config(&[("api_token", TOKEN)]),
        rest_fake::http(),
    )
    .unwrap();
    let debug = format!("{cf:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("api.cloudflare.com/client/v4"), "{debug}");

    // Without `[dns] allow_insecure_endpoints`: plain http and local hosts are refused.
    let public = scaivault_dns::HttpClient::new(scaivault_dns::EndpointPolicy::Public).unwrap();
    for endpoint in [
        "http://api.cloudflare.com/client/v4",
        "https://127.0.0.1:8443/client/v4",
        "https://localhost/client/v4",
    ] {
        let e = Cloudflare::new(
            &rest_fake::config(&[("api_token", TOKEN), ("endpoint", endpoint)]),
            public.clone(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, DnsError::Refused(m) if m.contains("allow_insecure_endpoints")),
            "{endpoint}: {e:?}"
        );
    }
}

#[tokio::test]
async fn an_error_answer_without_the_envelope_is_not_copied_into_the_error() {
    let (fake, _) = fake().await;
    fake.inject(Answer::json(400, json!({"leak": "secret-from-the-body"})));
    let cf = provider(&fake, TOKEN, Some(ZONE_ID));
    let e = cf.present(NAME, "v").await.unwrap_err();
    assert!(
        matches!(&e, DnsError::Rejected(m) if m == "HTTP 400 (no error detail in the answer)"),
        "{e:?}"
    );
}

/// The zone a dns-01 order without a provider is matched against, as the API lists it; none
/// for a name outside every zone of the account.
#[tokio::test]
async fn zone_of_names_the_enclosing_zone() {
    let (fake, _) = fake().await;
    let dns = provider(&fake, TOKEN, None);
    assert_eq!(
        dns.zone_of("www.example.com").await.unwrap().as_deref(),
        Some("example.com")
    );
    assert_eq!(dns.zone_of("www.example.org").await.unwrap(), None);
    fake.assert_clean();
}

/// With a configured `zone_id`, the zone's name is read (`GET /zones/{zone_id}`).
#[tokio::test]
async fn zone_of_reads_the_configured_zone_name() {
    let (fake, _) = fake().await;
    let dns = provider(&fake, TOKEN, Some(ZONE_ID));
    assert_eq!(
        dns.zone_of("www.example.com").await.unwrap().as_deref(),
        Some("example.com")
    );
    assert_eq!(dns.zone_of("www.example.org").await.unwrap(), None);
    assert!(
        fake.seen_lines()
            .contains(&format!("GET /client/v4/zones/{ZONE_ID}"))
    );
    fake.assert_clean();
}
