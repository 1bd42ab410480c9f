//! The end of an order.

use scaivault_domain::order::{OrderError, OrderProgress, OrderStatus};
use scaivault_domain::timestamp;

use super::context::Context;
use crate::Error;
use crate::events::OrderInvalid;

/// Ends an order with a final status; an invalid one is announced (`order.invalid`).
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
    if status == OrderStatus::Invalid
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
