//! The Route 53 provider against a local fake of the Route 53 REST API (2013-04-01) that checks
//! every request against the published API and answers as Route 53 documents:
//!
//! - SigV4: the `Authorization` header's credential scope (key id, date, region, `route53`,
//!   `aws4_request`), `x-amz-date` within five minutes, `host` and `x-amz-date` signed, and the
//!   signature recomputed from the received request with the known secret. A mismatch is
//!   answered as Route 53 does (403 `SignatureDoesNotMatch`).
//! - `ListResourceRecordSets`: `GET /2013-04-01/hostedzone/{Id}/rrset` with `name` (absolute)
//!   and `type=TXT`; answered in listing order, so the next set is returned when the name has
//!   none (the provider must compare names).
//! - `ChangeResourceRecordSets`: `POST /2013-04-01/hostedzone/{Id}/rrset` with an XML
//!   `ChangeResourceRecordSetsRequest` in the 2013-04-01 namespace; `CREATE`, `UPSERT` and
//!   `DELETE` (exact match, else 400 `InvalidChangeBatch`) applied atomically to an in-memory
//!   zone; TXT values must be quoted character-strings.

mod cloud_fake;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};
use cloud_fake::{Checks, Fault, Recorder, config, header, http, query, serve};
use scaivault_dns::{DnsError, DnsProvider, Route53};
use serde::Deserialize;

const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
const ZONE_ID: &str = "Z0123456789ABCDEFGHIJ";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const NAME: &str = "_acme-challenge.example.test";
const V1: &str = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
const V2: &str = "Qz8nV2lq0cz8p7TbJQ2wq3p5wZ8rRr7e1u1jYVhW0xk";

/// One stored TXT RRset: TTL and values as sent (quoted).
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    ttl: u64,
    values: Vec<String>,
}

struct Fake {
    rec: Recorder,
    region: String,
    /// Absolute lower-case name → RRset.
    zone: Mutex<BTreeMap<String, Stored>>,
    actions: Mutex<Vec<String>>,
}

impl Fake {
    fn stored(&self, name: &str) -> Option<Stored> {
        self.zone.lock().unwrap().get(name).cloned()
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.stored(name).map(|s| s.values).unwrap_or_default()
    }
}

async fn start(region: &str) -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake {
        rec: Recorder::default(),
        region: region.to_owned(),
        zone: Mutex::new(BTreeMap::new()),
        actions: Mutex::new(Vec::new()),
    });
    let router = Router::new().fallback(handle).with_state(fake.clone());
    (fake, serve(router).await)
}

fn provider(base: &str, secret: &str, extra: &[(&str, &str)]) -> Route53 {
    let mut pairs = vec![
        ("access_key_id", KEY_ID),
        ("secret_access_key", secret),
        ("hosted_zone_id", ZONE_ID),
        ("endpoint", base),
    ];
    pairs.extend_from_slice(extra);
    Route53::new(&config(&pairs), http()).expect("provider")
}

fn xml(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "11111111-2222-3333-4444-555555555555")
        .body(Body::from(body))
        .unwrap()
}

fn error_xml(status: u16, kind: &str, code: &str, message: &str) -> Response<Body> {
    xml(
        status,
        format!(
            r#"<?xml version="1.0"?>
<ErrorResponse xmlns="{XMLNS}"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>"#,
            escape(message)
        ),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn parse_authorization(value: &str) -> Option<(String, Vec<String>, String)> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => credential = Some(v.to_owned()),
            "SignedHeaders" => signed = Some(v.split(';').map(str::to_owned).collect()),
            "Signature" => signature = Some(v.to_owned()),
            _ => return None,
        }
    }
    Some((credential?, signed?, signature?))
}

fn parse_amz_date(value: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(value, &format)
        .ok()?
        .assume_utc();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.unix_timestamp()).ok()?))
}

