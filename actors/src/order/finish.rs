//! The end of an order.

use scaivault_domain::account::AccountStatus;
use scaivault_domain::order::{OrderError, OrderProgress, OrderStatus};
use scaivault_domain::timestamp;

use super::context::Context;
use crate::Error;
use crate::events::OrderInvalid;

/// The error code of an order whose CA order or authorizations expired (status `expired`).
pub(super) const EXPIRED: &str = "order_expired";
/// The error code of an order ended because its account was deactivated (`deactivated`).
pub(crate) const ACCOUNT_DEACTIVATED: &str = "account_deactivated";

/// The final status of an order that ends without a certificate, and its error: `deactivated`
/// when its account was deactivated meanwhile (the CA then refuses the order's requests, which
/// is not what went wrong), `expired` when the CA order ran out of time, else `invalid`.
pub(super) async fn ending(
    ctx: &Context,
    order_id: &str,
    error: OrderError,
) -> Result<(OrderStatus, OrderError), Error> {
    let Some(order) = ctx.store.get_order(order_id).await? else {
        return Ok((OrderStatus::Invalid, error));
    };
    // The CA refuses a deactivated account's requests as soon as it has deactivated it, while
    // our record of that is written by the account's actor a moment later. A call to that actor
    // returns only once it has handled the messages before it, the deactivation included (its
    // answer, or its refusal once the actor stopped after deactivating, does not matter).
    let _ = ctx.accounts.client(&order.account_id).await;
    if let Some(account) = ctx.store.get_account(&order.account_id).await?
        && account.status == AccountStatus::Deactivated
    {
        return Ok((
            OrderStatus::Deactivated,
            deactivated_error(&account.id, Some(&error.message)),
        ));
    }
    let status = if error.code == EXPIRED {
        OrderStatus::Expired
    } else {
        OrderStatus::Invalid
    };
    Ok((status, error))
}

/// The error of an order ended by its account's deactivation.
pub(crate) fn deactivated_error(account_id: &str, then: Option<&str>) -> OrderError {
    let mut message = format!(
        "account {account_id} was deactivated while the order was in flight; register a new \
         account and order again"
    );
    if let Some(then) = then {
        message.push_str(&format!(" (the CA then answered: {then})"));
    }
    OrderError::new(ACCOUNT_DEACTIVATED, message)
}

/// Ends an order with a final status; an invalid or expired one is announced
/// (`order.invalid`, its error saying which).
pub(super) async fn finish(
    ctx: &Context,
    order_id: &str,
    status: OrderStatus,
    error: Option<OrderError>,
) -> Result<(), Error> {
    ctx.store
        .set_order_progress(
            order_id,
            &OrderProgress {
                status,
                error: error.clone(),
                at: timestamp::now(),
            },
        )
        .await?;
    if matches!(status, OrderStatus::Invalid | OrderStatus::Expired)
        && let Some(order) = ctx.store.get_order(order_id).await?
    {
        ctx.events
            .record(&OrderInvalid {
                order_id: order.id,
                certificate_id: order.certificate_id,
                domains: order.domains,
                challenge_type: order.challenge_type,
                error,
            })
            .await;
    }
    Ok(())
}
