//! The Hetzner provider against a local server that checks every request against the DNS part
//! of the published Hetzner Cloud API (<https://docs.hetzner.cloud/reference/cloud#zones>,
//! zones, RRsets and their add/remove actions) and answers as documented, keeping the RRsets
//! in memory.

mod rest_fake;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rest_fake::{Answer, Fake, Request};
use scaivault_dns::{DnsError, DnsProvider, Hetzner};
use serde_json::{Value, json};

const TOKEN: &str = "hcloud-test-token-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
const ZONE_ID: u64 = 42;
const ZONE: &str = "example.com";
const NAME: &str = "_acme-challenge.www.example.com";

struct RrSet {
    ttl: Option<u64>,
    records: Vec<String>,
}

#[derive(Default)]
struct State {
    /// (name, type) → RRset
    rrsets: BTreeMap<(String, String), RrSet>,
    next_action: u64,
    /// Actions answered "running" when created, "success" when read.
    actions: Vec<u64>,
    /// Answer every RRset action with a failed action (and change nothing).
    fail_actions: bool,
}

impl State {
    fn values(&self, name: &str) -> Vec<String> {
        let mut v = self
            .rrsets
            .get(&(name.to_owned(), "TXT".to_owned()))
            .map(|r| r.records.clone())
            .unwrap_or_default();
        v.sort();
        v
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::json(
        status,
        json!({ "error": { "code": code, "message": message, "details": {} } }),
    )
}

fn zone_json() -> Value {
    json!({
        "id": ZONE_ID, "name": ZONE, "created": "2016-01-30T23:55:00+00:00", "mode": "primary",
        "primary_nameservers": [], "labels": {}, "protection": { "delete": false }, "ttl": 10800,
        "status": "ok", "record_count": 0,
        "authoritative_nameservers": {
            "assigned": ["hydrogen.ns.hetzner.com.", "oxygen.ns.hetzner.com.", "helium.ns.hetzner.de."],
            "delegated": [], "delegation_last_check": null, "delegation_status": "unknown",
        },
        "registrar": "other",
    })
}

fn action_json(id: u64, command: &str, status: &str) -> Value {
    let finished = if status == "success" {
        json!("2016-01-30T23:56:00+00:00")
    } else {
        Value::Null
    };
    json!({
        "id": id, "command": command, "status": status,
        "progress": if status == "success" { 100 } else { 0 },
        "started": "2016-01-30T23:55:00+00:00", "finished": finished,
        "resources": [{ "id": ZONE_ID, "type": "zone" }], "error": null,
    })
}

fn zone_matches(id_or_name: &str) -> bool {
    id_or_name == ZONE_ID.to_string() || id_or_name == ZONE
}

/// The `records` of an action body: non-empty, distinct, quoted TXT values.
fn records_of(body: &serde_json::Map<String, Value>) -> Result<Vec<String>, String> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or("records must be an array")?;
    if records.is_empty() {
        return Err("records must not be empty".into());
    }
    let mut values = Vec::new();
    for record in records {
        let record = record.as_object().ok_or("a record must be an object")?;
        if let Some(key) = record
            .keys()
            .find(|k| !["value", "comment"].contains(&k.as_str()))
        {
            return Err(format!("undocumented record field {key:?}"));
        }
        let value = record
            .get("value")
            .and_then(Value::as_str)
            .ok_or("value must be a string")?;
        if !(value.len() >= 2 && value.starts_with('"') && value.ends_with('"')) {
            return Err(format!("TXT value {value:?} is not a quoted string"));
        }
        if values.iter().any(|v| v == value) {
            return Err(format!("records not distinct: {value:?}"));
        }
        values.push(value.to_owned());
    }
    Ok(values)
}

