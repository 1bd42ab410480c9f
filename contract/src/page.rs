//! Paging of lists: `limit` (default 50, at most 100) and the `next_cursor` of the page before.

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// `?limit=&cursor=` of a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to 100; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
