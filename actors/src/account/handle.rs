//! The handle through which the rest of the service reaches account actors: it validates, finds
//! or spawns the right actor under the supervisor, and turns replies into results.

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef, RpcReplyPort, SpawnErr};
use scaivault_domain::account::{AccountRecord, AccountStatus, RegistrationInput, contact_email};
use scaivault_domain::provider::{Directories, Provider};
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, ids};
use time::OffsetDateTime;

use super::actor::{AccountActor, AccountContext, AccountMsg, AccountStart, RevokeAtCa};
use super::ca_order::{CreatedOrder, NewOrderSpec};
use super::supervisor::AccountSupervisor;
use super::zerossl::ZeroSslApi;
use crate::Error;
use crate::acme::{AcmeHttp, CaaIdentities};
use crate::events::Events;
use crate::faults::Faults;

/// How long an account operation may take before the caller gets an error (the CA is slow or
/// unreachable; instant-acme's own retries of `badNonce` fit well inside this).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// What the accounts need from the service.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub store: SharedStore,
    pub key: MasterKey,
    pub http: AcmeHttp,
    /// Where `certificate.revoked` is announced.
    pub events: Events,
    /// The providers' directories, with `[acme.directories]` applied.
    pub directories: Directories,
    /// Where ZeroSSL accounts get their EAB credentials (`[acme] zerossl_api`).
    pub zerossl: ZeroSslApi,
    pub faults: Faults,
}

/// A CA's suggested renewal window (RFC 9773 §4.2) and its Retry-After for the next look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AriWindow {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub retry_after: Duration,
}

/// The account actors and their supervisor.
#[derive(Clone, Debug)]
pub struct Accounts {
    ctx: Arc<AccountContext>,
    pub(super) store: SharedStore,
    pub(super) events: Events,
    pub(super) faults: Faults,
    directories: Arc<Directories>,
    zerossl: ZeroSslApi,
    /// The CAs' CAA identities, by directory.
    caa: CaaIdentities,
    supervisor: ActorRef<()>,
}

impl Accounts {
    /// Starts the supervisor.
    pub async fn start(config: AccountsConfig) -> Result<Self, Error> {
        let (supervisor, _) = Actor::spawn(None, AccountSupervisor, ())
            .await
            .map_err(|err| Error::Unavailable(format!("account supervisor: {err}")))?;
        Ok(Self {
            ctx: Arc::new(AccountContext {
                store: config.store.clone(),
                key: config.key,
                http: config.http,
                faults: config.faults.clone(),
            }),
            store: config.store,
            events: config.events,
            faults: config.faults,
            directories: Arc::new(config.directories),
            zerossl: config.zerossl,
            caa: CaaIdentities::default(),
            supervisor,
        })
    }

    /// The providers' directories new accounts are registered at.
    pub fn directories(&self) -> &Directories {
        &self.directories
    }

    /// The issuer domain names `account`'s CA is known by in CAA records (its directory's
    /// `caaIdentities` and its provider's published ones); empty when unknown.
    pub async fn caa_identities(&self, account: &AccountRecord) -> Vec<String> {
        self.caa.of(&self.ctx.http, account).await
    }

    /// Whether the supervisor is running (for readiness).
    pub fn is_running(&self) -> bool {
        matches!(
            self.supervisor.get_status(),
            ractor::ActorStatus::Running | ractor::ActorStatus::Upgrading
        )
    }

    /// Stops every account actor and the supervisor.
    pub fn shutdown(&self) {
        self.supervisor.stop_children(Some("shutdown".into()));
        self.supervisor.stop(Some("shutdown".into()));
    }

    /// Validates the input, registers the account at the CA through a new account actor and
    /// persists it (the key sealed).
    pub async fn register(&self, input: RegistrationInput) -> Result<AccountRecord, Error> {
        let mut registration = input.validate(&self.directories)?;
        let taken = self
            .store
            .list_accounts()
            .await?
            .iter()
            .any(|a| a.name == registration.name);
        if taken {
            return Err(scaivault_domain::Error::Conflict(format!(
                "an account named {:?} already exists",
                registration.name
            ))
            .into());
        }
        if registration.provider == Provider::Zerossl && registration.eab.is_none() {
            let access_key = match &registration.zerossl_api_key_path {
                Some(path) => Some(self.secret_text(path).await?),
                None => None,
            };
            registration.eab = Some(
                self.zerossl
                    .eab_credentials(access_key.as_deref(), &registration.email)
                    .await?,
            );
        }
        let id = ids::new_id("acme");
        let actor = self
            .spawn(&id, AccountStart::New)
            .await
            .map_err(|err| spawn_error(&id, err))?;
        call(&actor, |reply| {
            AccountMsg::Register(Box::new(registration), reply)
        })
        .await
    }

    /// The text of the secret at `path` (a registration's `zerossl_api_key_path`).
    async fn secret_text(&self, path: &str) -> Result<String, Error> {
        let missing = || {
            scaivault_domain::Error::invalid("zerossl_api_key_path", format!("no secret at {path}"))
        };
        let stored = self.store.get_secret(path).await?.ok_or_else(missing)?;
        let text = stored.open_text(&self.ctx.key)?.ok_or_else(|| {
            scaivault_domain::Error::invalid(
                "zerossl_api_key_path",
                format!("the secret at {path} is not text"),
            )
        })?;
        Ok(text)
    }