fn handle(state: &Mutex<State>, req: &Request) -> Result<Answer, String> {
    match req.header("authorization") {
        Some(v) if v == format!("Bearer {TOKEN}") => {}
        Some(v) if v.starts_with("Bearer ") => {
            return Ok(error(401, "unauthorized", "unable to authenticate"));
        }
        other => return Err(format!("no Authorization: Bearer token (got {other:?})")),
    }
    if req.header("auth-api-token").is_some() {
        return Err("sent the old DNS Console Auth-API-Token header".into());
    }
    let mut state = state.lock().unwrap();
    let segments = req.segments();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "zones"]) => {
            req.only_query(&["name", "mode", "label_selector", "sort", "page", "per_page"])?;
            req.no_body()?;
            let name = req.query("name")?.ok_or("zone lookup without name")?;
            let zones: Vec<Value> = (name == ZONE).then(zone_json).into_iter().collect();
            let total = zones.len();
            Ok(Answer::json(
                200,
                json!({
                    "zones": zones,
                    "meta": { "pagination": {
                        "page": 1, "per_page": 25, "previous_page": null, "next_page": null,
                        "last_page": 1, "total_entries": total,
                    } },
                }),
            ))
        }
        ("GET", ["v1", "zones", "actions", id]) => {
            req.no_body()?;
            let id: u64 = id.parse().map_err(|_| "action id is not an integer")?;
            if !state.actions.contains(&id) {
                return Ok(error(404, "not_found", "action not found"));
            }
            Ok(Answer::json(
                200,
                json!({ "action": action_json(id, "add_rrset_records", "success") }),
            ))
        }
        ("GET", ["v1", "zones", zone]) => {
            req.no_body()?;
            if !zone_matches(zone) {
                return Ok(error(404, "not_found", "zone not found"));
            }
            Ok(Answer::json(200, json!({ "zone": zone_json() })))
        }
        (_, ["v1", "zones", zone, "rrsets", ..]) if !zone_matches(zone) => {
            Ok(error(404, "not_found", "zone not found"))
        }
        (_, ["v1", "zones", _, "rrsets", name, kind, ..])
            if *name != name.to_lowercase()
                || name.ends_with('.')
                || name.ends_with(ZONE)
                || *kind != "TXT" =>
        {
            Err(format!(
                "RRset {name:?}/{kind:?}: names are lower case, relative to the zone, TXT"
            ))
        }
        ("GET", ["v1", "zones", _, "rrsets", name, kind]) => {
            req.no_body()?;
            match state.rrsets.get(&((*name).to_owned(), (*kind).to_owned())) {
                None => Ok(error(404, "not_found", "rrset not found")),
                Some(rrset) => Ok(Answer::json(
                    200,
                    json!({ "rrset": {
                    "id": format!("{name}/{kind}"), "name": name, "type": kind, "ttl": rrset.ttl,
                    "labels": {}, "protection": { "change": false },
                    "records": rrset.records.iter().map(|v| json!({ "value": v, "comment": null })).collect::<Vec<_>>(),
                    "zone": ZONE_ID,
                } }),
                )),
            }
        }
        ("POST", ["v1", "zones", _, "rrsets", name, kind, "actions", action]) => {
            let body = req.json_object()?;
            let key = ((*name).to_owned(), (*kind).to_owned());
            let values = records_of(&body)?;
            if state.fail_actions {
                let mut failed = action_json(99, "add_rrset_records", "error");
                failed["error"] = json!({ "code": "action_failed", "message": "Action failed" });
                return Ok(Answer::json(201, json!({ "action": failed })));
            }
            match *action {
                "add_records" => {
                    if let Some(k) = body
                        .keys()
                        .find(|k| !["records", "ttl"].contains(&k.as_str()))
                    {
                        return Err(format!("undocumented field {k:?}"));
                    }
                    let ttl = match body.get("ttl") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(v.as_u64().ok_or("ttl must be an integer")?),
                    };
                    let rrset = state.rrsets.entry(key).or_insert(RrSet {
                        ttl,
                        records: vec![],
                    });
                    if let (Some(have), Some(want)) = (rrset.ttl, ttl)
                        && have != want
                    {
                        return Ok(error(422, "invalid_input", "ttl differs from the RRset's"));
                    }
                    // Stricter than documented: a client adding a present value is a bug here.
                    if let Some(v) = values.iter().find(|v| rrset.records.contains(v)) {
                        return Err(format!("value {v} added although the RRset holds it"));
                    }
                    rrset.records.extend(values);
                }
                "remove_records" => {
                    if let Some(k) = body.keys().find(|k| k.as_str() != "records") {
                        return Err(format!("undocumented field {k:?}"));
                    }
                    let Some(rrset) = state.rrsets.get_mut(&key) else {
                        return Ok(error(404, "not_found", "rrset not found"));
                    };
                    if let Some(v) = values.iter().find(|v| !rrset.records.contains(v)) {
                        return Err(format!("value {v} removed although the RRset lacks it"));
                    }
                    rrset.records.retain(|r| !values.contains(r));
                    if rrset.records.is_empty() {
                        state.rrsets.remove(&key);
                    }
                }
                other => return Err(format!("unknown RRset action {other:?}")),
            }
            state.next_action += 1;
            let id = state.next_action;
            state.actions.push(id);
            let command = if *action == "add_records" {
                "add_rrset_records"
            } else {
                "remove_rrset_records"
            };
            Ok(Answer::json(
                201,
                json!({ "action": action_json(id, command, "running") }),
            ))
        }
        _ => Err("not an endpoint of the Hetzner Cloud DNS API".into()),
    }
}

