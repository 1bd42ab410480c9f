//! The handle through which the edge reaches account actors: it validates, spawns or restores the
//! right actor under the supervisor, and turns replies into results.

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorRef, RpcReplyPort};
use scaivault_domain::account::{AccountRecord, AccountStatus, RegistrationInput};
use scaivault_domain::seal::MasterKey;
use scaivault_domain::{SharedStore, ids};

use crate::account::{
    AccountActor, AccountContext, AccountMsg, AccountStart, CreatedOrder, NewOrderSpec, RevokeAtCa,
};
use crate::supervisor::{AccountSupervisor, Registry};
use crate::{AcmeHttp, Error};

/// How long an account operation may take before the caller gets an error (the CA is slow or
/// unreachable; instant-acme's own retries of `badNonce` fit well inside this).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// The account actors and their supervisor.
#[derive(Clone, Debug)]
pub struct Accounts {
    ctx: Arc<AccountContext>,
    supervisor: ActorRef<()>,
    registry: Registry,
}

impl Accounts {
    /// Starts the supervisor.
    pub async fn start(store: SharedStore, key: MasterKey, http: AcmeHttp) -> Result<Self, Error> {
        let registry = Registry::default();
        let (supervisor, _) = Actor::spawn(None, AccountSupervisor, registry.clone())
            .await
            .map_err(|err| Error::Unavailable(format!("account supervisor: {err}")))?;
        Ok(Self {
            ctx: Arc::new(AccountContext { store, key, http }),
            supervisor,
            registry,
        })
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
        let registration = input.validate()?;
        let taken = self
            .ctx
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
        let id = ids::new_id("acme");
        let actor = self
            .spawn(&id, AccountStart::New { id: id.clone() })
            .await?;
        let result = call(&actor, |reply| {
            AccountMsg::Register(Box::new(registration), reply)
        })
        .await;
        if result.is_ok() {
            self.registry.lock().await.insert(id, actor);
        }
        result
    }

    /// Deactivates the account at the CA and here; a no-op answer for one already deactivated.
    pub async fn deactivate(&self, id: &str) -> Result<AccountRecord, Error> {
        let record = self
            .ctx
            .store
            .get_account(id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", id))?;
        if record.status == AccountStatus::Deactivated {
            return Ok(record);
        }
        let actor = self.actor(id).await?;
        call(&actor, AccountMsg::Deactivate).await
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
    pub async fn revoke_at_ca(&self, account_id: &str, request: RevokeAtCa) -> Result<(), Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, |reply| AccountMsg::Revoke(Box::new(request), reply)).await
    }

    /// The CA's suggested renewal window for a certificate (RFC 9773 §4.2) and how long to
    /// wait before asking again (its Retry-After); `None` when the CA offers no renewalInfo.
    pub async fn renewal_info(
        &self,
        account_id: &str,
        cert_id: &str,
    ) -> Result<Option<crate::renewals::AriWindow>, Error> {
        let account = self.client(account_id).await?;
        let id = serde_json::from_str::<instant_acme::CertificateIdentifier<'_>>(&format!(
            "\"{cert_id}\""
        ))
        .map_err(|err| Error::Unavailable(format!("ARI identifier {cert_id}: {err}")))?
        .into_owned();
        match account.renewal_info(&id).await {
            Ok((info, retry_after)) => Ok(Some(crate::renewals::AriWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
                retry_after,
            })),
            Err(instant_acme::Error::Unsupported(_)) => Ok(None),
            Err(err) => Err(Error::from_acme(cert_id, err)),
        }
    }

    /// The store the accounts live in.
    pub(crate) fn store(&self) -> &SharedStore {
        &self.ctx.store
    }

    /// The account's protocol client, for an order actor to drive its order.
    pub async fn client(&self, account_id: &str) -> Result<instant_acme::Account, Error> {
        let actor = self.actor(account_id).await?;
        call(&actor, AccountMsg::Client).await
    }

    /// The live actor for an account, restored from the store if it is not running.
    async fn actor(&self, id: &str) -> Result<ActorRef<AccountMsg>, Error> {
        let mut live = self.registry.lock().await;
        if let Some(actor) = live.get(id) {
            return Ok(actor.clone());
        }
        let actor = self
            .spawn(id, AccountStart::Restore { id: id.to_owned() })
            .await?;
        live.insert(id.to_owned(), actor.clone());
        Ok(actor)
    }

    async fn spawn(&self, id: &str, start: AccountStart) -> Result<ActorRef<AccountMsg>, Error> {
        let supervisor: ActorCell = self.supervisor.get_cell();
        let actor = AccountActor {
            ctx: self.ctx.clone(),
        };
        match Actor::spawn_linked(Some(id.to_owned()), actor, start, supervisor).await {
            Ok((actor, _)) => Ok(actor),
            Err(ractor::SpawnErr::StartupFailed(err)) => match err.downcast::<Error>() {
                Ok(err) => Err(*err),
                Err(other) => Err(Error::Unavailable(format!("account {id}: {other}"))),
            },
            Err(err) => Err(Error::Unavailable(format!("account {id}: {err}"))),
        }
    }
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
