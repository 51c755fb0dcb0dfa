//! Pagination and result-size limits shared by the list routes.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// `?limit=&offset=` as sent.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageParams {
    /// Rows per page.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows per page (1..=max_rows).
    pub limit: usize,
    /// Rows to skip.
    pub offset: usize,
}

impl PageParams {
    /// Checks the values: `limit` defaults to `default` and may not exceed
    /// `max_rows` (413 names the field: the caller asked for too much).
    pub fn check(self, default: usize, max_rows: usize) -> ApiResult<Page> {
        let limit = match self.limit {
            None => default.min(max_rows),
            Some(n) if n < 1 => return Err(ApiError::bad_request("limit", "must be at least 1")),
            Some(n) if n as u64 > max_rows as u64 => {
                return Err(ApiError::too_large(
                    "limit",
                    format!("at most {max_rows} rows per request; page with offset"),
                ))
            }
            Some(n) => n as usize,
        };
        let offset = match self.offset {
            None => 0,
            Some(n) if n < 0 => return Err(ApiError::bad_request("offset", "must be 0 or more")),
            Some(n) => n as usize,
        };
        Ok(Page { limit, offset })
    }
}

/// A page of results: the items, the total when known, and the offset of
/// the next page (absent on the last).
#[derive(Debug, Serialize)]
pub struct Paged<T: Serialize> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Items in this page.
    pub count: usize,
    /// Items in all pages, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// `offset` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

impl<T: Serialize> Paged<T> {
    /// Builds the page from `limit + 1` fetched items (the extra one only
    /// says whether a next page exists) or from a known total.
    pub fn new(mut items: Vec<T>, page: Page, total: Option<i64>) -> Paged<T> {
        let more = match total {
            Some(t) => ((page.offset + items.len().min(page.limit)) as i64) < t,
            None => items.len() > page.limit,
        };
        items.truncate(page.limit);
        Paged {
            count: items.len(),
            next_offset: more.then_some(page.offset + page.limit),
            items,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let p = |l, o| PageParams {
            limit: l,
            offset: o,
        };
        assert_eq!(
            p(None, None).check(100, 1000).unwrap(),
            Page {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            p(Some(5000), None).check(100, 1000).unwrap_err().status,
            413
        );
        assert_eq!(
            p(Some(0), None)
                .check(100, 1000)
                .unwrap_err()
                .field
                .as_deref(),
            Some("limit")
        );
        assert_eq!(
            p(None, Some(-1))
                .check(100, 1000)
                .unwrap_err()
                .field
                .as_deref(),
            Some("offset")
        );
        let paged = Paged::new(
            vec![1, 2, 3],
            Page {
                limit: 2,
                offset: 4,
            },
            None,
        );
        assert_eq!((paged.count, paged.next_offset), (2, Some(6)));
        let last = Paged::new(
            vec![1],
            Page {
                limit: 2,
                offset: 4,
            },
            Some(5),
        );
        assert_eq!(last.next_offset, None);
    }
}
