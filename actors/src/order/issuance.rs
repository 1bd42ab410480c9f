//! The last steps of an order: the CSR (the caller's, or one for a fresh key sealed and stored
//! before it leaves), and storing the chain as the next version of the managed certificate with
//! its renewal planned, scheduled and announced.

use scaivault_domain::certificate::{
    CertificateRecord, CertificateStatus, CertificateVersion, Issuance, version_key_aad,
};
use scaivault_domain::order::{OrderError, OrderRecord, order_key_aad};
use scaivault_domain::{ids, pki, renewal, timestamp};

use super::context::Context;
use super::failure::Failure;
use crate::events::CertificateIssued;
use crate::renewal::ari_plan;

/// The CSR to finalise with: the caller's, or one for a fresh key that is sealed and stored
/// *before* the CSR leaves, so the key exists whatever happens after.
pub(super) async fn csr(ctx: &Context, record: &OrderRecord) -> Result<Vec<u8>, Failure> {
    if let Some(pem) = &record.csr_pem {
        return pki::csr_from_pem(pem, &record.domains)
            .map_err(|err| Failure::Final(OrderError::new("invalid_csr", err.to_string())));
    }
    let generated = pki::generate_key_and_csr(record.key_type, &record.domains)
        .map_err(|err| Failure::Final(OrderError::new("key_generation_failed", err.to_string())))?;
    let sealed = ctx.key.seal(
        &order_key_aad(&record.id),
        generated.private_key_pem.as_bytes(),
    )?;
    ctx.store.set_order_key(&record.id, &sealed).await?;
    Ok(generated.csr_der)
}

/// Stores the chain as the next version of the order's managed certificate, with the order
/// marked valid, in one transaction; then plans, schedules and announces its renewal.
pub(super) async fn store_certificate(
    ctx: &Context,
    record: &OrderRecord,
    chain_pem: &str,
) -> Result<(), Failure> {
    let chain = pki::parse_chain(chain_pem)
        .map_err(|err| Failure::Final(OrderError::new("bad_certificate", err.to_string())))?;
    let now = timestamp::now();
    let private_key = match &record.csr_pem {
        Some(_) => None,
        None => {
            let sealed = ctx.store.order_key(&record.id).await?.ok_or_else(|| {
                Failure::Final(OrderError::new(
                    "key_missing",
                    "the order's private key was not stored before finalisation",
                ))
            })?;
            Some(ctx.key.open(&order_key_aad(&record.id), &sealed)?)
        }
    };
    let previous = match &record.certificate_id {
        Some(id) => ctx.store.get_certificate(id).await?,
        None => None,
    };
    let certificate_id = record
        .certificate_id
        .clone()
        .unwrap_or_else(|| ids::new_id("cert"));
    let version = previous.as_ref().map_or(1, |c| c.current_version + 1);
    let sealed_key = match &private_key {
        Some(key) => Some(
            ctx.key
                .seal(&version_key_aad(&certificate_id, version), key)?,
        ),
        None => None,
    };
    let renew_at = renewal::schedule(chain.not_before, chain.not_after, ctx.before_expiry);
    let certificate = CertificateRecord {
        id: certificate_id.clone(),
        account_id: record.account_id.clone(),
        domains: record.domains.clone(),
        challenge_type: record.challenge_type,
        key_type: record.key_type,
        dns_provider_id: record.dns_provider_id.clone(),
        profile: record.profile.clone(),
        auto_renew: record.auto_renew,
        own_csr: record.csr_pem.is_some(),
        current_version: version,
        status: CertificateStatus::Valid,
        serial_number: chain.serial.clone(),
        not_after: chain.not_after,
        renew_at: Some(renew_at),
        created_at: previous.as_ref().map_or(now, |c| c.created_at),
        updated_at: now,
    };
    let issuance = Issuance {
        order_id: record.id.clone(),
        version: CertificateVersion {
            certificate_id: certificate_id.clone(),
            version,
            order_id: record.id.clone(),
            serial_number: chain.serial.clone(),
            issuer: chain.issuer.clone(),
            sans: chain.sans.clone(),
            not_before: chain.not_before,
            not_after: chain.not_after,
            chain_pem: chain.chain_pem.clone(),
            has_private_key: sealed_key.is_some(),
            status: CertificateStatus::Valid,
            revocation: None,
            created_at: now,
        },
        certificate,
        sealed_key,
    };
    match ctx.store.record_issuance(&issuance).await {
        Ok(()) => {}
        // A previous run stored it and crashed before the order was seen as valid.
        Err(scaivault_domain::Error::Conflict(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    }
    // With ARI the CA's window decides renew_at, and the first look again is due by its
    // Retry-After (RFC 9773 §4.3).
    let (renew_at, first_check) = match record.auto_renew {
        true => ari_plan(
            &ctx.accounts,
            &*ctx.store,
            &certificate_id,
            &record.account_id,
            version,
            &chain.chain_pem,
            Some(renew_at),
        )
        .await
        .unwrap_or((renew_at, renew_at)),
        false => (renew_at, renew_at),
    };
    tracing::info!(order = %record.id, certificate = %certificate_id, version,
        serial = %chain.serial, not_after = %timestamp::rfc3339(chain.not_after),
        renew_at = %timestamp::rfc3339(renew_at), "certificate issued");
    ctx.events
        .record(&CertificateIssued {
            certificate_id: certificate_id.clone(),
            order_id: record.id.clone(),
            domains: record.domains.clone(),
            version,
            serial_number: pki::serial_with_colons(&chain.serial),
            not_after: chain.not_after,
            renew_at,
        })
        .await;
    if record.auto_renew
        && let Some(scheduler) = &ctx.scheduler
        && let Err(err) = scheduler
            .schedule(&certificate_id, version, first_check)
            .await
    {
        // Not lost: start-up schedules a renewal for every certificate without one.
        tracing::error!(certificate = %certificate_id, error = %err, "cannot schedule the next renewal");
    }
    Ok(())
}
