//! `GET /v1/pki/acme/accounts/{id}/caa?domain=`: the CAA records that pin issuance for a name
//! to one account (RFC 8657), the records published now and what they allow. A read: the
//! lookup goes through `[dns] resolvers` and the CA's directory, nothing is changed.

use axum::Json;
use axum::extract::State;
use scaivault_actors::CaaReport;
use scaivault_contract::{
    CaaAdvice, CaaCheck, CaaLookup, CaaPublished, CaaQuery, CaaStatus, ErrorBody,
};
use scaivault_domain::caa::{CaaSet, CaaVerdict};
use scaivault_domain::pki::{self, Identifier};

use super::auth::{Authorized, need};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

#[utoipa::path(
    get, path = "/v1/pki/acme/accounts/{id}/caa", operation_id = "account_caa", tag = "acme", security(("bearer" = ["pki:read"])),
    params(("id" = String, Path, description = "Account id (`acme_...`)"), CaaQuery),
    responses(
        (status = 200, description = "The records that pin issuance for the name to this account, the name's CAA records as published now, and whether the account may issue", body = CaaAdvice),
        (status = 400, description = "`invalid_request` (`details.field`: `domain`): not a DNS name (an IP address has no CAA), or missing", body = ErrorBody),
        (status = 404, description = "`not_found`: no such account", body = ErrorBody),
    ),
)]
/// What CAA (RFC 8659, RFC 8657) says about `domain` for this account: the records to publish so
/// that only this account may issue for it (`recommended`), the records published now
/// (`published`), and per challenge type whether an order would pass the CAA pre-check.
pub async fn caa(
    State(state): State<AppState>,
    _: Authorized<need::PkiRead>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<CaaQuery>,
) -> ApiResult<Json<CaaAdvice>> {
    let domain = dns_name(&query.domain)?;
    let account = state
        .store
        .get_account(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id} not found")))?;
    let report = state.orders.caa_report(&account, &domain).await;
    Ok(Json(advice(&account.id, report)))
}

/// The query's name, normalized as an order's names are; an IP address is refused, as CAA
/// concerns DNS names only.
fn dns_name(text: &str) -> Result<String, ApiError> {
    let refuse = |message: String| ApiError::invalid("domain", format!("domain: {message}"));
    let mut names = pki::normalize_domains(&[text.to_owned()], true).map_err(|err| match err {
        scaivault_domain::Error::Invalid { message, .. } => refuse(message),
        other => other.into(),
    })?;
    let name = names
        .pop()
        .ok_or_else(|| refuse("a DNS name is needed".into()))?;
    if Identifier::of(&name).is_ip() {
        return Err(refuse(format!(
            "{name} is an IP address, which has no CAA records (RFC 8659 concerns DNS names)"
        )));
    }
    Ok(name)
}

fn advice(account_id: &str, report: CaaReport) -> CaaAdvice {
    let published = match &report.published {
        Ok(Some(set)) => CaaPublished {
            lookup: CaaLookup::Found,
            name: Some(set.name.clone()),
            owner: Some(set.owner.clone()),
            records: set.lines(),
            error: None,
        },
        Ok(None) => CaaPublished {
            lookup: CaaLookup::None,
            name: None,
            owner: None,
            records: Vec::new(),
            error: None,
        },
        Err(why) => CaaPublished {
            lookup: CaaLookup::Failed,
            name: None,
            owner: None,
            records: Vec::new(),
            error: Some(why.clone()),
        },
    };
    let set = report.published.as_ref().ok().and_then(Option::as_ref);
    let checks: Vec<CaaCheck> = report
        .verdicts
        .iter()
        .map(|(method, verdict)| {
            let (status, reason) = explain(verdict, set);
            CaaCheck {
                challenge_type: (*method).into(),
                status,
                reason,
            }
        })
        .collect();
    let may_issue = if report.published.is_err() {
        None
    } else if checks
        .iter()
        .any(|c| matches!(c.status, CaaStatus::Permitted | CaaStatus::Unrestricted))
    {
        Some(true)
    } else if checks.iter().any(|c| c.status == CaaStatus::Undecided) {
        None
    } else {
        Some(false)
    };
    CaaAdvice {
        domain: report.domain,
        account_id: account_id.to_owned(),
        account_url: report.account_url,
        ca_identities: report.identities,
        recommended: report.pinning.map(|set| set.lines()).unwrap_or_default(),
        published,
        checks,
        may_issue,
    }
}

/// A verdict as status and reason.
fn explain(verdict: &CaaVerdict, set: Option<&CaaSet>) -> (CaaStatus, String) {
    match (verdict, set) {
        (CaaVerdict::Unrestricted, None) => (
            CaaStatus::Unrestricted,
            "no CAA record at the name or any parent: every CA may issue".into(),
        ),
        (CaaVerdict::Unrestricted, Some(set)) => (
            CaaStatus::Unrestricted,
            format!(
                "the CAA records at {} restrict no issuance of this kind",
                set.location()
            ),
        ),
        (CaaVerdict::Permitted(record), set) => (
            CaaStatus::Permitted,
            format!(
                "`{}` permits this CA, account and challenge type",
                set.map_or_else(|| record.to_string(), |s| s.line(record))
            ),
        ),
        (CaaVerdict::Forbidden(denial), _) => (CaaStatus::Forbidden, denial.to_string()),
        (CaaVerdict::Undecided(records), set) => {
            let lines: Vec<String> = records
                .iter()
                .map(|r| set.map_or_else(|| r.to_string(), |s| s.line(r)))
                .collect();
            (
                CaaStatus::Undecided,
                format!(
                    "`{}` name CAs, and this CA's identities are unknown (its directory has no \
                     caaIdentities): the CA decides",
                    lines.join("`, `")
                ),
            )
        }
    }
}