async fn fake() -> (Fake, Arc<Mutex<State>>) {
    rest_fake::init();
    let state = Arc::new(Mutex::new(State::default()));
    let shared = state.clone();
    let fake = Fake::start(move |req| handle(&shared, req)).await;
    (fake, state)
}

fn provider(base: &str, token: &str, zone_id: Option<&str>) -> Hetzner {
    let endpoint = format!("{base}/v1");
    let mut pairs = vec![("api_token", token), ("endpoint", endpoint.as_str())];
    if let Some(zone_id) = zone_id {
        pairs.push(("zone_id", zone_id));
    }
    Hetzner::new(&rest_fake::config(&pairs), rest_fake::http()).unwrap()
}

#[tokio::test]
async fn adds_and_removes_one_value_keeping_the_others() {
    let (fake, state) = fake().await;
    state.lock().unwrap().rrsets.insert(
        ("_acme-challenge.www".into(), "TXT".into()),
        RrSet {
            ttl: Some(300),
            records: vec!["\"someone-elses-value\"".into()],
        },
    );
    let hz = provider(&fake.base, TOKEN, None);

    hz.present(NAME, "apex-token").await.unwrap();
    hz.present(NAME, "wildcard-token").await.unwrap();
    hz.present(NAME, "apex-token").await.unwrap(); // already there: not sent again
    assert_eq!(
        state.lock().unwrap().values("_acme-challenge.www"),
        [
            "\"apex-token\"",
            "\"someone-elses-value\"",
            "\"wildcard-token\""
        ]
    );

    hz.clean_up(NAME, "apex-token").await.unwrap();
    assert_eq!(
        state.lock().unwrap().values("_acme-challenge.www"),
        ["\"someone-elses-value\"", "\"wildcard-token\""]
    );
    hz.clean_up(NAME, "apex-token").await.unwrap(); // not there: fine
    hz.clean_up(NAME, "wildcard-token").await.unwrap();
    assert_eq!(
        state.lock().unwrap().values("_acme-challenge.www"),
        ["\"someone-elses-value\""]
    );

    let lines = fake.seen_lines();
    assert_eq!(
        &lines[..3],
        [
            format!("GET /v1/zones?name={NAME}"),
            "GET /v1/zones?name=www.example.com".to_owned(),
            "GET /v1/zones?name=example.com".to_owned(),
        ]
    );
    assert!(lines.contains(
        &"POST /v1/zones/42/rrsets/_acme-challenge.www/TXT/actions/add_records".to_owned()
    ));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET /v1/zones/actions/")),
        "running actions are awaited"
    );
    // The existing RRset had a TTL: add_records must not send a different one.
    for req in fake
        .seen()
        .iter()
        .filter(|r| r.path.ends_with("add_records"))
    {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert!(body.get("ttl").is_none(), "{body}");
    }
    fake.assert_clean();
}

