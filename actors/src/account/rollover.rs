//! Account key rollover (RFC 8555 §7.3.5), its recovery after a crash, and contact updates
//! (§7.3.2): the account actor's part, one message at a time like the rest of its work.
//!
//! A rollover is crash-safe by ordering: the new key is sealed into the store as the account's
//! *pending* key before the CA is asked, and once the CA has accepted it one statement makes it
//! the current key and clears the pending one. A pending key found when the account is next
//! restored means a change was interrupted, and only the CA knows how far it got, so it is
//! asked with the pending key for the account (`newAccount` with `onlyReturnExisting`,
//! §7.3.1): if the CA names this account, it holds the new key (promote it); if it answers
//! `accountDoesNotExist`, it never took it (drop it). Any other answer leaves the pending key
//! for the next try: guessing wrong would lose the one key the CA accepts.
//!
//! Orders in flight keep going: each order actor took a clone of the client, and a request it
//! signs with the old key after the change is refused; it then asks this actor whether the key
//! changed ([`AccountMsg::KeyChanged`](super::actor::AccountMsg)) and drives again with the
//! current client (see `order::actor`).

use instant_acme::{Account, AccountCredentials, Key};
use ractor::ActorRef;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use scaivault_domain::account::AccountRecord;
use scaivault_domain::timestamp;

use super::actor::{AccountActor, AccountMsg, AccountState, Client};
use crate::Error;
use crate::acme::{KeyChangeTarget, ProblemKind, SigningKey, retry_bad_nonce};
use crate::faults::KeyChangeCrash;

impl AccountActor {
    /// Moves the account to a new key at the CA and here.
    pub(super) async fn roll_key(
        &self,
        myself: &ActorRef<AccountMsg>,
        state: &mut AccountState,
    ) -> Result<AccountRecord, Error> {
        // Restoring resolves an earlier interrupted change first, so `current` is the key the
        // CA holds.
        let account = self.client(myself, state).await?;
        let id = state.id.clone();
        let record = self.ctx.store.require_account(&id).await?;
        record.require_active()?;
        let sealed = self
            .ctx
            .store
            .account_credentials(&id)
            .await?
            .ok_or_else(|| scaivault_domain::Error::not_found("account", &id))?;
        let current = self.open_credentials(&id, &sealed)?;
        // instant-acme makes every account key ECDSA P-256, so the new one is too.
        let (_, new_pkcs8) = Key::generate_pkcs8().map_err(key_error)?;
        let pending = with_key(&current, &new_pkcs8)?;
        let old =
            SigningKey::from_pkcs8(current.private_key().secret_pkcs8_der()).map_err(key_error)?;
        let new = SigningKey::from_pkcs8(new_pkcs8.secret_pkcs8_der()).map_err(key_error)?;
        let thumbprint = new.thumbprint().map_err(key_error)?;

        let http = self.ctx.http.client(record.provider, record.environment);
        let url = record.directory_url.as_str();
        let target = match KeyChangeTarget::discover(http.as_ref(), url).await {
            Ok(target) => target,
            Err(instant_acme::Error::Unsupported(what)) => {
                return Err(scaivault_domain::Error::Conflict(format!(
                    "the CA of account {id} does not support {what}"
                ))
                .into());
            }
            Err(err) => return Err(Error::from_acme(url, err)),
        };

        let sealed_pending = self.seal_credentials(&id, &pending)?;
        self.ctx
            .store
            .set_pending_account_key(&id, &sealed_pending)
            .await?;
        self.ctx.faults.key_change_step(KeyChangeCrash::BeforeCa);
        let changed =
            retry_bad_nonce(|| target.change(http.as_ref(), account.id(), &old, &new)).await;
        match changed {
            Ok(()) => {}
            Err(err @ instant_acme::Error::Api(_)) => {
                // The CA refused: it still holds the old key, which stays current.
                self.ctx.store.clear_pending_account_key(&id).await?;
                return Err(Error::from_acme(url, err));
            }
            Err(err) => {
                // No answer: the CA may or may not have changed keys. The next use of the
                // account restores it, which asks the CA and settles the pending key.
                state.client = Client::Stored;
                return Err(Error::from_acme(url, err));
            }
        }
        self.ctx.faults.key_change_step(KeyChangeCrash::AfterCa);
        let at = timestamp::now();
        self.ctx
            .store
            .promote_account_key(&id, &sealed_pending, &thumbprint, at)
            .await?;
        tracing::info!(account = %id, key_thumbprint = %thumbprint, "rolled over the ACME account key");
        // Orders taking the client from now on sign with the new key; if the directory cannot
        // be read just now, the next message restores the client from the store.
        state.client = match Account::builder_with_http(http)
            .from_credentials(pending)
            .await
        {
            Ok(account) => Client::Ready(account),
            Err(err) => {
                tracing::warn!(account = %id, error = %err,
                    "new account key stored; the client is restored at the next use");
                Client::Stored
            }
        };
        Ok(AccountRecord {
            key_thumbprint: Some(thumbprint),
            key_rolled_at: Some(at),
            ..record
        })
    }