/// Checks the SigV4 signature of a received request; `Some` is Route 53's 403 answer.
fn verify_signature(
    fake: &Fake,
    checks: &mut Checks,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response<Body>> {
    let Some((credential, signed, signature)) =
        parse_authorization(header(headers, "authorization"))
    else {
        checks.check(false, || {
            format!(
                "Authorization is not a SigV4 header: {:?}",
                header(headers, "authorization")
            )
        });
        return None;
    };
    let amz_date = header(headers, "x-amz-date");
    let Some(time) = parse_amz_date(amz_date) else {
        checks.check(false, || {
            format!("x-amz-date {amz_date:?} is not YYYYMMDDTHHMMSSZ")
        });
        return None;
    };
    let skew = SystemTime::now()
        .duration_since(time)
        .unwrap_or_else(|e| e.duration());
    checks.check(skew < Duration::from_secs(300), || {
        format!("x-amz-date {amz_date} is more than 5 minutes off")
    });
    let scope: Vec<&str> = credential.split('/').collect();
    checks.eq(
        "credential scope",
        &scope[..],
        &[
            KEY_ID,
            &amz_date[..8],
            fake.region.as_str(),
            "route53",
            "aws4_request",
        ][..],
    );
    for required in ["host", "x-amz-date"] {
        checks.check(signed.iter().any(|h| h == required), || {
            format!("SignedHeaders {signed:?} lacks {required}")
        });
    }
    checks.check(signed.windows(2).all(|w| w[0] < w[1]), || {
        format!("SignedHeaders {signed:?} are not sorted lower-case names")
    });

    // Recompute with the known secret from what was received.
    let host = header(headers, "host");
    let url = format!(
        "http://{host}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let signed_values: Vec<(String, String)> = signed
        .iter()
        .filter(|h| h.as_str() != "x-amz-date")
        .map(|h| (h.clone(), header(headers, h).to_owned()))
        .collect();
    let identity =
        aws_credential_types::Credentials::new(KEY_ID, SECRET, None, None, "fake").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&fake.region)
        .name("route53")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        method.as_str(),
        url,
        signed_values.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let expected = sign(signable, &params).unwrap();
    if expected.signature() != signature {
        return Some(error_xml(
            403,
            "Sender",
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    None
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    fake.rec.request(format!("{method} {}", uri.path()));
    let mut checks = Checks::default();
    if let Some(refusal) = verify_signature(&fake, &mut checks, &method, &uri, &headers, &body) {
        return refusal;
    }
    if let Some(violation) = fake.rec.judge("signature", std::mem::take(&mut checks.0)) {
        return violation;
    }
    if let Some(fault) = fake.rec.take_fault() {
        return fault.response();
    }
    let base = format!("/2013-04-01/hostedzone/{ZONE_ID}/rrset");
    let path = uri.path();
    if path == format!("/2013-04-01/hostedzone/{ZONE_ID}") {
        return match method {
            Method::GET => get_hosted_zone(),
            other => fake
                .rec
                .judge("method", vec![format!("{other} on {path}")])
                .unwrap(),
        };
    }
    if !path.starts_with("/2013-04-01/hostedzone/") {
        return fake
            .rec
            .judge("path", vec![format!("unknown path {path}")])
            .unwrap();
    }
    if path != base && path != format!("{base}/") {
        return error_xml(
            404,
            "Sender",
            "NoSuchHostedZone",
            "No hosted zone found with ID",
        );
    }
    match method {
        Method::GET => list(&fake, &uri),
        Method::POST => change(&fake, &headers, &body),
        other => fake
            .rec
            .judge("method", vec![format!("{other} on {path}")])
            .unwrap(),
    }
}

/// `GetHostedZone` as the API reference shows it (the zone of this fake is `example.test`).
fn get_hosted_zone() -> Response<Body> {
    xml(
        200,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<GetHostedZoneResponse xmlns="{XMLNS}"><HostedZone><Id>/hostedzone/{ZONE_ID}</Id><Name>example.test.</Name><CallerReference>fake</CallerReference><Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone><DelegationSet><NameServers><NameServer>ns-2048.awsdns-64.com</NameServer></NameServers></DelegationSet></GetHostedZoneResponse>"#
        ),
    )
}

fn list(fake: &Fake, uri: &Uri) -> Response<Body> {
    let q = query(uri);
    let mut checks = Checks::default();
    let name = q.get("name").cloned().unwrap_or_default();
    checks.check(name.ends_with('.'), || {
        format!("name {name:?} is not absolute")
    });
    checks.eq("type", &q.get("type").map(String::as_str), &Some("TXT"));
    if let Some(max) = q.get("maxitems") {
        checks.check(
            max.parse::<u32>().is_ok_and(|n| (1..=300).contains(&n)),
            || format!("maxitems {max:?} is not 1..=300"),
        );
    }
    for key in q.keys() {
        checks.check(
            ["name", "type", "identifier", "maxitems"].contains(&key.as_str()),
            || format!("unknown query parameter {key}"),
        );
    }
    if let Some(violation) = fake.rec.judge("ListResourceRecordSets", checks.0) {
        return violation;
    }
    // Listing starts at `name`; when it has no TXT set, the next set in the zone comes first.
    let zone = fake.zone.lock().unwrap();
    let listed = zone
        .get(&name.to_ascii_lowercase())
        .map(|s| (name.to_ascii_lowercase(), s.clone()))
        .or_else(|| zone.iter().next().map(|(n, s)| (n.clone(), s.clone())));
    let sets = listed
        .map(|(n, s)| {
            let records: String = s
                .values
                .iter()
                .map(|v| format!("<ResourceRecord><Value>{}</Value></ResourceRecord>", escape(v)))
                .collect();
            format!(
                "<ResourceRecordSet><Name>{n}</Name><Type>TXT</Type><TTL>{}</TTL><ResourceRecords>{records}</ResourceRecords></ResourceRecordSet>",
                s.ttl
            )
        })
        .unwrap_or_default();
    xml(
        200,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse xmlns="{XMLNS}"><ResourceRecordSets>{sets}</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>{}</MaxItems></ListResourceRecordSetsResponse>"#,
            q.get("maxitems").cloned().unwrap_or_else(|| "300".into())
        ),
    )
}

#[derive(Deserialize)]
struct ChangeRequest {
    #[serde(rename = "@xmlns")]
    xmlns: Option<String>,
    #[serde(rename = "ChangeBatch")]
    batch: ChangeBatch,
}

#[derive(Deserialize)]
struct ChangeBatch {
    #[serde(rename = "Comment")]
    comment: Option<String>,
    #[serde(rename = "Changes")]
    changes: Changes,
}

#[derive(Deserialize)]
struct Changes {
    #[serde(rename = "Change", default)]
    change: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "ResourceRecordSet")]
    set: SentSet,
}

