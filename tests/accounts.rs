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
            "name",
            "provider",
            "status"
        ],
        "the account key never leaves the service"
    );

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
