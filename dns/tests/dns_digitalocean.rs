//! The DigitalOcean provider against a local server that checks every request against the
//! published API v2 (<https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records>)
//! and answers as documented, keeping the records in memory.

mod rest_fake;

use std::sync::{Arc, Mutex};

use rest_fake::{Answer, Fake, Request};
use scaivault_dns::{DigitalOcean, DnsError, DnsProvider};
use serde_json::{Value, json};

const TOKEN: &str = "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const DOMAIN: &str = "example.com";
const NAME: &str = "_acme-challenge.www.example.com";

#[derive(Debug, Clone)]
struct Rec {
    id: u64,
    kind: String,
    /// Relative, `@` at the apex (as the API stores it).
    name: String,
    data: String,
    ttl: u64,
}

impl Rec {
    fn json(&self) -> Value {
        json!({
            "id": self.id, "type": self.kind, "name": self.name, "data": self.data,
            "priority": null, "port": null, "ttl": self.ttl, "weight": null, "flags": null, "tag": null,
        })
    }
}

#[derive(Default)]
struct Domain {
    records: Vec<Rec>,
    next_id: u64,
}

impl Domain {
    fn insert(&mut self, kind: &str, name: &str, data: &str) -> &mut Rec {
        self.next_id += 1;
        self.records.push(Rec {
            id: 28448400 + self.next_id,
            kind: kind.into(),
            name: name.into(),
            data: data.into(),
            ttl: 1800,
        });
        self.records.last_mut().unwrap()
    }

    fn txt(&self, relative: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .records
            .iter()
            .filter(|r| r.kind == "TXT" && r.name == relative)
            .map(|r| r.data.clone())
            .collect();
        v.sort();
        v
    }
}

fn not_found() -> Answer {
    Answer::json(
        404,
        json!({ "id": "not_found", "message": "The resource you were accessing could not be found." }),
    )
}

fn relative(fqdn: &str) -> Option<String> {
    if fqdn == DOMAIN {
        return Some("@".into());
    }
    fqdn.strip_suffix(&format!(".{DOMAIN}")).map(str::to_owned)
}

