//! ACME accounts end to end: the binary registers, restores and deactivates accounts at a real
//! Pebble, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::{Db, Env, custom_account, start};
use scaivault_testkit::PebbleOptions;
use serde_json::json;

/// Pebble's example EAB key (base64url), as in Debian's pebble example configuration.
const EAB_KID: &str = "kid-1";
const EAB_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// Whether the store holds account credentials in plaintext: instant-acme's credentials JSON
/// names its key field `key_pkcs8`, so the string appears exactly when they are not sealed.
fn credentials_in_plaintext(env: &Env) -> bool {
    match &env.pg {
        Some(pg) => pg
            .query("SELECT count(*) FROM acme_accounts WHERE position('key_pkcs8'::bytea in sealed_credentials) > 0")
            .trim()
            != "0",
        None => std::fs::read_dir(env.service.data_dir())
            .expect("data dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("scaivault.db"))
            .any(|e| {
                let bytes = std::fs::read(e.path()).expect("read db file");
                bytes.windows(9).any(|w| w == b"key_pkcs8")
            }),
    }
}

async fn registers_against_pebble(db: Db) {
    let env = start(db, PebbleOptions::default()).await;
    let api = env.service.client();
    let (status, account) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("pebble", &env.pebble),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("acme_"), "{id}");
    assert_eq!(account["status"], "active");
    assert_eq!(account["provider"], "custom");
    assert_eq!(account["environment"], "staging");
    assert_eq!(account["email"], "certs@acme.example");
    assert!(
        account["account_url"]
            .as_str()
            .expect("url")
            .contains("/my-account/")
    );
    assert!(
        account["created_at"]
            .as_str()
            .expect("created_at")
            .ends_with('Z')
    );
    let mut fields: Vec<&str> = account
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "account_url",
            "created_at",
            "deactivated_at",
            "directory_url",
            "eab_kid",
            "email",
            "environment",
            "id",
            "key_rolled_at",
            "key_thumbprint",
            "name",
            "provider",
            "status"
        ],
        "the account key never leaves the service (its public key's thumbprint does)"
    );
    let thumbprint = account["key_thumbprint"].as_str().expect("thumbprint");
    assert_eq!(thumbprint.len(), 43, "base64url SHA-256: {thumbprint}");
    assert!(account["key_rolled_at"].is_null());

    let (status, fetched) = api.get(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["id"], account["id"]);
    let (status, list) = api.get("/v1/pki/acme/accounts").await;
    assert_eq!(status, 200);
    assert_eq!(list["accounts"].as_array().expect("array").len(), 1);

    let (status, dup) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("pebble", &env.pebble),
        )
        .await;
    assert_eq!(status, 409, "{dup}");
    assert_eq!(dup["error"]["code"], "conflict");

    assert!(
        !credentials_in_plaintext(&env),
        "account key must be sealed at rest"
    );
    let log = env.service.log_text();
    assert!(!log.contains("PRIVATE KEY"), "no key in the log");
    assert!(
        !log.contains(env.service.admin_token()),
        "no token in the log"
    );
}
on_both_backends!(registers_against_pebble);

