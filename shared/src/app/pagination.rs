//! Paging through listings: a page size from the request, and opaque cursors (the last id of
//! a page, encoded) that are checked to be ones this API handed out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use std::future::Future;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids;
use crate::domain::limits::{DEFAULT_PAGE_SIZE, MAX_INDEX_PAGES_PER_REQUEST, MAX_PAGE_SIZE};
use crate::ports::store::{Page, StoreResult};

/// Page request of a listing: `limit` and an opaque `cursor` from the previous page.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[cfg_attr(feature = "openapi", param(value_type = Option<u32>, minimum = 1, maximum = 100))]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous answer.
    pub cursor: Option<String>,
}

pub fn encode_cursor(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_id)
}

pub fn decode_cursor(cursor: &str, prefix: &str) -> DomainResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|id| ids::is_generated_id(id, prefix))
        .ok_or_else(|| DomainError::invalid("invalid_cursor", "cursor is not one this API returned"))
}

pub fn parse_limit(limit: Option<&str>) -> DomainResult<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            DomainError::invalid("invalid_limit", format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"))
        }),
    }
}

/// Up to `limit` items from store pages read one after another from `start` on, reading at
/// most `MAX_INDEX_PAGES_PER_REQUEST` pages (each a bounded read: see `DeliveryStore`), so a
/// filter that matches little can't keep a request reading until the function times out.
/// `next` is where to continue: after the last item kept when the page filled, else where the
/// reading stopped; `None` only when the listing is read to its end.
pub async fn gather<T, F, Fut>(
    limit: usize,
    start: Option<String>,
    mut read_page: F,
    id: impl Fn(&T) -> String,
) -> StoreResult<Page<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut items: Vec<T> = Vec::new();
    let mut next = start;
    for _ in 0..MAX_INDEX_PAGES_PER_REQUEST {
        let page = read_page(next.take()).await?;
        items.extend(page.items);
        next = page.next;
        if items.len() > limit {
            items.truncate(limit);
            let next = items.last().map(&id);
            return Ok(Page { items, next });
        }
        if items.len() == limit || next.is_none() {
            break;
        }
    }
    Ok(Page { items, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::WEBHOOK_PREFIX;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = ids::new_id(WEBHOOK_PREFIX);
        assert_eq!(decode_cursor(&encode_cursor(&id), WEBHOOK_PREFIX).expect("valid"), id);
        assert_eq!(decode_cursor("!!", WEBHOOK_PREFIX).expect_err("bad").code(), "invalid_cursor");
        assert_eq!(decode_cursor(&encode_cursor("wh_x"), WEBHOOK_PREFIX).expect_err("bad").code(), "invalid_cursor");
    }

    /// Pages of `per_page` numbers from 0 to `end`, of which only multiples of `keep` match (none for 0).
    fn numbers(
        per_page: u32,
        end: u32,
        keep: u32,
        reads: &std::cell::Cell<usize>,
    ) -> impl FnMut(Option<String>) -> std::future::Ready<StoreResult<Page<u32>>> {
        move |start| {
            reads.set(reads.get() + 1);
            let from = start.map_or(0, |s| s.parse::<u32>().expect("cursor") + 1);
            let to = (from + per_page).min(end);
            let items = (from..to).filter(|n| keep != 0 && n % keep == 0).collect();
            let next = (to < end).then(|| (to - 1).to_string());
            std::future::ready(Ok(Page { items, next }))
        }
    }

    #[tokio::test]
    async fn gathering_reads_a_bounded_number_of_pages_and_says_where_it_stopped() {
        // GIVEN 100 000 items of which none match WHEN a page is gathered
        let reads = std::cell::Cell::new(0);
        let page = gather(20, None, numbers(100, 100_000, 0, &reads), u32::to_string).await.expect("page");
        // THEN it stops after the bound, empty, with a cursor where the reading stopped
        assert_eq!(reads.get(), MAX_INDEX_PAGES_PER_REQUEST);
        assert!(page.items.is_empty());
        let stopped = (MAX_INDEX_PAGES_PER_REQUEST * 100 - 1).to_string();
        assert_eq!(page.next.as_deref(), Some(stopped.as_str()));
    }

    #[tokio::test]
    async fn gathering_fills_a_page_across_reads_and_continues_after_the_last_item_kept() {
        // GIVEN every 30th of 1000 items matches, pages of 100
        let reads = std::cell::Cell::new(0);
        let page = gather(5, None, numbers(100, 1000, 30, &reads), u32::to_string).await.expect("page");
        // THEN five are gathered from two reads and the next page starts after the fifth
        assert_eq!(page.items, [0, 30, 60, 90, 120]);
        assert_eq!(reads.get(), 2);
        assert_eq!(page.next.as_deref(), Some("120"));
        // AND following the cursors reaches the end, every match once
        let mut all = page.items;
        let mut next = page.next;
        while let Some(start) = next {
            let page = gather(5, Some(start), numbers(100, 1000, 30, &reads), u32::to_string).await.expect("page");
            all.extend(page.items);
            next = page.next;
        }
        assert_eq!(all, (0..1000).filter(|n| n % 30 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_PAGE_SIZE);
        assert_eq!(parse_limit(Some("5")).expect("5"), 5);
        for bad in ["0", "101", "-1", "ten"] {
            assert_eq!(parse_limit(Some(bad)).expect_err(bad).code(), "invalid_limit");
        }
    }
}
