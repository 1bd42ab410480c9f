//! The actor owning one ACME account: its decrypted key and protocol client live only here, and
//! account-level work (registration, deactivation, new orders, revocation; later key rollover)
//! runs one message at a time, as RFC 8555 expects of one account key's nonces and state.

use std::sync::Arc;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ExternalAccountKey, Identifier, NewAccount,
    NewOrder, RevocationRequest,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rustls_pki_types::CertificateDer;
use scaivault_domain::account::{AccountRecord, AccountStatus, Registration, credentials_aad};
use scaivault_domain::order::ChallengeType;
use scaivault_domain::revocation::RevocationReason;
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, timestamp};

use crate::acme_http::capture_retry_after;
use crate::{AcmeHttp, Error};

/// What an account actor needs from the service.
#[derive(Debug)]
pub struct AccountContext {
    pub store: SharedStore,
    pub key: MasterKey,
    pub http: AcmeHttp,
}

/// Messages an account actor handles.
pub enum AccountMsg {
    /// Create the account at the CA and persist it (only for an actor spawned to register).
    Register(
        Box<Registration>,
        RpcReplyPort<Result<AccountRecord, Error>>,
    ),
    /// Deactivate the account at the CA (RFC 8555 §7.3.6), then here; the actor stops after.
    Deactivate(RpcReplyPort<Result<AccountRecord, Error>>),
    /// Create an order at the CA (RFC 8555 §7.4) and read its authorizations' challenges.
    NewOrder(Box<NewOrderSpec>, RpcReplyPort<Result<CreatedOrder, Error>>),
    /// A handle on the protocol client, for an order actor to drive its own order.
    Client(RpcReplyPort<Result<Account, Error>>),
    /// Revoke a certificate at the CA (RFC 8555 §7.6), the request signed with this account's
    /// key: the account that ordered a certificate may revoke it.
    Revoke(Box<RevokeAtCa>, RpcReplyPort<Result<(), Error>>),
}

/// A certificate to revoke at the CA, and why.
#[derive(Debug, Clone)]
pub struct RevokeAtCa {
    /// The leaf certificate, DER (RFC 8555 §7.6 sends it base64url-encoded).
    pub certificate_der: Vec<u8>,
    pub reason: RevocationReason,
}

/// What to order.
#[derive(Debug, Clone)]
pub struct NewOrderSpec {
    pub domains: Vec<String>,
    pub challenge_type: ChallengeType,
    pub profile: Option<String>,
    /// The ARI identifier (RFC 9773 §4.1) of the certificate this order renews: sent as
    /// `replaces` (RFC 9773 §5) when the CA offers renewal information.
    pub replaces: Option<String>,
}

/// An order as the CA created it: its URL and, per identifier, the challenge to answer.
#[derive(Debug, Clone)]
pub struct CreatedOrder {
    pub order_url: String,
    pub challenges: Vec<CreatedChallenge>,
    /// Whether the CA accepted the order with `replaces` (an ARI renewal).
    pub replaced: bool,
}

/// One identifier's challenge of the chosen type.
#[derive(Debug, Clone)]
pub struct CreatedChallenge {
    /// As the order named it (`*.example.test` for a wildcard).
    pub domain: String,
    pub status: String,
    pub token: String,
    pub key_authorization: String,
    pub authorization_url: String,
    pub challenge_url: String,
}

/// How an account actor starts.
pub enum AccountStart {
    /// A new account, registered by a `Register` message.
    New { id: String },
    /// An account restored from the store.
    Restore { id: String },
}

/// The actor type.
#[derive(Debug)]
pub struct AccountActor {
    pub(crate) ctx: Arc<AccountContext>,
}

/// The actor's state: the protocol client once the account exists at the CA.
pub struct AccountState {
    id: String,
    account: Option<Account>,
}