#[derive(Deserialize)]
struct SentSet {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "TTL")]
    ttl: Option<u64>,
    #[serde(rename = "ResourceRecords")]
    records: Option<SentRecords>,
}

#[derive(Deserialize)]
struct SentRecords {
    #[serde(rename = "ResourceRecord", default)]
    record: Vec<SentRecord>,
}

#[derive(Deserialize)]
struct SentRecord {
    #[serde(rename = "Value")]
    value: String,
}

/// Whether `v` is one or more quoted character-strings of at most 255 characters.
fn is_quoted_txt(v: &str) -> bool {
    v.len() >= 2
        && v.starts_with('"')
        && v.ends_with('"')
        && v.split("\" \"")
            .all(|chunk| chunk.trim_matches('"').len() <= 255)
}

fn change(fake: &Fake, headers: &HeaderMap, body: &[u8]) -> Response<Body> {
    let mut checks = Checks::default();
    let content_type = header(headers, "content-type");
    checks.check(
        content_type.starts_with("application/xml") || content_type.starts_with("text/xml"),
        || format!("content-type {content_type:?} is not XML"),
    );
    let text = String::from_utf8_lossy(body);
    let request: ChangeRequest = match quick_xml::de::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            return fake
                .rec
                .judge(
                    "ChangeResourceRecordSets",
                    vec![format!("bad XML ({e}): {text}")],
                )
                .unwrap();
        }
    };
    checks.check(text.contains("<ChangeResourceRecordSetsRequest"), || {
        "root element is not ChangeResourceRecordSetsRequest".into()
    });
    checks.eq("xmlns", &request.xmlns.as_deref(), &Some(XMLNS));
    if let Some(comment) = &request.batch.comment {
        checks.check(comment.len() <= 256, || "Comment longer than 256".into());
    }
    checks.check(!request.batch.changes.change.is_empty(), || {
        "no Change in the batch".into()
    });
    for c in &request.batch.changes.change {
        checks.check(
            ["CREATE", "UPSERT", "DELETE"].contains(&c.action.as_str()),
            || format!("Action {:?}", c.action),
        );
        checks.check(c.set.name.ends_with('.'), || {
            format!("Name {:?} is not absolute", c.set.name)
        });
        checks.eq("Type", c.set.kind.as_str(), "TXT");
        checks.check(c.set.ttl.is_some(), || {
            "TTL missing (required without AliasTarget)".into()
        });
        let values = c.set.records.as_ref().map(|r| r.record.len()).unwrap_or(0);
        checks.check(values > 0, || "ResourceRecords empty".into());
        for r in c.set.records.iter().flat_map(|r| &r.record) {
            checks.check(is_quoted_txt(&r.value), || {
                format!("TXT value {:?} is not a quoted character-string", r.value)
            });
        }
    }
    if let Some(violation) = fake.rec.judge("ChangeResourceRecordSets", checks.0) {
        return violation;
    }

    // Apply atomically: validate all against a copy first.
    let mut zone = fake.zone.lock().unwrap();
    let mut next = zone.clone();
    for c in &request.batch.changes.change {
        let name = c.set.name.to_ascii_lowercase();
        let sent = Stored {
            ttl: c.set.ttl.unwrap_or_default(),
            values: c
                .set
                .records
                .iter()
                .flat_map(|r| r.record.iter().map(|v| v.value.clone()))
                .collect(),
        };
        fake.actions
            .lock()
            .unwrap()
            .push(format!("{} {name}", c.action));
        match c.action.as_str() {
            "CREATE" if next.contains_key(&name) => {
                return invalid_batch(&format!(
                    "Tried to create resource record set [name='{name}', type='TXT'] but it already exists"
                ));
            }
            "DELETE" => match next.get(&name) {
                Some(existing) if *existing == sent => {
                    next.remove(&name);
                }
                Some(_) => {
                    return invalid_batch(&format!(
                        "Tried to delete resource record set [name='{name}', type='TXT'] but the values provided do not match the current values"
                    ));
                }
                None => {
                    return invalid_batch(&format!(
                        "Tried to delete resource record set [name='{name}', type='TXT'] but it was not found"
                    ));
                }
            },
            _ => {
                next.insert(name, sent);
            }
        }
    }
    *zone = next;
    xml(
        200,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="{XMLNS}"><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>"#
        ),
    )
}

