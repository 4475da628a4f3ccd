//! Paging through listings: a page size from the request, and cursors.
//!
//! A cursor is the id of the last item of the previous page: the listing goes on after it.
//! Clients treat it as opaque, but it is not secret and needs no seal: the tenant is in the
//! path, so any well-formed id only moves the start within the tenant's own items. Being
//! exactly an id keeps its OpenAPI pattern exact: every cursor the pattern allows is accepted.

use std::future::Future;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids;
use crate::domain::limits::{DEFAULT_PAGE_SIZE, MAX_INDEX_PAGES_PER_REQUEST, MAX_PAGE_SIZE};
use crate::ports::store::{Page, StoreResult};

/// The id a page starts after: the cursor, when it is an id of the listing's kind (`prefix`).
pub fn start_after(cursor: Option<&str>, prefix: &str) -> DomainResult<Option<String>> {
    match cursor {
        None => Ok(None),
        Some(id) if ids::is_generated_id(id, prefix) => Ok(Some(id.to_string())),
        Some(_) => Err(DomainError::invalid("invalid_cursor", "cursor is not one this API returned")),
    }
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
    fn a_cursor_is_an_id_of_the_listings_kind() {
        let id = ids::new_id(WEBHOOK_PREFIX);
        assert_eq!(start_after(Some(&id), WEBHOOK_PREFIX).expect("valid"), Some(id.clone()));
        assert_eq!(start_after(None, WEBHOOK_PREFIX).expect("no cursor"), None);
        for bad in ["!!", "wh_x", "", &id.replace("wh_", "dlv_"), &format!("{id}0")] {
            assert_eq!(start_after(Some(bad), WEBHOOK_PREFIX).expect_err(bad).code(), "invalid_cursor", "{bad}");
        }
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