    /// Settles a pending key left by an interrupted rollover: `Some` client with the pending
    /// key when the CA holds it (now the current key here too), `None` when the CA never took
    /// it (dropped; the current key stays).
    pub(super) async fn resolve_pending_key(
        &self,
        record: &AccountRecord,
        sealed: &[u8],
    ) -> Result<Option<Account>, Error> {
        let pending = self.open_credentials(&record.id, sealed)?;
        let pkcs8 = pending.private_key().clone_key();
        let url = record.directory_url.as_str();
        let found = retry_bad_nonce(|| {
            let pkcs8 = pkcs8.clone_key();
            let http = self.ctx.http.client(record.provider, record.environment);
            async move {
                let key = Key::from_pkcs8_der(pkcs8.clone_key())?;
                Account::builder_with_http(http)
                    .from_key((key, PrivateKeyDer::Pkcs8(pkcs8)), url.to_owned())
                    .await
            }
        })
        .await;
        match found {
            Ok((account, _)) if account.id() == record.account_url => {
                let thumbprint = account.key_thumbprint().to_owned();
                self.ctx
                    .store
                    .promote_account_key(&record.id, sealed, &thumbprint, timestamp::now())
                    .await?;
                tracing::info!(account = %record.id, key_thumbprint = %thumbprint,
                    "an interrupted key rollover had reached the CA; the new key is now current");
                Ok(Some(account))
            }
            Ok((account, _)) => {
                // The key belongs to another account at this CA: not ours to use.
                tracing::warn!(account = %record.id, other_account_url = %account.id(),
                    "the pending account key names another account at the CA; dropped");
                self.ctx.store.clear_pending_account_key(&record.id).await?;
                Ok(None)
            }
            Err(instant_acme::Error::Api(problem))
                if ProblemKind::from_type(problem.r#type.as_deref())
                    == ProblemKind::AccountDoesNotExist =>
            {
                tracing::info!(account = %record.id,
                    "an interrupted key rollover never reached the CA; the old key stays");
                self.ctx.store.clear_pending_account_key(&record.id).await?;
                Ok(None)
            }
            Err(err) => Err(Error::from_acme(url, err)),
        }
    }

    /// Replaces the account's contact at the CA (RFC 8555 §7.3.2), then here.
    pub(super) async fn update_email(
        &self,
        myself: &ActorRef<AccountMsg>,
        state: &mut AccountState,
        email: String,
    ) -> Result<AccountRecord, Error> {
        let account = self.client(myself, state).await?;
        let record = self.ctx.store.require_account(&state.id).await?;
        record.require_active()?;
        let contact = format!("mailto:{email}");
        let contacts = [contact.as_str()];
        retry_bad_nonce(|| account.update_contacts(&contacts))
            .await
            .map_err(|err| Error::from_acme(&record.directory_url, err))?;
        self.ctx.store.set_account_email(&state.id, &email).await?;
        tracing::info!(account = %state.id, "updated the ACME account's contact");
        Ok(AccountRecord { email, ..record })
    }

    /// Whether the account key is no longer the one with thumbprint `used`: changed by this
    /// actor, or by another instance sharing the store (then the client is restored from it).
    pub(super) async fn key_changed(
        &self,
        myself: &ActorRef<AccountMsg>,
        state: &mut AccountState,
        used: &str,
    ) -> Result<bool, Error> {
        let account = self.client(myself, state).await?;
        if account.key_thumbprint() != used {
            return Ok(true);
        }
        let record = self.ctx.store.require_account(&state.id).await?;
        let pending = self.ctx.store.pending_account_key(&state.id).await?;
        let stored_elsewhere = record
            .key_thumbprint
            .as_deref()
            .is_some_and(|stored| stored != used);
        if !stored_elsewhere && pending.is_none() {
            return Ok(false);
        }
        state.client = Client::Stored;
        let account = self.client(myself, state).await?;
        Ok(account.key_thumbprint() != used)
    }
}

/// `current` with its key replaced by `pkcs8`. instant-acme keeps the fields of its
/// credentials private but (de)serialises them — its documented storage format, with the key
/// as base64url PKCS#8 under `key_pkcs8` — so the new credentials are made through that format.
fn with_key(
    current: &AccountCredentials,
    pkcs8: &PrivatePkcs8KeyDer<'_>,
) -> Result<AccountCredentials, Error> {
    use base64::Engine as _;
    let corrupt = |err: serde_json::Error| {
        Error::from(scaivault_domain::Error::corrupt(format!(
            "account credentials: {err}"
        )))
    };
    let mut json = serde_json::to_value(current).map_err(corrupt)?;
    json["key_pkcs8"] = serde_json::Value::String(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pkcs8.secret_pkcs8_der()),
    );
    let credentials: AccountCredentials = serde_json::from_value(json).map_err(corrupt)?;
    if credentials.private_key().secret_pkcs8_der() != pkcs8.secret_pkcs8_der() {
        return Err(scaivault_domain::Error::corrupt(
            "account credentials: the new key did not take its place",
        )
        .into());
    }
    Ok(credentials)
}

/// A key that cannot be made or read is a fault of this service, not of the CA or the caller.
fn key_error(err: instant_acme::Error) -> Error {
    Error::Unavailable(format!("account key: {err}"))
}