fn invalid_batch(message: &str) -> Response<Body> {
    xml(
        400,
        format!(
            r#"<?xml version="1.0"?>
<InvalidChangeBatch xmlns="{XMLNS}"><Messages><Message>{}</Message></Messages><RequestId>11111111-2222-3333-4444-555555555555</RequestId></InvalidChangeBatch>"#,
            escape(message)
        ),
    )
}

fn q(v: &str) -> String {
    format!("\"{v}\"")
}

#[tokio::test]
async fn two_values_added_one_removed_the_other_and_foreign_values_remain() {
    let (fake, base) = start("us-east-1").await;
    let absolute = format!("{NAME}.");
    // Another client's value on the same name, and an unrelated set elsewhere in the zone.
    fake.zone.lock().unwrap().insert(
        absolute.clone(),
        Stored {
            ttl: 300,
            values: vec![q("other-client")],
        },
    );
    let dns = provider(&base, SECRET, &[]);

    dns.present(NAME, V1).await.unwrap();
    dns.present(NAME, V2).await.unwrap();
    assert_eq!(
        fake.stored(&absolute).unwrap(),
        Stored {
            ttl: 300,
            values: vec![q("other-client"), q(V1), q(V2)],
        },
        "both values added, the other client's value and the TTL kept"
    );

    let changes_before = fake.actions.lock().unwrap().len();
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(
        fake.actions.lock().unwrap().len(),
        changes_before,
        "adding a present value changes nothing"
    );

    dns.clean_up(NAME, V1).await.unwrap();
    assert_eq!(fake.values(&absolute), vec![q("other-client"), q(V2)]);
    dns.clean_up(NAME, V1).await.unwrap();
    dns.clean_up(NAME, V2).await.unwrap();
    assert_eq!(fake.values(&absolute), vec![q("other-client")]);
    fake.rec.assert_clean();
}

