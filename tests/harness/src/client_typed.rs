//! The API's calls with the contract crate's bodies: what the guide's examples send, read back
//! as the types the handlers return. An answer that is not the success the call expects comes
//! back as an [`ApiFailure`] with the error body.

use reqwest::Method;
use scaivault_contract::{
    Account, AccountList, CertificateDetail, CreateDnsProvider, CreateToken, CreatedToken,
    Delivery, DnsProvider, DnsProviderTest, ErrorBody, EventList, Issue, ListEvents, ListOrders,
    ListSecrets, OrderDetail, OrderList, OrderWithChallenges, PutSecret, Register, RenewalOrder,
    RevokeBody, Revoked, Secret, SecretList, TestDnsProvider,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::ApiClient;

/// An answer other than the expected success: its status and error body.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: u16,
    pub error: ErrorBody,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status, self.error.error.code, self.error.error.message
        )
    }
}

impl ApiClient {
    /// `method path` with `body`, expecting `success` and a `T`. Panics when the answer is
    /// neither `T` with that status nor an error body.
    pub async fn call_typed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
        success: u16,
    ) -> Result<T, ApiFailure> {
        let body = body.map(|b| serde_json::to_value(b).expect("a body serialises"));
        let answer = self.raw(method.clone(), path, body.as_ref()).await;
        if answer.status == success {
            serde_json::from_str(&answer.body).map_err(|err| {
                panic!(
                    "{method} {path}: {} is not the expected body ({err}): {}",
                    answer.status, answer.body
                )
            })
        } else {
            let error = serde_json::from_str(&answer.body).unwrap_or_else(|err| {
                panic!(
                    "{method} {path}: {} is not an error body ({err}): {}",
                    answer.status, answer.body
                )
            });
            Err(ApiFailure {
                status: answer.status,
                error,
            })
        }
    }

    /// `POST /v1/pki/acme/accounts`: 201 with the account.
    pub async fn register(&self, body: &Register) -> Result<Account, ApiFailure> {
        self.call_typed(Method::POST, "/v1/pki/acme/accounts", Some(body), 201)
            .await
    }

    /// `GET /v1/pki/acme/accounts`, the first page.
    pub async fn accounts(&self) -> Result<AccountList, ApiFailure> {
        self.call_typed(Method::GET, "/v1/pki/acme/accounts", None::<&()>, 200)
            .await
    }

    /// `POST /v1/pki/acme/issue`: 202 with the pending order and its challenges.
    pub async fn issue(&self, body: &Issue) -> Result<OrderWithChallenges, ApiFailure> {
        self.call_typed(Method::POST, "/v1/pki/acme/issue", Some(body), 202)
            .await
    }

    /// `GET /v1/pki/acme/orders/{id}`.
    pub async fn order(&self, id: &str) -> Result<OrderDetail, ApiFailure> {
        self.call_typed(
            Method::GET,
            &format!("/v1/pki/acme/orders/{id}"),
            None::<&()>,
            200,
        )
        .await
    }

    /// `GET /v1/pki/acme/orders?status=&limit=&cursor=`.
    pub async fn orders(&self, query: &ListOrders) -> Result<OrderList, ApiFailure> {
        let query = serde_urlencoded::to_string(query).expect("a query serialises");
        self.call_typed(
            Method::GET,
            &format!("/v1/pki/acme/orders?{query}"),
            None::<&()>,
            200,
        )
        .await
    }

    /// `GET /v1/pki/certificates/{id}`.
    pub async fn certificate(&self, id: &str) -> Result<CertificateDetail, ApiFailure> {
        self.call_typed(
            Method::GET,
            &format!("/v1/pki/certificates/{id}"),
            None::<&()>,
            200,
        )
        .await
    }

    /// `POST /v1/pki/certificates/{id}/renew`: 202 with the renewal order.
    pub async fn renew(&self, id: &str) -> Result<RenewalOrder, ApiFailure> {
        self.call_typed(
            Method::POST,
            &format!("/v1/pki/certificates/{id}/renew"),
            None::<&()>,
            202,
        )
        .await
    }

    /// `POST /v1/pki/revoke`.
    pub async fn revoke(&self, body: &RevokeBody) -> Result<Revoked, ApiFailure> {
        self.call_typed(Method::POST, "/v1/pki/revoke", Some(body), 200)
            .await
    }

    /// `POST /v1/pki/dns-providers`: 201 with the provider.
    pub async fn create_dns_provider(
        &self,
        body: &CreateDnsProvider,
    ) -> Result<DnsProvider, ApiFailure> {
        self.call_typed(Method::POST, "/v1/pki/dns-providers", Some(body), 201)
            .await
    }

    /// `PUT /v1/secrets/{path}` of a new secret: 201.
    pub async fn create_secret(&self, path: &str, value: &str) -> Result<Secret, ApiFailure> {
        let body = PutSecret {
            value: value.to_owned(),
        };
        self.call_typed(
            Method::PUT,
            &format!("/v1/secrets/{path}"),
            Some(&body),
            201,
        )
        .await
    }

    /// `POST /v1/auth/tokens`: 201 with the token's value.
    pub async fn create_token(&self, body: &CreateToken) -> Result<CreatedToken, ApiFailure> {
        self.call_typed(Method::POST, "/v1/auth/tokens", Some(body), 201)
            .await
    }

    /// `GET /v1/events?type=&since=&limit=&cursor=`.
    pub async fn events(&self, query: &ListEvents) -> Result<EventList, ApiFailure> {
        let query = serde_urlencoded::to_string(query).expect("a query serialises");
        self.call_typed(
            Method::GET,
            &format!("/v1/events?{query}"),
            None::<&()>,
            200,
        )
        .await
    }

    /// `POST /v1/pki/dns-providers/{id}/test`: 200 with the probe's outcome.
    pub async fn test_dns_provider(
        &self,
        id: &str,
        body: &TestDnsProvider,
    ) -> Result<DnsProviderTest, ApiFailure> {
        self.call_typed(
            Method::POST,
            &format!("/v1/pki/dns-providers/{id}/test"),
            Some(body),
            200,
        )
        .await
    }

    /// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver`: 202 with the new delivery.
    pub async fn redeliver(&self, id: &str, delivery_id: &str) -> Result<Delivery, ApiFailure> {
        self.call_typed(
            Method::POST,
            &format!("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
            None::<&()>,
            202,
        )
        .await
    }

    /// `GET /v1/secrets?prefix=&limit=&cursor=`.
    pub async fn secrets(&self, query: &ListSecrets) -> Result<SecretList, ApiFailure> {
        let query = serde_urlencoded::to_string(query).expect("a query serialises");
        self.call_typed(
            Method::GET,
            &format!("/v1/secrets?{query}"),
            None::<&()>,
            200,
        )
        .await
    }
}