async fn eab_required_refuses_without_and_accepts_with(db: Db) {
    let env = start(
        db,
        PebbleOptions {
            eab_keys: Some(vec![(EAB_KID.into(), EAB_KEY.into())]),
            ..Default::default()
        },
    )
    .await;
    let api = env.service.client();

    let (status, refused) = api
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("no-eab", &env.pebble),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "eab_required");
    assert!(
        refused["error"]["details"]["ca_problem"]["type"]
            .as_str()
            .expect("CA problem type")
            .ends_with("externalAccountRequired")
    );

    let mut wrong = custom_account("wrong-eab", &env.pebble);
    wrong["eab"] =
        json!({ "kid": EAB_KID, "hmac_key": "d3JvbmcgaG1hYyBrZXkgZm9yIHRoZSB0ZXN0IHJ1bg" });
    let (status, refused) = api.post("/v1/pki/acme/accounts", &wrong).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "ca_rejected");
    assert!(refused["error"]["details"]["ca_problem"]["type"].is_string());

    let mut right = custom_account("with-eab", &env.pebble);
    right["eab"] = json!({ "kid": EAB_KID, "hmac_key": EAB_KEY });
    let (status, account) = api.post("/v1/pki/acme/accounts", &right).await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(account["eab_kid"], EAB_KID);
    assert!(
        !env.service.log_text().contains(EAB_KEY),
        "the EAB key is never logged"
    );

    let (_, list) = api.get("/v1/pki/acme/accounts").await;
    assert_eq!(
        list["accounts"].as_array().expect("array").len(),
        1,
        "refused registrations leave nothing behind: {list}"
    );
}
on_both_backends!(eab_required_refuses_without_and_accepts_with);

