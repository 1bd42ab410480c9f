//! The user guide, verbatim (`docs/acme-api-guide.md`, the copy of the guide this service
//! implements): every curl request of it is read from the document — method, path, JSON body —
//! and sent in the guide's order, unchanged but for the ids of this run (`acme_abc`,
//! `acme_order_xyz`, `cert_abc`, the serial `1A:2B:...`), against the service with Pebble
//! standing in for Let's Encrypt's production directory (`[acme.directories]`) and BIND serving
//! `acme.example`. Each answer must carry every field the guide's example answer shows.
//!
//! The one step the guide leaves to the admin UI ("configure a DNS provider once") is done
//! first: an rfc2136 provider for the BIND, with no zone configured (it learns `acme.example`
//! from the nameserver's SOA), so the guide's dns-01 orders without `dns_provider_id` find it.

mod common;

use std::time::Duration;

use common::{options, wait_final};
use scaivault_testkit::{ApiClient, Bind, BindOptions, Pebble, PebbleOptions, Service};
use serde_json::Value;

const GUIDE: &str = include_str!("../docs/acme-api-guide.md");
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// One curl request of the guide.
#[derive(Debug, Clone)]
struct Request {
    method: reqwest::Method,
    path: String,
    body: Option<String>,
}

/// Every curl request in the guide's bash blocks, in order.
fn requests(guide: &str) -> Vec<Request> {
    let mut out = Vec::new();
    let mut in_bash = false;
    let mut block = String::new();
    for line in guide.lines() {
        if line.trim_start().starts_with("```") {
            if in_bash {
                out.extend(block_requests(&block));
                block.clear();
            }
            in_bash = !in_bash && line.trim() == "```bash";
            continue;
        }
        if in_bash {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// The curl commands of one bash block: continuation lines joined, then one per `curl`.
fn block_requests(block: &str) -> Vec<Request> {
    let joined = block.replace("\\\n", " ");
    let mut out = Vec::new();
    let mut rest = joined.as_str();
    while let Some(start) = rest.find("curl ") {
        let command = &rest[start + 5..];
        let end = command[1..]
            .find("\ncurl ")
            .map_or(command.len(), |i| i + 1);
        let (command, next) = command.split_at(end);
        rest = next;
        let method = command
            .split_once("-X ")
            .and_then(|(_, m)| m.split_whitespace().next())
            .unwrap_or("GET");
        let url = command
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .expect("a URL");
        let path = format!("/{}", url.splitn(4, '/').nth(3).expect("a path"));
        let body = command.split_once("-d '").map(|(_, b)| {
            b.split_once('\'')
                .expect("the body's closing quote")
                .0
                .to_owned()
        });
        out.push(Request {
            method: method.parse().expect("a method"),
            path,
            body,
        });
    }
    out
}

/// The guide's example answers (`json` blocks), in order.
fn example_answers(guide: &str) -> Vec<Value> {
    guide
        .split("```json\n")
        .skip(1)
        .map(|b| serde_json::from_str(b.split("```").next().expect("block")).expect("JSON"))
        .collect()
}

/// Every field of `example` (recursively; an array by its first element) is in `answer`.
fn has_fields(answer: &Value, example: &Value, at: &str) {
    match (example, answer) {
        (Value::Object(fields), Value::Object(actual)) => {
            for (key, value) in fields {
                let got = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}.{key} is missing: {answer}"));
                has_fields(got, value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(items), Value::Array(actual)) => {
            if let (Some(first), Some(got)) = (items.first(), actual.first()) {
                has_fields(got, first, &format!("{at}[0]"));
            }
        }
        (Value::Object(_) | Value::Array(_), other) => {
            panic!("{at}: the guide shows a structure, the answer {other}")
        }
        _ => {}
    }
}

/// The ids of this run that replace the guide's placeholders.
#[derive(Default)]
struct Ids {
    account: String,
    order: String,
    certificate: String,
    serial: String,
}

impl Ids {
    fn fill(&self, text: &str) -> String {
        text.replace("acme_order_xyz", &self.order)
            .replace("acme_abc", &self.account)
            .replace("cert_abc", &self.certificate)
            .replace("1A:2B:...", &self.serial)
    }
}

#[test]
fn the_guide_parses_into_its_requests() {
    let requests = requests(GUIDE);
    let summary: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        summary,
        [
            "POST /v1/pki/acme/accounts",
            "POST /v1/pki/acme/issue",
            "GET /v1/pki/acme/orders/acme_order_xyz",
            "GET /v1/pki/certificates/cert_abc/pem",
            "POST /v1/pki/acme/issue",
            "POST /v1/pki/dns-providers",
            "POST /v1/pki/certificates/cert_abc/renew",
            "GET /v1/pki/acme/accounts",
            "GET /v1/pki/acme/orders",
            "POST /v1/pki/revoke",
        ]
    );
    assert!(
        requests[0]
            .body
            .as_deref()
            .is_some_and(|b| b.contains("letsencrypt-production"))
    );
    assert_eq!(example_answers(GUIDE).len(), 3);
}

async fn send(api: &ApiClient, request: &Request, ids: &Ids) -> (u16, Value, String) {
    let body: Option<Value> = request
        .body
        .as_deref()
        .map(|b| serde_json::from_str(&ids.fill(b)).expect("the guide's body is JSON"));
    let path = ids.fill(&request.path);
    let answer = api.raw(request.method.clone(), &path, body.as_ref()).await;
    let json = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    transcribe(
        request,
        &path,
        body.as_ref(),
        answer.status,
        &json,
        &answer.body,
    );
    (answer.status, json, answer.body)
}

/// With `SCAIVAULT_GUIDE_TRANSCRIPT=<file>`, each request and its answer are appended to the
/// file (the README's walk through the guide is this transcript).
fn transcribe(
    request: &Request,
    path: &str,
    body: Option<&Value>,
    status: u16,
    json: &Value,
    text: &str,
) {
    use std::io::Write as _;
    let Some(file) = std::env::var_os("SCAIVAULT_GUIDE_TRANSCRIPT") else {
        return;
    };
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("the transcript file");
    let sent = body.map(|b| format!(" -d '{b}'")).unwrap_or_default();
    let answer = if json.is_null() {
        format!("{} ...", text.lines().next().unwrap_or_default())
    } else {
        serde_json::to_string_pretty(json).expect("JSON")
    };
    writeln!(
        out,
        "$ curl -X {} {path}{sent}\n# {status}\n{answer}\n",
        request.method
    )
    .expect("write the transcript");
}

#[tokio::test]
async fn the_guide_works_verbatim() {
    let bind = Bind::start(BindOptions::zones(["acme.example"])).await;
    let pebble = Pebble::start(PebbleOptions {
        dns_server: Some(bind.addr()),
        nonce_reject_percent: Some(0),
        ..Default::default()
    })
    .await;
    let (opts, _pg) = options(common::Db::Sqlite);
    let service = Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set(
                "acme",
                "directories",
                format!("{{ letsencrypt = \"{}\" }}", pebble.directory_url()),
            )
            .set("dns", "resolvers", format!("[\"{}\"]", bind.addr()))
            .set_str("dns", "propagation_interval", "100ms")
            .set_str("dns", "propagation_timeout", "20s"),
    )
    .await;
    let api = service.client();
    // "Configure a DNS provider once (see the admin UI under PKI → DNS Providers)".
    common::bind_provider(&api, &bind, bind.tsig_secret_b64()).await;

    let requests = requests(GUIDE);
    let examples = example_answers(GUIDE);
    let mut ids = Ids::default();

    // Register an ACME account.
    let (status, account, _) = send(&api, &requests[0], &ids).await;
    assert_eq!(status, 201, "{account}");
    has_fields(&account, &examples[0], "account");
    assert_eq!(account["provider"], "letsencrypt");
    assert_eq!(account["environment"], "production");
    assert_eq!(account["status"], "active");
    ids.account = account["id"].as_str().expect("id").to_owned();

    // Issue a certificate (dns-01, no DNS provider named).
    let (status, pending, _) = send(&api, &requests[1], &ids).await;
    assert_eq!(status, 202, "{pending}");
    has_fields(&pending, &examples[1], "order");
    assert_eq!(pending["status"], "pending");
    ids.order = pending["order_id"].as_str().expect("order id").to_owned();

    // Poll order status until it is complete.
    let done = wait_final(&api, &ids.order, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "valid", "{done}");
    let (status, complete, _) = send(&api, &requests[2], &ids).await;
    assert_eq!(status, 200, "{complete}");
    has_fields(&complete, &examples[2], "order");
    ids.certificate = complete["certificate_id"]
        .as_str()
        .expect("certificate")
        .to_owned();

    // Fetch the certificate PEM.
    let (status, _, pem) = send(&api, &requests[3], &ids).await;
    assert_eq!(status, 200, "{pem}");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    // Wildcard certificates.
    let (status, wildcard, _) = send(&api, &requests[4], &ids).await;
    assert_eq!(status, 202, "{wildcard}");
    has_fields(&wildcard, &examples[1], "wildcard order");
    let id = wildcard["order_id"].as_str().expect("order id");
    let done = wait_final(&api, id, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "valid", "{done}");

    // DNS providers: the guide's Route 53 provider, its credentials as secret paths.
    let (status, route53, _) = send(&api, &requests[5], &ids).await;
    assert_eq!(status, 201, "{route53}");
    assert_eq!(route53["type"], "aws_route53");

    // Auto-renewal: renew early.
    let (status, renewal, _) = send(&api, &requests[6], &ids).await;
    assert_eq!(status, 202, "{renewal}");
    let id = renewal["order_id"].as_str().expect("order id");
    let done = wait_final(&api, id, ORDER_TIMEOUT).await;
    assert_eq!(done["status"], "valid", "{done}");
    assert_eq!(done["certificate_id"], ids.certificate.as_str());

    // List ACME accounts and orders.
    let (status, accounts, _) = send(&api, &requests[7], &ids).await;
    assert_eq!(status, 200, "{accounts}");
    assert_eq!(accounts["accounts"][0]["id"], ids.account.as_str());
    let (status, orders, _) = send(&api, &requests[8], &ids).await;
    assert_eq!(status, 200, "{orders}");
    assert_eq!(orders["orders"].as_array().expect("orders").len(), 3);

    // Revoke, by the serial the API shows (`1A:2B:...`), through the CA.
    let (_, certificate) = api
        .get(&format!("/v1/pki/certificates/{}", ids.certificate))
        .await;
    ids.serial = certificate["serial_number"]
        .as_str()
        .expect("serial")
        .to_owned();
    assert!(ids.serial.contains(':'), "{}", ids.serial);
    let (status, revoked, _) = send(&api, &requests[9], &ids).await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["reason"], "key_compromise");
    assert_eq!(revoked["via_acme"], true);
    assert_eq!(revoked["serial_number"], ids.serial.as_str());
}