fn handle(domain: &Mutex<Domain>, req: &Request) -> Result<Answer, String> {
    match req.header("authorization") {
        Some(v) if v == format!("Bearer {TOKEN}") => {}
        Some(v) if v.starts_with("Bearer ") => {
            return Ok(Answer::json(
                401,
                json!({ "id": "Unauthorized", "message": "Unable to authenticate you" }),
            ));
        }
        other => return Err(format!("no Authorization: Bearer token (got {other:?})")),
    }
    let mut domain = domain.lock().unwrap();
    let segments = req.segments();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v2", "domains", name]) => {
            req.no_body()?;
            if *name != DOMAIN {
                return Ok(not_found());
            }
            Ok(Answer::json(
                200,
                json!({ "domain": { "name": DOMAIN, "ttl": 1800, "zone_file": "$ORIGIN example.com.\n" } }),
            ))
        }
        (_, ["v2", "domains", name, "records", ..]) if *name != DOMAIN => Ok(not_found()),
        ("GET", ["v2", "domains", _, "records"]) => {
            req.only_query(&["name", "type", "page", "per_page"])?;
            req.no_body()?;
            if req.query("type")? != Some("TXT") {
                return Err("listed without type=TXT".into());
            }
            let fqdn = req.query("name")?.ok_or("listed without a name filter")?;
            let rel = relative(fqdn).ok_or(format!(
                "name={fqdn:?} is not a fully qualified record name in the domain"
            ))?;
            let page: usize = req
                .query("page")?
                .unwrap_or("1")
                .parse()
                .map_err(|_| "page")?;
            let per_page: usize = req
                .query("per_page")?
                .unwrap_or("20")
                .parse()
                .map_err(|_| "per_page")?;
            if !(1..=200).contains(&per_page) || page == 0 {
                return Err(format!("per_page {per_page} outside 1..=200 or page 0"));
            }
            let all: Vec<&Rec> = domain
                .records
                .iter()
                .filter(|r| r.kind == "TXT" && r.name == rel)
                .collect();
            let items: Vec<Value> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|r| r.json())
                .collect();
            let last = all.len().div_ceil(per_page).max(1);
            let link = |p: usize| {
                format!(
                    "https://api.digitalocean.com/v2/domains/{DOMAIN}/records?page={p}&per_page={per_page}&type=TXT&name={fqdn}"
                )
            };
            let pages = if page < last {
                json!({ "last": link(last), "next": link(page + 1) })
            } else if page > 1 {
                json!({ "first": link(1), "prev": link(page - 1) })
            } else {
                json!({})
            };
            Ok(Answer::json(
                200,
                json!({ "domain_records": items, "links": { "pages": pages }, "meta": { "total": all.len() } }),
            ))
        }
        ("POST", ["v2", "domains", _, "records"]) => {
            let body = req.json_object()?;
            for key in body.keys() {
                if ![
                    "type", "name", "data", "ttl", "priority", "port", "weight", "flags", "tag",
                ]
                .contains(&key.as_str())
                {
                    return Err(format!("undocumented field {key:?}"));
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
            if name.is_empty()
                || name.ends_with('.')
                || name == DOMAIN
                || name.ends_with(&format!(".{DOMAIN}"))
            {
                return Err(format!("name {name:?} is not relative to the domain"));
            }
            let data = body
                .get("data")
                .and_then(Value::as_str)
                .ok_or("data must be a string")?;
            let ttl = body
                .get("ttl")
                .and_then(Value::as_u64)
                .ok_or("ttl must be an integer")?;
            if ttl < 30 {
                return Err(format!("ttl {ttl} below DigitalOcean's minimum of 30"));
            }
            // The API keeps duplicates; the client must not create them.
            let rec = domain.insert(kind, name, data);
            rec.ttl = ttl;
            let rec = rec.json();
            Ok(Answer::json(201, json!({ "domain_record": rec })))
        }
        ("DELETE", ["v2", "domains", _, "records", id]) => {
            req.no_body()?;
            let id: u64 = id
                .parse()
                .map_err(|_| format!("record id {id:?} is not an integer"))?;
            let before = domain.records.len();
            domain.records.retain(|r| r.id != id);
            if domain.records.len() == before {
                return Ok(not_found());
            }
            Ok(Answer::empty(204))
        }
        _ => Err("not an endpoint of the DigitalOcean domains API".into()),
    }
}

async fn fake() -> (Fake, Arc<Mutex<Domain>>) {
    rest_fake::init();
    let domain = Arc::new(Mutex::new(Domain::default()));
    let state = domain.clone();
    let fake = Fake::start(move |req| handle(&state, req)).await;
    (fake, domain)
}

fn provider(endpoint_base: &str, token: &str) -> DigitalOcean {
    let endpoint = format!("{endpoint_base}/v2");
    DigitalOcean::new(
        &rest_fake::config(&[("api_token", token), ("endpoint", &endpoint)]),
        rest_fake::http(),
    )
    .unwrap()
}

#[tokio::test]
async fn adds_and_removes_one_value_keeping_the_others() {
    let (fake, domain) = fake().await;
    domain
        .lock()
        .unwrap()
        .insert("TXT", "_acme-challenge.www", "someone-elses-value");
    domain.lock().unwrap().insert("A", "www", "192.0.2.1");
    let doc = provider(&fake.base, TOKEN);

    doc.present(NAME, "apex-token").await.unwrap();
    doc.present(NAME, "wildcard-token").await.unwrap();
    doc.present(NAME, "apex-token").await.unwrap(); // already there: not duplicated
    assert_eq!(
        domain.lock().unwrap().txt("_acme-challenge.www"),
        ["apex-token", "someone-elses-value", "wildcard-token"]
    );

    doc.clean_up(NAME, "apex-token").await.unwrap();
    assert_eq!(
        domain.lock().unwrap().txt("_acme-challenge.www"),
        ["someone-elses-value", "wildcard-token"]
    );
    doc.clean_up(NAME, "apex-token").await.unwrap(); // not there: fine
    doc.clean_up(NAME, "wildcard-token").await.unwrap();
    assert_eq!(
        domain.lock().unwrap().txt("_acme-challenge.www"),
        ["someone-elses-value"]
    );
    assert_eq!(
        domain.lock().unwrap().records.len(),
        2,
        "the A record stays"
    );

    let lines = fake.seen_lines();
    assert_eq!(
        &lines[..3],
        [
            format!("GET /v2/domains/{NAME}"),
            "GET /v2/domains/www.example.com".to_owned(),
            "GET /v2/domains/example.com".to_owned(),
        ]
    );
    assert!(lines.contains(&"POST /v2/domains/example.com/records".to_owned()));
    assert_eq!(lines.iter().filter(|l| l.starts_with("POST")).count(), 2);
    fake.assert_clean();
}