async fn restart_keeps_accounts_and_deactivation_reaches_the_ca(db: Db) {
    let mut env = start(db, PebbleOptions::default()).await;
    let (status, account) = env
        .service
        .client()
        .post(
            "/v1/pki/acme/accounts",
            &custom_account("kept", &env.pebble),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_str().expect("id").to_owned();

    env.service.restart().await;
    let api = env.service.client();
    let (status, fetched) = api.get(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched["status"], "active");

    // The deactivation is signed with the account key restored from the sealed store after the
    // restart, so a 200 here shows the key survived and the CA accepted the request.
    let (status, deactivated) = api.delete(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200, "{deactivated}");
    assert_eq!(deactivated["status"], "deactivated");
    assert!(deactivated["deactivated_at"].is_string());

    let (status, again) = api.delete(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(status, 200, "deactivating twice is harmless: {again}");
    assert_eq!(again["status"], "deactivated");
    let (_, fetched) = api.get(&format!("/v1/pki/acme/accounts/{id}")).await;
    assert_eq!(fetched["status"], "deactivated");

    let (status, missing) = api
        .delete("/v1/pki/acme/accounts/acme_000000000000000000000000")
        .await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
}
on_both_backends!(restart_keeps_accounts_and_deactivation_reaches_the_ca);

/// A local stand-in for ZeroSSL's EAB API, answering as ZeroSSL documents it
/// (https://zerossl.com/documentation/acme/generate-eab-credentials/): `POST
/// /acme/eab-credentials?access_key=<key>` and `POST /acme/eab-credentials-email` with the form
/// field `email`, each `{"success": true, "eab_kid", "eab_hmac_key"}`; a wrong access key gets
/// `{"success": false, "error": {"code": 101, "type": "invalid_access_key"}}`. It hands out the
/// EAB key Pebble requires, and records what it was asked.
struct ZeroSslApi {
    base: String,
    calls: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _task: tokio::task::JoinHandle<()>,
}

const ZEROSSL_ACCESS_KEY: &str = "zerossl-access-key-of-the-test";

async fn zerossl_api() -> ZeroSslApi {
    use std::collections::HashMap;

    use axum::extract::{Form, Query, State};
    use axum::routing::post;

    type Calls = std::sync::Arc<std::sync::Mutex<Vec<String>>>;
    let credentials = || json!({"success": true, "eab_kid": EAB_KID, "eab_hmac_key": EAB_KEY});
    let calls = Calls::default();
    let app = axum::Router::new()
        .route(
            "/acme/eab-credentials",
            post(
                move |State(calls): State<Calls>,
                      Query(query): Query<HashMap<String, String>>| async move {
                    let key = query.get("access_key").cloned().unwrap_or_default();
                    calls.lock().unwrap().push(format!("access_key={key}"));
                    if key == ZEROSSL_ACCESS_KEY {
                        axum::Json(credentials())
                    } else {
                        axum::Json(json!({"success": false,
                            "error": {"code": 101, "type": "invalid_access_key"}}))
                    }
                },
            ),
        )
        .route(
            "/acme/eab-credentials-email",
            post(
                move |State(calls): State<Calls>, Form(form): Form<HashMap<String, String>>| async move {
                    let email = form.get("email").cloned().unwrap_or_default();
                    calls.lock().unwrap().push(format!("email={email}"));
                    axum::Json(if email.contains('@') {
                        credentials()
                    } else {
                        json!({"success": false, "error": {"code": 2900, "type": "invalid_email"}})
                    })
                },
            ),
        )
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    ZeroSslApi {
        base,
        calls,
        _task: task,
    }
}

/// ZeroSSL with the guide's registration body (no EAB): the credentials come from ZeroSSL's
/// API by the account's email, or by the access key in `zerossl_api_key_path`; Pebble, standing
/// in for ZeroSSL's directory, requires them and accepts the account.
#[tokio::test]
async fn zerossl_gets_its_eab_credentials_from_the_zerossl_api() {
    let api_server = zerossl_api().await;
    let pebble = scaivault_testkit::Pebble::start(PebbleOptions {
        eab_keys: Some(vec![(EAB_KID.into(), EAB_KEY.into())]),
        ..Default::default()
    })
    .await;
    let (opts, _pg) = common::options(Db::Sqlite);
    let service = scaivault_testkit::Service::start(
        opts.extra_root(pebble.listener_root_pem_path())
            .set(
                "acme",
                "directories",
                format!("{{ zerossl = \"{}\" }}", pebble.directory_url()),
            )
            .set_str("acme", "zerossl_api", &api_server.base),
    )
    .await;
    let api = service.client();
    let body = |name: &str| {
        json!({"name": name, "provider": "zerossl", "environment": "production",
               "email": "certs@acme.example"})
    };

    let (status, account) = api.post("/v1/pki/acme/accounts", &body("by-email")).await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(account["eab_kid"], EAB_KID);
    assert_eq!(account["directory_url"], pebble.directory_url().as_str());

    let (status, _) = api
        .put(
            "/v1/secrets/infra/zerossl/api-key",
            &json!({ "value": ZEROSSL_ACCESS_KEY }),
        )
        .await;
    assert_eq!(status, 201);
    let mut by_key = body("by-key");
    by_key["zerossl_api_key_path"] = json!("infra/zerossl/api-key");
    let (status, account) = api.post("/v1/pki/acme/accounts", &by_key).await;
    assert_eq!(status, 201, "{account}");

    // A wrong key: ZeroSSL's refusal, as a 400 on the field.
    let (status, _) = api
        .put(
            "/v1/secrets/infra/zerossl/wrong",
            &json!({ "value": "nope" }),
        )
        .await;
    assert_eq!(status, 201);
    let mut wrong = body("wrong-key");
    wrong["zerossl_api_key_path"] = json!("infra/zerossl/wrong");
    let (status, refused) = api.post("/v1/pki/acme/accounts", &wrong).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "zerossl_api_key_path");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid_access_key")),
        "{refused}"
    );

    // Using a secret needs the scope to read it.
    let (status, token) = api
        .post(
            "/v1/auth/tokens",
            &json!({"name": "writer", "scopes": ["pki:write"]}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let writer = api.with_token(token["token"].as_str().expect("token"));
    let mut other = body("no-scope");
    other["zerossl_api_key_path"] = json!("infra/zerossl/api-key");
    let (status, refused) = writer.post("/v1/pki/acme/accounts", &other).await;
    assert_eq!(status, 403, "{refused}");

    assert_eq!(
        *api_server.calls.lock().unwrap(),
        [
            "email=certs@acme.example".to_owned(),
            format!("access_key={ZEROSSL_ACCESS_KEY}"),
            "access_key=nope".to_owned(),
        ]
    );
    let log = service.log_text();
    assert!(
        !log.contains(ZEROSSL_ACCESS_KEY) && !log.contains(EAB_KEY),
        "no secret logged"
    );
}