    /// Deactivates the account at the CA and here; a no-op answer for one already deactivated.
    pub async fn deactivate(&self, id: &str) -> Result<AccountRecord, Error> {
        let record = self.store.require_account(id).await?;
        if record.status == AccountStatus::Deactivated {
            return Ok(record);
        }
        let actor = self.actor(id).await?;
        call(&actor, AccountMsg::Deactivate).await
    }

    /// Changes the account's key at the CA (RFC 8555 §7.3.5) and here; orders in flight
    /// finish with the new key. `Conflict` for a deactivated account.
    pub async fn roll_key(&self, id: &str) -> Result<AccountRecord, Error> {
        self.store.require_account(id).await?.require_active()?;
        let actor = self.actor(id).await?;
        call(&actor, AccountMsg::RollKey).await
    }

    /// Replaces the account's contact email at the CA (RFC 8555 §7.3.2) and here.
    /// `Invalid` (field `email`) for an address that is not one, `Conflict` for a deactivated
    /// account.
    pub async fn update_email(&self, id: &str, email: &str) -> Result<AccountRecord, Error> {
        let email = contact_email(email)?;
        self.store.require_account(id).await?.require_active()?;
        let actor = self.actor(id).await?;
        call(&actor, |reply| AccountMsg::UpdateEmail(email, reply)).await
    }

    /// Whether the account's key is no longer the one with thumbprint `used` (it was rolled
    /// over while an order was using it); the current client is then the new key's.
    pub(crate) async fn key_changed(&self, account_id: &str, used: &str) -> Result<bool, Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, |reply| {
            AccountMsg::KeyChanged(used.to_owned(), reply)
        })
        .await
    }

    /// Creates an order at the CA through the account's actor.
    pub async fn new_order(
        &self,
        account_id: &str,
        spec: NewOrderSpec,
    ) -> Result<CreatedOrder, Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, |reply| AccountMsg::NewOrder(Box::new(spec), reply)).await
    }

    /// Revokes a certificate at the CA through the account's actor (RFC 8555 §7.6).
    pub(super) async fn revoke_at_ca(
        &self,
        account_id: &str,
        request: RevokeAtCa,
    ) -> Result<(), Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, |reply| AccountMsg::Revoke(Box::new(request), reply)).await
    }

    /// The CA's suggested renewal window for a certificate (RFC 9773 §4.2) and how long to
    /// wait before asking again (its Retry-After); `None` when the CA offers no renewalInfo.
    pub async fn renewal_info(
        &self,
        account_id: &str,
        cert_id: &str,
    ) -> Result<Option<AriWindow>, Error> {
        let account = self.client(account_id).await?;
        let id = serde_json::from_str::<instant_acme::CertificateIdentifier<'_>>(&format!(
            "\"{cert_id}\""
        ))
        .map_err(|err| Error::Unavailable(format!("ARI identifier {cert_id}: {err}")))?
        .into_owned();
        match account.renewal_info(&id).await {
            Ok((info, retry_after)) => Ok(Some(AriWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
                retry_after,
            })),
            Err(instant_acme::Error::Unsupported(_)) => Ok(None),
            Err(err) => Err(Error::from_acme(cert_id, err)),
        }
    }

    /// A clone of the account's protocol client, for an order actor to drive its order.
    pub async fn client(&self, account_id: &str) -> Result<instant_acme::Account, Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, AccountMsg::Client).await
    }

    /// The account's actor: the running one from ractor's registry, or a new one that restores
    /// the account from the store at its first message. Two callers that both find none race
    /// to spawn it; the one refused the name takes the winner's.
    async fn actor(&self, id: &str) -> Result<ActorRef<AccountMsg>, Error> {
        if let Some(actor) = ActorRef::where_is(id) {
            return Ok(actor);
        }
        match self.spawn(id, AccountStart::Stored).await {
            Ok(actor) => Ok(actor),
            Err(taken @ SpawnErr::ActorAlreadyRegistered(_)) => {
                ActorRef::where_is(id).ok_or_else(|| spawn_error(id, taken))
            }
            Err(err) => Err(spawn_error(id, err)),
        }
    }

    /// A new actor for the account, named after it, under the supervisor.
    async fn spawn(&self, id: &str, start: AccountStart) -> Result<ActorRef<AccountMsg>, SpawnErr> {
        let actor = AccountActor {
            ctx: self.ctx.clone(),
        };
        Actor::spawn_linked(
            Some(id.to_owned()),
            actor,
            start,
            self.supervisor.get_cell(),
        )
        .await
        .map(|(actor, _)| actor)
    }
}

fn spawn_error(id: &str, err: SpawnErr) -> Error {
    Error::Unavailable(format!("account {id}: {err}"))
}

/// Sends a request to an account actor and waits for its answer.
async fn call<T: Send + 'static>(
    actor: &ActorRef<AccountMsg>,
    message: impl FnOnce(RpcReplyPort<Result<T, Error>>) -> AccountMsg,
) -> Result<T, Error> {
    match actor.call(message, Some(CALL_TIMEOUT)).await {
        Ok(CallResult::Success(result)) => result,
        Ok(CallResult::Timeout) => Err(Error::Unavailable(
            "the ACME server did not answer in time".into(),
        )),
        Ok(CallResult::SenderError) | Err(_) => Err(Error::Unavailable(
            "the account actor stopped before answering".into(),
        )),
    }
}
