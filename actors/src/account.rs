//! The actor owning one ACME account: its decrypted key and protocol client live only here, and
//! account-level work (registration, deactivation; later new orders, revocation, key rollover)
//! runs one message at a time, as RFC 8555 expects of one account key's nonces and state.

use std::sync::Arc;

use instant_acme::{Account, AccountCredentials, ExternalAccountKey, NewAccount};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use scaivault_domain::account::{AccountRecord, AccountStatus, Registration, credentials_aad};
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, timestamp};

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
                let result = self.register(state, *registration).await;
                let failed = result.is_err();
                let _ = reply.send(result);
                if failed {
                    // Nothing exists for this id: the actor has no reason to live on.
                    myself.stop(Some("registration failed".into()));
                }
            }
            AccountMsg::Deactivate(reply) => {
                let result = self.deactivate(state).await;
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
            scaivault_domain::Error::Store(format!("account {id}: stored credentials: {err}"))
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
        let (account, credentials) = Account::builder_with_http(self.ctx.http.client())
            .create(&new_account, url.clone(), eab.as_ref())
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
            scaivault_domain::Error::Store(format!("serialising account credentials: {err}"))
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