#[tokio::test]
async fn apex_records_and_paging() {
    let (fake, domain) = fake().await;
    for i in 0..250 {
        domain
            .lock()
            .unwrap()
            .insert("TXT", "@", &format!("other-{i}"));
    }
    let doc = provider(&fake.base, TOKEN);
    doc.present(DOMAIN, "late-token").await.unwrap();
    doc.present(DOMAIN, "late-token").await.unwrap(); // found on page 2: not added again
    assert_eq!(domain.lock().unwrap().txt("@").len(), 251);
    doc.clean_up(DOMAIN, "late-token").await.unwrap();
    let values = domain.lock().unwrap().txt("@");
    assert_eq!(values.len(), 250);
    assert!(!values.contains(&"late-token".to_owned()));
    assert!(fake.seen_lines().iter().any(|l| l.contains("page=2")));
    fake.assert_clean();
}

#[tokio::test]
async fn rejected_token_is_an_auth_error() {
    let (fake, _) = fake().await;
    let doc = provider(&fake.base, "dop_v1_wrong");
    let e = doc.present(NAME, "v").await.unwrap_err();
    assert!(
        matches!(&e, DnsError::Auth(m) if m.contains("Unable to authenticate you")),
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
            json!({ "id": "too_many_requests", "message": "API Rate limit exceeded." }),
        )
        .with_header("retry-after", "42")
        .with_header("ratelimit-limit", "5000")
        .with_header("ratelimit-remaining", "0"),
    );
    let e = provider(&fake.base, TOKEN)
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DnsError::RateLimited {
                retry_after: Some(42),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_and_unreachable_api_are_transient() {
    let (fake, _) = fake().await;
    fake.inject(Answer::json(
        500,
        json!({ "id": "server_error", "message": "Unexpected server-side error" }),
    ));
    let e = provider(&fake.base, TOKEN)
        .clean_up(NAME, "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Server(_)), "{e:?}");

    let closed = rest_fake::closed_endpoint().await;
    let e = provider(&closed, TOKEN)
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Transport(_)), "{e:?}");
}

#[tokio::test]
async fn unknown_domain_is_rejected() {
    let (fake, _) = fake().await;
    let e = provider(&fake.base, TOKEN)
        .present("_acme-challenge.example.org", "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Rejected(_)), "{e:?}");
    fake.assert_clean();
}

#[test]
fn config_and_debug() {
    rest_fake::init();
    let e = DigitalOcean::new(&rest_fake::config(&[]), rest_fake::http()).unwrap_err();
    assert!(matches!(e, DnsError::Config(_)), "{e:?}");
    let e = DigitalOcean::new(
        &rest_fake::config(&[("api_token", TOKEN), ("endpoint", "not a url")]),
        rest_fake::http(),
    )
    .unwrap_err();
    assert!(matches!(e, DnsError::Config(_)), "{e:?}");
    let doc = DigitalOcean::new(
        &rest_fake::config(&[("api_token", TOKEN)]),
        rest_fake::http(),
    )
    .unwrap();
    let debug = format!("{doc:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
}

/// The zone a dns-01 order without a provider is matched against, as the API lists it; none
/// for a name outside every zone of the account.
#[tokio::test]
async fn zone_of_names_the_enclosing_zone() {
    let (fake, _) = fake().await;
    let dns = provider(&fake.base, TOKEN);
    assert_eq!(
        dns.zone_of("www.example.com").await.unwrap().as_deref(),
        Some("example.com")
    );
    assert_eq!(dns.zone_of("www.example.org").await.unwrap(), None);
    fake.assert_clean();
}