impl Actor for AccountActor {
    type Msg = AccountMsg;
    type State = AccountState;
    type Arguments = AccountStart;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        start: AccountStart,
    ) -> Result<AccountState, ActorProcessingErr> {
        match start {
            AccountStart::New { id } => Ok(AccountState { id, account: None }),
            AccountStart::Restore { id } => {
                let account = self.restore(&id).await?;
                Ok(AccountState {
                    id,
                    account: Some(account),
                })
            }
        }
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: AccountMsg,
        state: &mut AccountState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AccountMsg::Register(registration, reply) => {
                let result = capture_retry_after(self.register(state, *registration)).await;
                let failed = result.is_err();
                let _ = reply.send(result);
                if failed {
                    // Nothing exists for this id: the actor has no reason to live on.
                    myself.stop(Some("registration failed".into()));
                }
            }
            AccountMsg::NewOrder(spec, reply) => {
                let _ = reply.send(capture_retry_after(self.new_order(state, &spec)).await);
            }
            AccountMsg::Revoke(request, reply) => {
                let _ = reply.send(capture_retry_after(self.revoke(state, &request)).await);
            }
            AccountMsg::Client(reply) => {
                let _ = reply.send(state.account.clone().ok_or_else(|| {
                    Error::Unavailable(format!("account {} is not registered", state.id))
                }));
            }
            AccountMsg::Deactivate(reply) => {
                let result = capture_retry_after(self.deactivate(state)).await;
                let done = result.is_ok();
                let _ = reply.send(result);
                if done {
                    myself.stop(Some("deactivated".into()));
                }
            }
        }
        Ok(())
    }
}

