//! The actor owning one ACME account (see the module docs of `account` for what leaves it).

use std::sync::Arc;

use instant_acme::{
    Account, AccountCredentials, ExternalAccountKey, NewAccount, RevocationRequest,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rustls_pki_types::CertificateDer;
use scaivault_domain::account::{AccountRecord, AccountStatus, Registration, credentials_aad};
use scaivault_domain::revocation::RevocationReason;
use scaivault_domain::seal::MasterKey;
use scaivault_domain::store::AccountStore;
use scaivault_domain::timestamp;

use super::ca_order::{self, CreatedOrder, NewOrderSpec};
use crate::Error;
use crate::acme::{AcmeHttp, capture_retry_after, retry_bad_nonce, revocation_reason};
use crate::faults::Faults;

/// What every account actor needs from the service.
#[derive(Debug)]
pub(super) struct AccountContext {
    pub store: Arc<dyn AccountStore>,
    pub key: MasterKey,
    pub http: AcmeHttp,
    pub faults: Faults,
}

/// Messages an account actor handles.
pub(super) enum AccountMsg {
    /// Create the account at the CA and persist it (only for an actor spawned to register).
    Register(
        Box<Registration>,
        RpcReplyPort<Result<AccountRecord, Error>>,
    ),
    /// Deactivate the account at the CA (RFC 8555 §7.3.6), then here; the actor stops after.
    Deactivate(RpcReplyPort<Result<AccountRecord, Error>>),
    /// Create an order at the CA (RFC 8555 §7.4) and read its authorizations' challenges.
    NewOrder(Box<NewOrderSpec>, RpcReplyPort<Result<CreatedOrder, Error>>),
    /// A clone of the protocol client, for an order actor to drive its own order.
    Client(RpcReplyPort<Result<Account, Error>>),
    /// Revoke a certificate at the CA (RFC 8555 §7.6), the request signed with this account's
    /// key: the account that ordered a certificate may revoke it.
    Revoke(Box<RevokeAtCa>, RpcReplyPort<Result<(), Error>>),
    /// Change the account key (RFC 8555 §7.3.5): a new key of the same type, stored pending,
    /// then current once the CA took it.
    RollKey(RpcReplyPort<Result<AccountRecord, Error>>),
    /// Replace the account's contact at the CA (RFC 8555 §7.3.2), then here; the address is
    /// already validated.
    UpdateEmail(String, RpcReplyPort<Result<AccountRecord, Error>>),
    /// Whether the account key is no longer the one with this thumbprint (an order actor
    /// whose requests were refused asks, to retry with the current key).
    KeyChanged(String, RpcReplyPort<Result<bool, Error>>),
}

/// A certificate to revoke at the CA, and why.
#[derive(Debug, Clone)]
pub(super) struct RevokeAtCa {
    /// The leaf certificate, DER (RFC 8555 §7.6 sends it base64url-encoded).
    pub certificate_der: Vec<u8>,
    pub reason: RevocationReason,
}

/// How an account actor starts.
pub(super) enum AccountStart {
    /// A new account, registered by a `Register` message.
    New,
    /// An account in the store, restored at its first message.
    Stored,
}

/// The actor type; it is named after its account's id in ractor's registry.
#[derive(Debug)]
pub(super) struct AccountActor {
    pub ctx: Arc<AccountContext>,
}

/// The account's protocol client, as far as it exists.
pub(super) enum Client {
    /// Not at the CA yet: a `Register` message creates it.
    Unregistered,
    /// In the store; restored (which asks the CA for its directory) at the next message.
    Stored,
    Ready(Account),
}

/// The actor's state.
pub(super) struct AccountState {
    pub(super) id: String,
    pub(super) client: Client,
}

impl Actor for AccountActor {
    type Msg = AccountMsg;
    type State = AccountState;
    type Arguments = AccountStart;

    /// No network I/O here: spawning stays instant whatever the CA does, and the first
    /// message, which waits with a timeout, restores the client.
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        start: AccountStart,
    ) -> Result<AccountState, ActorProcessingErr> {
        let id = myself
            .get_name()
            .ok_or("an account actor has its account's id as name")?;
        let client = match start {
            AccountStart::New => Client::Unregistered,
            AccountStart::Stored => Client::Stored,
        };
        Ok(AccountState { id, client })
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
                let result = capture_retry_after(async {
                    let account = self.client(&myself, state).await?;
                    let created = ca_order::place(&account, &spec).await?;
                    tracing::info!(account = %state.id, order_url = %created.order_url,
                        domains = spec.domains.len(), "created ACME order");
                    Ok(created)
                })
                .await;
                let _ = reply.send(result);
            }
            AccountMsg::Revoke(request, reply) => {
                let result = capture_retry_after(async {
                    let account = self.client(&myself, state).await?;
                    revoke(&account, &request).await?;
                    tracing::info!(account = %state.id, reason = %request.reason,
                        "revoked a certificate at the CA");
                    Ok(())
                })
                .await;
                let _ = reply.send(result);
            }
            AccountMsg::Client(reply) => {
                let result = capture_retry_after(self.client(&myself, state)).await;
                let _ = reply.send(result);
            }
            AccountMsg::RollKey(reply) => {
                let result = capture_retry_after(self.roll_key(&myself, state)).await;
                let _ = reply.send(result);
            }
            AccountMsg::UpdateEmail(email, reply) => {
                let result = capture_retry_after(self.update_email(&myself, state, email)).await;
                let _ = reply.send(result);
            }
            AccountMsg::KeyChanged(used, reply) => {
                let result = capture_retry_after(self.key_changed(&myself, state, &used)).await;
                let _ = reply.send(result);
            }
            AccountMsg::Deactivate(reply) => {
                let result = capture_retry_after(self.deactivate(&myself, state)).await;
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
    /// The protocol client, restored from the store first if this is the actor's first need of
    /// it. An account the store does not have stops the actor (nothing would ever restore it);
    /// a CA that cannot be reached leaves it to try again at the next message.
    pub(super) async fn client(
        &self,
        myself: &ActorRef<AccountMsg>,
        state: &mut AccountState,
    ) -> Result<Account, Error> {
        match &state.client {
            Client::Ready(account) => Ok(account.clone()),
            Client::Unregistered => Err(Error::Unavailable(format!(
                "account {} is not registered",
                state.id
            ))),
            Client::Stored => match self.restore(&state.id).await {
                Ok(account) => {
                    state.client = Client::Ready(account.clone());
                    Ok(account)
                }
                Err(err @ Error::Domain(scaivault_domain::Error::NotFound { .. })) => {
                    myself.stop(Some("no such account".into()));
                    Err(err)
                }
                Err(err) => Err(err),
            },
        }
    }

    /// The client from the stored credentials, after resolving a key change that was
    /// interrupted (see `rollover`).
    async fn restore(&self, id: &str) -> Result<Account, Error> {
        let record = self.ctx.store.require_account(id).await?;
        if let Some(sealed) = self.ctx.store.pending_account_key(id).await?
            && let Some(account) = self.resolve_pending_key(&record, &sealed).await?
        {
            return Ok(account);
        }
        let sealed = self
            .ctx
            .store
            .account_credentials(id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", id))?;
        let credentials = self.open_credentials(id, &sealed)?;
        let account =
            Account::builder_with_http(self.ctx.http.client(record.provider, record.environment))
                .from_credentials(credentials)
                .await
                .map_err(|err| Error::from_acme(&record.directory_url, err))?;
        if record.key_thumbprint.is_none() {
            // A record from before thumbprints were kept.
            self.ctx
                .store
                .fill_account_key_thumbprint(id, account.key_thumbprint())
                .await?;
        }
        Ok(account)
    }

    /// Opens sealed account credentials (current or pending: both are sealed for the account).
    pub(super) fn open_credentials(
        &self,
        id: &str,
        sealed: &[u8],
    ) -> Result<AccountCredentials, Error> {
        let json = self.ctx.key.open(&credentials_aad(id), sealed)?;
        serde_json::from_slice(&json).map_err(|err| {
            scaivault_domain::Error::corrupt(format!("account {id}: stored credentials: {err}"))
                .into()
        })
    }

    /// Seals account credentials for the store.
    pub(super) fn seal_credentials(
        &self,
        id: &str,
        credentials: &AccountCredentials,
    ) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(credentials).map_err(|err| {
            scaivault_domain::Error::corrupt(format!("encoding account credentials: {err}"))
        })?;
        Ok(self.ctx.key.seal(&credentials_aad(id), &json)?)
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
        let (provider, environment) = (registration.provider, registration.environment);
        let (account, credentials) = retry_bad_nonce(|| {
            Account::builder_with_http(self.ctx.http.client(provider, environment)).create(
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
            key_thumbprint: Some(account.key_thumbprint().to_owned()),
            key_rolled_at: None,
        };
        let sealed = self.seal_credentials(&record.id, &credentials)?;
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
        state.client = Client::Ready(account);
        Ok(record)
    }

    async fn deactivate(
        &self,
        myself: &ActorRef<AccountMsg>,
        state: &mut AccountState,
    ) -> Result<AccountRecord, Error> {
        let account = self.client(myself, state).await?;
        let record = self.ctx.store.require_account(&state.id).await?;
        account
            .deactivate()
            .await
            .map_err(|err| Error::from_acme(&record.directory_url, err))?;
        let at = timestamp::now();
        self.ctx
            .store
            .set_account_status(&state.id, AccountStatus::Deactivated, at)
            .await?;
        state.client = Client::Unregistered;
        tracing::info!(account = %state.id, "deactivated ACME account");
        Ok(AccountRecord {
            status: AccountStatus::Deactivated,
            deactivated_at: Some(at),
            ..record
        })
    }
}

/// `revokeCert` (RFC 8555 §7.6). A `badNonce` rejection means the CA did not act on the
/// request, so repeating is safe.
async fn revoke(account: &Account, request: &RevokeAtCa) -> Result<(), Error> {
    let certificate = CertificateDer::from(request.certificate_der.as_slice());
    let payload = RevocationRequest {
        certificate: &certificate,
        reason: revocation_reason(request.reason),
    };
    retry_bad_nonce(|| account.revoke(&payload))
        .await
        .map_err(|err| Error::from_acme(account.id(), err))
}