#[tokio::test]
async fn the_last_value_is_removed_with_an_exact_delete() {
    let (fake, base) = start("us-east-1").await;
    // Listing from a name without TXT shows the next set: the provider must not take it.
    fake.zone.lock().unwrap().insert(
        "_acme-challenge.zzz.example.test.".into(),
        Stored {
            ttl: 60,
            values: vec![q("unrelated")],
        },
    );
    let dns = provider(&base, SECRET, &[]);
    let absolute = format!("{NAME}.");

    dns.present(NAME, V1).await.unwrap();
    assert_eq!(
        fake.stored(&absolute).unwrap(),
        Stored {
            ttl: 60,
            values: vec![q(V1)]
        }
    );
    dns.clean_up(NAME, V1).await.unwrap();
    assert!(fake.stored(&absolute).is_none(), "the RRset is gone");
    assert_eq!(
        fake.values("_acme-challenge.zzz.example.test."),
        vec![q("unrelated")]
    );
    let actions = fake.actions.lock().unwrap().clone();
    assert_eq!(
        actions,
        vec![format!("UPSERT {absolute}"), format!("DELETE {absolute}")]
    );
    // Removing again is a no-op.
    dns.clean_up(NAME, V1).await.unwrap();
    fake.rec.assert_clean();
}

#[tokio::test]
async fn apex_and_wildcard_values_added_concurrently_both_stay() {
    let (fake, base) = start("us-east-1").await;
    let dns = Arc::new(provider(&base, SECRET, &[]));
    let (a, b) = tokio::join!(dns.present(NAME, V1), dns.present(NAME, V2));
    a.unwrap();
    b.unwrap();
    let mut values = fake.values(&format!("{NAME}."));
    values.sort();
    let mut want = vec![q(V1), q(V2)];
    want.sort();
    assert_eq!(values, want);
    fake.rec.assert_clean();
}

#[tokio::test]
async fn region_and_hostedzone_prefix_are_honoured() {
    let (fake, base) = start("eu-west-1").await;
    let dns = Route53::new(
        &config(&[
            ("access_key_id", KEY_ID),
            ("secret_access_key", SECRET),
            ("hosted_zone_id", &format!("/hostedzone/{ZONE_ID}")),
            ("region", "eu-west-1"),
            ("endpoint", &format!("{base}/")),
        ]),
        http(),
    )
    .unwrap();
    dns.present(NAME, V1).await.unwrap();
    assert_eq!(fake.values(&format!("{NAME}.")), vec![q(V1)]);
    fake.rec.assert_clean();
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_credentials() {
    let (fake, base) = start("us-east-1").await;
    let dns = provider(&base, "not-the-secret", &[]);
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Auth(m) if m.contains("SignatureDoesNotMatch")),
        "{err:?}"
    );
    assert!(!format!("{err}").contains("not-the-secret"));
    fake.rec.assert_clean();
}

