//! Keyset pagination: a page is `limit` rows older than the cursor, and the cursor is the
//! position of the last row (`<created_at millis>.<id>`), stable under concurrent inserts.

use super::error::ApiError;

/// Rows per page unless the caller asks.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows a page may hold.
pub const MAX_LIMIT: u32 = 100;

/// A position in a newest-first listing.
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

/// A validated page request.
pub struct Page {
    pub limit: u32,
    pub before: Option<(i64, String)>,
}

impl Page {
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("limit: 1 to {MAX_LIMIT}"),
            ));
        }
        let before = cursor
            .map(|text| {
                text.split_once('.')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .filter(|(_, id)| !id.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid("cursor", "cursor: pass next_cursor back unchanged")
                    })
            })
            .transpose()?;
        Ok(Self { limit, before })
    }

    /// The cursor for the page after this one, when this one was full.
    pub fn next(&self, last: Option<Cursor>, rows: usize) -> Option<String> {
        if rows < self.limit as usize {
            return None;
        }
        last.map(|c| format!("{}.{}", c.created_at, c.id))
    }
}