#[tokio::test]
async fn new_rrset_at_the_apex_of_a_configured_zone() {
    let (fake, state) = fake().await;
    let hz = provider(&fake.base, TOKEN, Some("42"));
    hz.present(ZONE, "apex-value").await.unwrap();
    assert_eq!(state.lock().unwrap().values("@"), ["\"apex-value\""]);
    assert_eq!(
        state.lock().unwrap().rrsets[&("@".into(), "TXT".into())].ttl,
        Some(60)
    );
    hz.clean_up(ZONE, "apex-value").await.unwrap();
    assert!(
        state.lock().unwrap().rrsets.is_empty(),
        "the last value takes the RRset with it"
    );
    let lines = fake.seen_lines();
    assert_eq!(lines[0], "GET /v1/zones/42");
    assert!(lines.contains(&"POST /v1/zones/42/rrsets/@/TXT/actions/remove_records".to_owned()));
    fake.assert_clean();
}

#[tokio::test]
async fn rejected_token_is_an_auth_error() {
    let (fake, _) = fake().await;
    let e = provider(&fake.base, "old-dns-console-token", None)
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Auth(m) if m.contains("unauthorized")),
        "{e:?}"
    );
    fake.assert_clean();
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let (fake, _) = fake().await;
    fake.inject(
        error(
            429,
            "rate_limit_exceeded",
            "limit of 3600 requests per hour reached",
        )
        .with_header("retry-after", "9"),
    );
    let e = provider(&fake.base, TOKEN, Some("42"))
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            DnsError::RateLimited {
                retry_after: Some(9),
                ..
            }
        ),
        "{e:?}"
    );

    // Without Retry-After, the RateLimit-Reset instant tells how long to wait.
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 120;
    fake.inject(
        error(
            429,
            "rate_limit_exceeded",
            "limit of 3600 requests per hour reached",
        )
        .with_header("ratelimit-limit", "3600")
        .with_header("ratelimit-remaining", "0")
        .with_header("ratelimit-reset", &reset.to_string()),
    );
    let e = provider(&fake.base, TOKEN, Some("42"))
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(
        matches!(e, DnsError::RateLimited { retry_after: Some(s), .. } if (115..=120).contains(&s)),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_and_unreachable_api_are_transient() {
    let (fake, _) = fake().await;
    fake.inject(error(500, "service_error", "internal error"));
    let e = provider(&fake.base, TOKEN, Some("42"))
        .clean_up(NAME, "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Server(_)), "{e:?}");

    let closed = rest_fake::closed_endpoint().await;
    let e = provider(&closed, TOKEN, None)
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Transport(_)), "{e:?}");
}

#[tokio::test]
async fn failed_action_and_unknown_zone_are_rejected() {
    let (fake, state) = fake().await;
    state.lock().unwrap().fail_actions = true;
    let e = provider(&fake.base, TOKEN, Some("42"))
        .present(NAME, "v")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DnsError::Rejected(m) if m.contains("Action failed")),
        "{e:?}"
    );

    let e = provider(&fake.base, TOKEN, None)
        .present("_acme-challenge.example.org", "v")
        .await
        .unwrap_err();
    assert!(matches!(e, DnsError::Rejected(_)), "{e:?}");
    fake.assert_clean();
}

#[test]
fn config_and_debug() {
    rest_fake::init();
    let e = Hetzner::new(&rest_fake::config(&[]), rest_fake::http()).unwrap_err();
    assert!(matches!(e, DnsError::Config(_)), "{e:?}");
    let hz = Hetzner::new(
        &rest_fake::config(&[("api_token", TOKEN)]),
        rest_fake::http(),
    )
    .unwrap();
    let debug = format!("{hz:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(debug.contains("api.hetzner.cloud/v1"), "{debug}");
}

/// The zone a dns-01 order without a provider is matched against, as the API lists it; none
/// for a name outside every zone of the account.
#[tokio::test]
async fn zone_of_names_the_enclosing_zone() {
    let (fake, _) = fake().await;
    let dns = provider(&fake.base, TOKEN, None);
    assert_eq!(
        dns.zone_of("www.example.com").await.unwrap().as_deref(),
        Some("example.com")
    );
    assert_eq!(dns.zone_of("www.example.org").await.unwrap(), None);
    fake.assert_clean();
}