#[tokio::test]
async fn http_errors_become_the_right_variants() {
    let (fake, base) = start("us-east-1").await;
    let dns = provider(&base, SECRET, &[]);

    fake.rec.inject(Fault::new(
        401,
        "text/xml",
        format!(r#"<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>"#),
    ));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Auth(_)), "{err:?}");

    fake.rec
        .inject(Fault::new(429, "text/xml", "slow down").header("retry-after", "17"));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(
        matches!(
            err,
            DnsError::RateLimited {
                retry_after: Some(17),
                ..
            }
        ),
        "{err:?}"
    );

    // Route 53's documented throttling answer: 400 with code Throttling.
    fake.rec.inject(Fault::new(
        400,
        "text/xml",
        format!(r#"<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"#),
    ));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::RateLimited { .. }), "{err:?}");
    assert!(err.is_transient());

    fake.rec.inject(Fault::new(
        400,
        "text/xml",
        format!(r#"<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>PriorRequestNotComplete</Code><Message>The request was rejected because Route 53 was still processing a prior request.</Message></Error></ErrorResponse>"#),
    ));
    let err = dns.clean_up(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::RateLimited { .. }), "{err:?}");

    fake.rec.inject(Fault::new(
        500,
        "text/xml",
        format!(r#"<ErrorResponse xmlns="{XMLNS}"><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal</Message></Error></ErrorResponse>"#),
    ));
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Server(_)), "{err:?}");

    // An unknown zone is a rejected request, not a transient one.
    let other = Route53::new(
        &config(&[
            ("access_key_id", KEY_ID),
            ("secret_access_key", SECRET),
            ("hosted_zone_id", "ZNOSUCHZONE"),
            ("endpoint", &base),
        ]),
        http(),
    )
    .unwrap();
    let err = other.present(NAME, V1).await.unwrap_err();
    assert!(
        matches!(&err, DnsError::Rejected(m) if m.contains("NoSuchHostedZone")),
        "{err:?}"
    );
    fake.rec.assert_clean();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let base = cloud_fake::closed_url().await;
    let dns = provider(&base, SECRET, &[]);
    let err = dns.present(NAME, V1).await.unwrap_err();
    assert!(matches!(err, DnsError::Transport(_)), "{err:?}");
}

#[test]
fn config_is_validated_and_debug_hides_the_keys() {
    let missing = Route53::new(
        &config(&[("access_key_id", KEY_ID), ("hosted_zone_id", ZONE_ID)]),
        http(),
    )
    .unwrap_err();
    assert!(matches!(&missing, DnsError::Config(m) if m.contains("secret_access_key")));
    let bad_zone = Route53::new(
        &config(&[
            ("access_key_id", KEY_ID),
            ("secret_access_key", SECRET),
            ("hosted_zone_id", "Z1/../x"),
        ]),
        http(),
    )
    .unwrap_err();
    assert!(matches!(bad_zone, DnsError::Config(_)));
    let dns = provider("https://route53.amazonaws.com", SECRET, &[]);
    let debug = format!("{dns:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains(KEY_ID),
        "{debug}"
    );
}

/// The signer the fake and the provider share reproduces AWS's published SigV4 test suite
/// vector `get-vanilla` (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>),
/// so the fake's recomputation is the published algorithm and not just the provider's own.
#[test]
fn sigv4_reproduces_the_published_get_vanilla_vector() {
    let identity = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "suite",
    )
    .into();
    let time = parse_amz_date("20150830T123600Z").unwrap();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("service")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "GET",
        "https://example.amazonaws.com/",
        [("host", "example.amazonaws.com")].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .unwrap();
    let out = sign(signable, &params).unwrap();
    assert_eq!(
        out.signature(),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

/// The hosted zone's name, read with `GetHostedZone` (signed like every call), encloses the
/// names of its zone and no others.
#[tokio::test]
async fn zone_of_reads_the_hosted_zone_name() {
    let (fake, base) = start("us-east-1").await;
    let route53 = provider(&base, SECRET, &[]);
    assert_eq!(
        route53
            .zone_of("www.Example.test")
            .await
            .unwrap()
            .as_deref(),
        Some("example.test")
    );
    assert_eq!(route53.zone_of("www.example.org").await.unwrap(), None);
    assert!(
        fake.rec
            .requests()
            .contains(&format!("GET /2013-04-01/hostedzone/{ZONE_ID}"))
    );
    fake.rec.assert_clean();
}
