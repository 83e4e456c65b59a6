//! The listing's statements: one page of the active tokens in a total order, and how many
//! there are, with or without metadata filters.
//!
//! Without filters, a page is one walk of the covering index of its sort key. With filters, the
//! walk starts from the metadata table instead: the first `(key, value)` pair is looked up in
//! `token_metadata_by_pair` (its rows are exactly the tokens carrying it), each of those tokens
//! is read by its primary key, and every further pair is one lookup in the same index per
//! token. Only the tokens carrying the first pair are visited, never the whole table: `CROSS
//! JOIN` fixes that order (SQLite does not reorder it), and a test reads the query plan. The
//! page is then cut from those tokens sorted by the same keys as the unfiltered listing.

use super::sql::{read_token_row, Sql, SqlIndex, SqlParam, SqlValue, TokenRow};
use super::{PageRequest, SortKey};
use crate::storage::kv::{StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::policy::Metadata;

const COLUMNS: &str = "t.token, t.created_at, t.ttl, t.policy, t.uploads_used";

/// `FROM … WHERE …` of a listing of the tokens active at `?1` that carry every pair of
/// `filters`, whose keys and values are bound from `?{first_pair}` on, two per pair.
pub fn source(filters: &[Metadata], first_pair: usize) -> String {
    let Some((_, rest)) = filters.split_first() else {
        return "tokens t WHERE t.expires_at > ?1".to_owned();
    };
    let (k, v) = (first_pair, first_pair + 1);
    let mut sql = format!(
        "token_metadata m CROSS JOIN tokens t ON t.token = m.token WHERE m.key = ?{k} AND m.value = ?{v} AND t.expires_at > ?1"
    );
    for i in 1..=rest.len() {
        let (k, v) = (first_pair + 2 * i, first_pair + 2 * i + 1);
        sql.push_str(&format!(
            " AND t.token IN (SELECT token FROM token_metadata WHERE key = ?{k} AND value = ?{v})"
        ));
    }
    sql
}

/// The order of a page: column names cannot be bound.
fn order(sort_by: SortKey, descending: bool) -> &'static str {
    match (sort_by, descending) {
        (SortKey::CreatedAt, false) => "t.created_at ASC, t.token ASC",
        (SortKey::CreatedAt, true) => "t.created_at DESC, t.token DESC",
        (SortKey::Ttl, false) => "t.expires_at ASC, t.created_at ASC, t.token ASC",
        (SortKey::Ttl, true) => "t.expires_at DESC, t.created_at DESC, t.token DESC",
    }
}

/// The statement of a page: `?1` now, `?2` limit, `?3` offset, then the filters' pairs.
pub fn page_statement(page: &PageRequest) -> String {
    walk_statement(page, page.descending)
}

/// Unfiltered, the walk reads only the covering index of the sort key (`token`, the sort
/// columns, `expires_at`, `ttl`) and the page's own rows are then read from the table by their
/// key: a row skipped by `OFFSET` costs no lookup in the table, as it would if the walk itself
/// selected a column the index lacks (`policy`, `uploads_used`). Filtered, every candidate is
/// read from the table anyway.
fn walk_statement(page: &PageRequest, descending: bool) -> String {
    let order = order(page.sort_by, descending);
    let source = source(&page.metadata, 4);
    if page.metadata.is_empty() {
        format!(
            "SELECT {COLUMNS} FROM (SELECT t.token AS token FROM {source} ORDER BY {order} LIMIT ?2 OFFSET ?3) p CROSS JOIN tokens t ON t.token = p.token ORDER BY {order}"
        )
    } else {
        format!("SELECT {COLUMNS} FROM {source} ORDER BY {order} LIMIT ?2 OFFSET ?3")
    }
}

/// How a page is read from the index: `limit` rows after skipping `skip`, in the listing's
/// order, or in the reverse order (`from_end`) when the page is nearer the end; the rows are
/// then put back in the listing's order. Either way no walk skips more than half the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    pub from_end: bool,
    pub skip: u64,
    pub limit: u64,
}

/// The walk that reads the page at `offset` of at most `limit` rows out of `total`, the
/// shorter of the two; from the start when both skip as many rows. `None` past the end.
pub fn walk(offset: u64, limit: u32, total: u64) -> Option<Walk> {
    let left = total.checked_sub(offset).filter(|&n| n > 0)?;
    let limit = left.min(u64::from(limit));
    let after = left - limit;
    Some(if after < offset {
        Walk {
            from_end: true,
            skip: after,
            limit,
        }
    } else {
        Walk {
            from_end: false,
            skip: offset,
            limit,
        }
    })
}

/// The statement counting what a page is cut from: `?1` now, then the filters' pairs.
pub fn count_statement(filters: &[Metadata]) -> String {
    format!("SELECT COUNT(*) FROM {}", source(filters, 2))
}

fn pairs(filters: &[Metadata]) -> impl Iterator<Item = SqlParam<'_>> {
    filters
        .iter()
        .flat_map(|m| [SqlParam::Text(&m.key), SqlParam::Text(&m.value)])
}

impl<S: Sql> SqlIndex<S> {
    /// How many tokens are active at `now`.
    pub fn count(&self, now: UnixSeconds) -> StoreResult<usize> {
        self.count_matching(&[], now)
    }

    /// How many tokens are active at `now` and carry every pair of `filters`.
    pub fn count_matching(&self, filters: &[Metadata], now: UnixSeconds) -> StoreResult<usize> {
        let params: Vec<SqlParam<'_>> = std::iter::once(SqlParam::Integer(now))
            .chain(pairs(filters))
            .collect();
        let rows = self.sql.exec(&count_statement(filters), &params)?;
        let n = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| StoreError("COUNT returned no row".into()))?;
        let n = SqlValue::integer(&n)?;
        usize::try_from(n).map_err(|_| StoreError("COUNT is negative".into()))
    }

    /// One page of the tokens active at `now` that carry every filter of `page`, and how many
    /// there are. A page past the end reads no row; a page nearer the end of the order is read
    /// from that end ([`walk`]). The count and the page read the same rows: nothing else runs
    /// on the object between two statements.
    pub fn page(
        &self,
        page: &PageRequest,
        now: UnixSeconds,
    ) -> StoreResult<(Vec<TokenRow>, usize)> {
        let total = self.count_matching(&page.metadata, now)?;
        let Some(walk) = walk(page.offset, page.limit, total as u64) else {
            return Ok((Vec::new(), total));
        };
        // Both are below `total`, a count of rows.
        let params: Vec<SqlParam<'_>> = [
            SqlParam::Integer(now),
            SqlParam::Integer(walk.limit as i64),
            SqlParam::Integer(walk.skip as i64),
        ]
        .into_iter()
        .chain(pairs(&page.metadata))
        .collect();
        let statement = walk_statement(page, page.descending != walk.from_end);
        let mut rows: Vec<TokenRow> = self
            .sql
            .exec(&statement, &params)?
            .into_iter()
            .map(read_token_row)
            .collect::<Result<_, _>>()?;
        if walk.from_end {
            rows.reverse();
        }
        Ok((rows, total))
    }
}