impl AccountActor {
    async fn restore(&self, id: &str) -> Result<Account, Error> {
        let record = self
            .ctx
            .store
            .get_account(id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", id))?;
        let sealed = self
            .ctx
            .store
            .account_credentials(id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", id))?;
        let json = self.ctx.key.open(&credentials_aad(id), &sealed)?;
        let credentials: AccountCredentials = serde_json::from_slice(&json).map_err(|err| {
            scaivault_domain::Error::corrupt(format!("account {id}: stored credentials: {err}"))
        })?;
        Account::builder_with_http(self.ctx.http.client())
            .from_credentials(credentials)
            .await
            .map_err(|err| Error::from_acme(&record.directory_url, err))
    }

    async fn register(
        &self,
        state: &mut AccountState,
        registration: Registration,
    ) -> Result<AccountRecord, Error> {
        let contact = format!("mailto:{}", registration.email);
        let new_account = NewAccount {
            contact: &[&contact],
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let eab = registration
            .eab
            .as_ref()
            .map(|eab| ExternalAccountKey::new(eab.kid.clone(), &eab.hmac_key));
        let url = registration.directory_url.clone();
        let (account, credentials) = retry_bad_nonce(|| {
            Account::builder_with_http(self.ctx.http.client()).create(
                &new_account,
                url.clone(),
                eab.as_ref(),
            )
        })
        .await
        .map_err(|err| Error::from_acme(&url, err))?;
        let record = AccountRecord {
            id: state.id.clone(),
            name: registration.name,
            provider: registration.provider,
            environment: registration.environment,
            directory_url: registration.directory_url,
            email: registration.email,
            status: AccountStatus::Active,
            account_url: account.id().to_owned(),
            eab_kid: registration.eab.map(|eab| eab.kid),
            created_at: timestamp::now(),
            deactivated_at: None,
        };
        let json = serde_json::to_vec(&credentials).map_err(|err| {
            scaivault_domain::Error::corrupt(format!("serialising account credentials: {err}"))
        })?;
        let sealed = self.ctx.key.seal(&credentials_aad(&record.id), &json)?;
        if let Err(err) = self.ctx.store.insert_account(&record, &sealed).await {
            // The CA has an account we could not keep: deactivate it rather than orphan it.
            if let Err(cleanup) = account.deactivate().await {
                tracing::warn!(account_url = %record.account_url, error = %cleanup,
                    "could not deactivate an account that failed to persist");
            }
            return Err(err.into());
        }
        tracing::info!(account = %record.id, provider = %record.provider,
            account_url = %record.account_url, "registered ACME account");
        state.account = Some(account);
        Ok(record)
    }

    async fn new_order(
        &self,
        state: &AccountState,
        spec: &NewOrderSpec,
    ) -> Result<CreatedOrder, Error> {
        let account = state
            .account
            .as_ref()
            .ok_or_else(|| Error::Unavailable(format!("account {} is not registered", state.id)))?;
        let directory = || {
            state
                .account
                .as_ref()
                .map(|a| a.id().to_owned())
                .unwrap_or_default()
        };
        let identifiers: Vec<Identifier> = spec
            .domains
            .iter()
            .map(|domain| Identifier::Dns(domain.clone()))
            .collect();
        let build = || {
            let request = NewOrder::new(&identifiers);
            match spec.profile.as_deref() {
                Some(profile) => request.profile(profile),
                None => request,
            }
        };
        let request = build();
        let replaces = spec.replaces.as_deref().and_then(|id| {
            // The identifier was computed by us from a stored certificate; a malformed one is
            // simply not sent.
            serde_json::from_str::<instant_acme::CertificateIdentifier<'_>>(&format!("\"{id}\""))
                .ok()
                .map(instant_acme::CertificateIdentifier::into_owned)
        });
        let mut replaced = false;
        let mut order = match replaces {
            Some(replaces) => {
                let with = build().replaces(replaces);
                match retry_bad_nonce(|| account.new_order(&with)).await {
                    Ok(order) => {
                        replaced = true;
                        Ok(order)
                    }
                    // No renewalInfo in the directory: an ordinary order.
                    Err(instant_acme::Error::Unsupported(_)) => {
                        retry_bad_nonce(|| account.new_order(&request)).await
                    }
                    // RFC 9773 §5: the certificate was already replaced (say, by an order that
                    // did not finish): order again without `replaces`.
                    Err(instant_acme::Error::Api(problem))
                        if problem
                            .r#type
                            .as_deref()
                            .is_some_and(|t| t.ends_with(":alreadyReplaced")) =>
                    {
                        tracing::info!(account = %state.id, "certificate already replaced at the CA; ordering without replaces");
                        retry_bad_nonce(|| account.new_order(&request)).await
                    }
                    Err(other) => Err(other),
                }
            }
            None => retry_bad_nonce(|| account.new_order(&request)).await,
        }
        .map_err(|err| Error::from_acme(&directory(), err))?;
        let order_url = order.url().to_owned();
        // Reading the authorizations is safe to repeat: on a badNonce, read the order afresh.
        let mut attempts = 0;
        let challenges = loop {
            match read_challenges(&mut order, spec).await {
                Err(Error::Acme { problem })
                    if is_bad_nonce(&problem) && attempts < BAD_NONCE_RETRIES =>
                {
                    attempts += 1;
                    order = retry_bad_nonce(|| account.order(order_url.clone()))
                        .await
                        .map_err(|err| Error::from_acme(&order_url, err))?;
                }
                other => break other?,
            }
        };
        tracing::info!(account = %state.id, order_url = %order_url, domains = spec.domains.len(),
            "created ACME order");
        Ok(CreatedOrder {
            order_url,
            challenges,
            replaced,
        })
    }

    /// `revokeCert` (RFC 8555 §7.6). The reason goes as its RFC 5280 §5.3.1 code, except
    /// `unspecified`, which is left out: §5.3.1 says the reason code "SHOULD be absent instead
    /// of using the unspecified (0) reasonCode value", and §7.6 makes the field optional.
    async fn revoke(&self, state: &AccountState, request: &RevokeAtCa) -> Result<(), Error> {
        let account = state
            .account
            .as_ref()
            .ok_or_else(|| Error::Unavailable(format!("account {} is not registered", state.id)))?;
        let certificate = CertificateDer::from(request.certificate_der.as_slice());
        let payload = RevocationRequest {
            certificate: &certificate,
            reason: acme_revocation_reason(request.reason),
        };
        // A badNonce rejection means the CA did not act on the request, so repeating is safe.
        retry_bad_nonce(|| account.revoke(&payload))
            .await
            .map_err(|err| Error::from_acme(account.id(), err))?;
        tracing::info!(account = %state.id, reason = %request.reason, "revoked a certificate at the CA");
        Ok(())
    }

    async fn deactivate(&self, state: &mut AccountState) -> Result<AccountRecord, Error> {
        let account = state
            .account
            .clone()
            .ok_or_else(|| Error::Unavailable(format!("account {} is not registered", state.id)))?;
        let record = self
            .ctx
            .store
            .get_account(&state.id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", state.id.clone()))?;
        account
            .deactivate()
            .await
            .map_err(|err| Error::from_acme(&record.directory_url, err))?;
        let at = timestamp::now();
        self.ctx
            .store
            .set_account_status(&state.id, AccountStatus::Deactivated, at)
            .await?;
        state.account = None;
        tracing::info!(account = %state.id, "deactivated ACME account");
        Ok(AccountRecord {
            status: AccountStatus::Deactivated,
            deactivated_at: Some(at),
            ..record
        })
    }
}

/// instant-acme's revocation reason; `None` for `unspecified` (see [`AccountActor::revoke`]).
fn acme_revocation_reason(reason: RevocationReason) -> Option<instant_acme::RevocationReason> {
    use instant_acme::RevocationReason as Acme;
    match reason {
        RevocationReason::Unspecified => None,
        RevocationReason::KeyCompromise => Some(Acme::KeyCompromise),
        RevocationReason::CaCompromise => Some(Acme::CaCompromise),
        RevocationReason::AffiliationChanged => Some(Acme::AffiliationChanged),
        RevocationReason::Superseded => Some(Acme::Superseded),
        RevocationReason::CessationOfOperation => Some(Acme::CessationOfOperation),
    }
}

/// instant-acme's name for a challenge type.
pub(crate) fn acme_challenge_type(kind: ChallengeType) -> instant_acme::ChallengeType {
    match kind {
        ChallengeType::Http01 => instant_acme::ChallengeType::Http01,
        ChallengeType::Dns01 => instant_acme::ChallengeType::Dns01,
        ChallengeType::TlsAlpn01 => instant_acme::ChallengeType::TlsAlpn01,
    }
}

/// Extra attempts after instant-acme's own three for a request the CA rejected with `badNonce`
/// (RFC 8555 §6.5): the CA did not process it, so repeating is safe, and a CA rejecting a share
/// of nonces (Pebble: 5 %) otherwise fails about one request in 8,000.
const BAD_NONCE_RETRIES: u32 = 3;

fn is_bad_nonce(problem: &crate::AcmeProblem) -> bool {
    problem.short_kind() == "badNonce"
}

/// Runs `request` again while the CA answers `badNonce`, up to [`BAD_NONCE_RETRIES`] times.
async fn retry_bad_nonce<T, F, Fut>(mut request: F) -> Result<T, instant_acme::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, instant_acme::Error>>,
{
    let mut attempts = 0;
    loop {
        match request().await {
            Err(instant_acme::Error::Api(problem))
                if problem.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce")
                    && attempts < BAD_NONCE_RETRIES =>
            {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// Reads each authorization's challenge of the wanted type.
async fn read_challenges(
    order: &mut instant_acme::Order,
    spec: &NewOrderSpec,
) -> Result<Vec<CreatedChallenge>, Error> {
    let order_url = order.url().to_owned();
    let wanted = acme_challenge_type(spec.challenge_type);
    let mut challenges = Vec::with_capacity(spec.domains.len());
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(|err| Error::from_acme(&order_url, err))?;
        let domain = authorization.identifier().to_string();
        let authorization_url = authorization.url().to_owned();
        let reused = authorization.status == AuthorizationStatus::Valid;
        match authorization.challenge(wanted.clone()) {
            Some(challenge) => challenges.push(CreatedChallenge {
                domain,
                status: if reused {
                    "valid".into()
                } else {
                    "pending".into()
                },
                token: challenge.token.clone(),
                key_authorization: challenge.key_authorization().as_str().to_owned(),
                authorization_url,
                challenge_url: challenge.url.clone(),
            }),
            // An authorization the account already holds may list no challenges to answer.
            None if reused => challenges.push(CreatedChallenge {
                domain,
                status: "valid".into(),
                token: String::new(),
                key_authorization: String::new(),
                authorization_url,
                challenge_url: String::new(),
            }),
            None => {
                return Err(Error::Acme {
                    problem: crate::AcmeProblem {
                        kind: Some("urn:ietf:params:acme:error:unsupportedChallenge".into()),
                        detail: Some(format!(
                            "the CA offers no {} challenge for {domain}",
                            spec.challenge_type
                        )),
                        status: None,
                        retry_after: None,
                    },
                });
            }
        }
    }
    Ok(challenges)
}
