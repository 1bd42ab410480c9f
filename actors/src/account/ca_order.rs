//! Placing an order at the CA (RFC 8555 §7.4) and reading, per identifier, the challenge to
//! answer: the account actor's part of a new order.

use instant_acme::{Account, AuthorizationStatus, Identifier, NewOrder};
use scaivault_domain::order::ChallengeType;
use scaivault_domain::pki;

use crate::Error;
use crate::acme::{AcmeProblem, BAD_NONCE_RETRIES, ProblemKind, challenge_type, retry_bad_nonce};

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

/// Creates the order through `account` and reads its challenges.
pub(super) async fn place(account: &Account, spec: &NewOrderSpec) -> Result<CreatedOrder, Error> {
    let identifiers: Vec<Identifier> = spec
        .domains
        .iter()
        .map(|domain| match pki::Identifier::of(domain) {
            // RFC 8738 §3: type `ip`, the address in its textual form.
            pki::Identifier::Ip(ip) => Identifier::Ip(ip),
            pki::Identifier::Dns(name) => Identifier::Dns(name),
        })
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
        // The identifier was computed by us from a stored certificate; a malformed one is simply
        // not sent.
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
                // RFC 9773 §5: the certificate was already replaced (say, by an order that did
                // not finish): order again without `replaces`.
                Err(instant_acme::Error::Api(problem))
                    if ProblemKind::from_type(problem.r#type.as_deref())
                        == ProblemKind::AlreadyReplaced =>
                {
                    tracing::info!(account_url = %account.id(),
                        "certificate already replaced at the CA; ordering without replaces");
                    retry_bad_nonce(|| account.new_order(&request)).await
                }
                Err(other) => Err(other),
            }
        }
        None => retry_bad_nonce(|| account.new_order(&request)).await,
    }
    .map_err(|err| Error::from_acme(account.id(), err))?;
    let order_url = order.url().to_owned();
    // Reading the authorizations is safe to repeat: on a badNonce, read the order afresh.
    let mut attempts = 0;
    let challenges = loop {
        match read_challenges(&mut order, spec).await {
            Err(Error::Acme { problem })
                if problem.kind == ProblemKind::BadNonce && attempts < BAD_NONCE_RETRIES =>
            {
                attempts += 1;
                order = retry_bad_nonce(|| account.order(order_url.clone()))
                    .await
                    .map_err(|err| Error::from_acme(&order_url, err))?;
            }
            other => break other?,
        }
    };
    Ok(CreatedOrder {
        order_url,
        challenges,
        replaced,
    })
}

/// Reads each authorization's challenge of the wanted type.
async fn read_challenges(
    order: &mut instant_acme::Order,
    spec: &NewOrderSpec,
) -> Result<Vec<CreatedChallenge>, Error> {
    let order_url = order.url().to_owned();
    let wanted = challenge_type(spec.challenge_type);
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
                    problem: AcmeProblem {
                        kind: ProblemKind::Other(
                            "urn:ietf:params:acme:error:unsupportedChallenge".into(),
                        ),
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
