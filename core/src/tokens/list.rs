//! Listing: order, filters, page arithmetic and links of `GET /upload-tokens`.

use crate::storage::index::IndexPage;
use crate::time::UnixSeconds;
use crate::tokens::query::{ListQuery, SortBy, SortOrder};
use crate::tokens::token::{UploadToken, UploadTokenView};
use serde::Serialize;
use std::cmp::Ordering;
use std::ops::Range;

/// The total order of a listing. Ties break on `createdAt`, then on the token id, so the
/// order is the same on every page; `desc` is the exact reverse of `asc`.
pub fn compare(a: &UploadToken, b: &UploadToken, sort_by: SortBy) -> Ordering {
    let by_creation = || {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.token.cmp(&b.token))
    };
    match sort_by {
        SortBy::CreatedAt => by_creation(),
        // Remaining lifetime: the sooner it expires, the smaller; never-expiring is longest.
        SortBy::Ttl => {
            let left = |t: &UploadToken| t.expires_at().unwrap_or(UnixSeconds::MAX);
            left(a).cmp(&left(b)).then_with(by_creation)
        }
    }
}

/// Keeps the tokens still active at `now` that carry every metadata filter of `query`, and
/// puts them in the order `query` asks for.
pub fn sort_active(tokens: &mut Vec<UploadToken>, query: &ListQuery, now: UnixSeconds) {
    tokens.retain(|t| t.is_active(now) && t.policy.matches(&query.metadata));
    match query.sort_order {
        SortOrder::Asc => tokens.sort_unstable_by(|a, b| compare(a, b, query.sort_by)),
        SortOrder::Desc => tokens.sort_unstable_by(|a, b| compare(b, a, query.sort_by)),
    }
}

/// The `pagination` object of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: u32,
    pub current_page_items: usize,
    pub page_size: u32,
    pub pages_total: usize,
    pub items_total: usize,
    pub links: Vec<Link>,
}

/// One pagination link: `{rel, uri}` with a relative URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub rel: &'static str,
    pub uri: String,
}

/// Where page `query.current_page` falls among `items_total` sorted items, and its
/// `pagination` object. A page past the end is an empty range.
pub fn paginate(items_total: usize, query: &ListQuery) -> (Range<usize>, Pagination) {
    let size = query.page_size as usize;
    let pages_total = items_total.div_ceil(size).max(1);
    let start = (query.current_page as usize - 1)
        .saturating_mul(size)
        .min(items_total);
    let end = start.saturating_add(size).min(items_total);

    let page = query.current_page as usize;
    let link = |rel, n: usize| Link {
        rel,
        uri: page_uri(query, n),
    };
    let mut links = vec![link("self", page), link("first", 1)];
    if page > 1 {
        links.push(link("previous", page - 1));
    }
    if page < pages_total {
        links.push(link("next", page + 1));
    }
    links.push(link("last", pages_total));

    let pagination = Pagination {
        current_page: query.current_page,
        current_page_items: end - start,
        page_size: query.page_size,
        pages_total,
        items_total,
        links,
    };
    (start..end, pagination)
}

/// A relative link to page `n` that keeps the sorting and the filters the caller asked for.
fn page_uri(query: &ListQuery, n: usize) -> String {
    let mut uri = String::from("/upload-tokens?");
    if query.explicit_sort_by {
        uri.push_str("sortBy=");
        uri.push_str(query.sort_by.as_str());
        uri.push('&');
    }
    if query.explicit_sort_order {
        uri.push_str("sortOrder=");
        uri.push_str(query.sort_order.as_str());
        uri.push('&');
    }
    if !query.metadata.is_empty() {
        let mut filters = form_urlencoded::Serializer::new(String::new());
        for m in &query.metadata {
            filters.append_pair(&format!("metadata[{}]", m.key), &m.value);
        }
        uri.push_str(&filters.finish());
        uri.push('&');
    }
    uri.push_str(&format!("currentPage={n}&pageSize={}", query.page_size));
    uri
}

/// The body of `GET /upload-tokens`.
#[derive(Debug, Serialize)]
pub struct TokenList<'a> {
    pub data: Vec<UploadTokenView<'a>>,
    pub pagination: Pagination,
}

/// The body of a listing from one page of the project index.
pub fn render_page(page: &IndexPage, query: &ListQuery) -> String {
    let (_, pagination) = paginate(page.items_total, query);
    let body = TokenList {
        data: page
            .tokens
            .iter()
            .map(|t| t.token.view(t.uploads_used))
            .collect(),
        pagination,
    };
    serde_json::to_string(&body).expect("a token list always serialises")
}

/// Sorts, filters and cuts one page out of `tokens` (all of a project's tokens, none of which
/// has made a video yet): the specification the project index must answer exactly as.
pub fn list_page(tokens: &mut Vec<UploadToken>, query: &ListQuery, now: UnixSeconds) -> String {
    sort_active(tokens, query, now);
    let (range, pagination) = paginate(tokens.len(), query);
    let body = TokenList {
        data: tokens[range].iter().map(|t| t.view(0)).collect(),
        pagination,
    };
    serde_json::to_string(&body).expect("a token list always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TokenId;

    fn tok(id: &str, created_at: UnixSeconds, ttl: u32) -> UploadToken {
        let token = TokenId::parse(&format!("to{id:0>22}")).unwrap();
        UploadToken::new(token, ttl, created_at)
    }

    fn ids(tokens: &[UploadToken]) -> Vec<String> {
        tokens
            .iter()
            .map(|t| {
                t.token
                    .as_str()
                    .trim_start_matches("to")
                    .trim_start_matches('0')
                    .to_owned()
            })
            .collect()
    }

    /// The ids of the tokens of `tokens` active at `now`, as `sort_active` orders them.
    fn sorted(mut tokens: Vec<UploadToken>, query: &ListQuery, now: UnixSeconds) -> Vec<String> {
        sort_active(&mut tokens, query, now);
        ids(&tokens)
    }

    fn query(sort_by: SortBy, sort_order: SortOrder) -> ListQuery {
        ListQuery {
            sort_by,
            sort_order,
            ..ListQuery::default()
        }
    }

    fn sample() -> Vec<UploadToken> {
        vec![
            tok("A", 100, 0),  // never expires
            tok("B", 100, 50), // expires 150
            tok("C", 90, 60),  // expires 150, created earlier than B
            tok("D", 120, 10), // expires 130
            tok("E", 120, 0),  // never expires, same second as D
            tok("F", 80, 15),  // expires 95: expired at now = 100
            tok("G", 100, 0),  // never, same second as A
        ]
    }

    #[test]
    fn created_at_orders_with_token_tiebreak_and_desc_is_the_reverse() {
        let by_created_at = |order| sorted(sample(), &query(SortBy::CreatedAt, order), 100);
        assert_eq!(
            by_created_at(SortOrder::Asc),
            ["C", "A", "B", "G", "D", "E"]
        );
        assert_eq!(
            by_created_at(SortOrder::Desc),
            ["E", "D", "G", "B", "A", "C"]
        );
    }

    #[test]
    fn ttl_orders_by_expiry_with_never_last_then_creation_then_token() {
        let by_ttl = |order| sorted(sample(), &query(SortBy::Ttl, order), 100);
        assert_eq!(by_ttl(SortOrder::Asc), ["D", "C", "B", "A", "G", "E"]);
        assert_eq!(by_ttl(SortOrder::Desc), ["E", "G", "A", "B", "C", "D"]);
    }

    #[test]
    fn expired_tokens_are_not_listed() {
        let t = sorted(sample(), &ListQuery::default(), 130);
        // D expired at 130 exactly, F long before.
        assert!(!t.contains(&"D".to_owned()));
        assert!(!t.contains(&"F".to_owned()));
        assert_eq!(t.len(), 5);
    }

    fn page(total: usize, current_page: u32, page_size: u32) -> (Range<usize>, Pagination) {
        paginate(
            total,
            &ListQuery {
                current_page,
                page_size,
                ..ListQuery::default()
            },
        )
    }

    fn rels(p: &Pagination) -> Vec<&str> {
        p.links.iter().map(|l| l.rel).collect()
    }

    #[test]
    fn no_tokens_is_one_empty_page() {
        let (r, p) = page(0, 1, 25);
        assert_eq!(r, 0..0);
        assert_eq!(
            (p.pages_total, p.items_total, p.current_page_items),
            (1, 0, 0)
        );
        assert_eq!(rels(&p), ["self", "first", "last"]);
        assert_eq!(p.links[2].uri, "/upload-tokens?currentPage=1&pageSize=25");
    }

    #[test]
    fn an_exact_multiple_has_no_partial_page() {
        let (r, p) = page(50, 2, 25);
        assert_eq!(r, 25..50);
        assert_eq!(p.pages_total, 2);
        assert_eq!(rels(&p), ["self", "first", "previous", "last"]);
        let (_, p) = page(50, 1, 25);
        assert_eq!(rels(&p), ["self", "first", "next", "last"]);
        assert_eq!(p.links[2].uri, "/upload-tokens?currentPage=2&pageSize=25");
    }

    #[test]
    fn the_last_page_may_be_partial() {
        let (r, p) = page(51, 3, 25);
        assert_eq!(r, 50..51);
        assert_eq!((p.pages_total, p.current_page_items), (3, 1));
        let (r, p) = page(7, 2, 3);
        assert_eq!(r, 3..6);
        assert_eq!(rels(&p), ["self", "first", "previous", "next", "last"]);
    }

    #[test]
    fn a_page_past_the_end_is_empty_but_answered() {
        let (r, p) = page(10, 5, 25);
        assert!(r.is_empty());
        assert_eq!(
            (p.current_page, p.current_page_items, p.pages_total),
            (5, 0, 1)
        );
        assert_eq!(rels(&p), ["self", "first", "previous", "last"]);
        let (r, _) = page(10, 2_147_483_647, 100);
        assert!(r.is_empty());
    }

    /// The `self` link of the page `query` asks for, among 30 tokens.
    fn self_link(query: &ListQuery) -> String {
        let (_, p) = paginate(30, query);
        assert_eq!(p.links[0].rel, "self");
        p.links[0].uri.clone()
    }

    #[test]
    fn links_keep_the_requested_sorting() {
        let q = ListQuery {
            sort_by: SortBy::Ttl,
            sort_order: SortOrder::Asc,
            explicit_sort_by: true,
            explicit_sort_order: true,
            page_size: 10,
            ..ListQuery::default()
        };
        assert_eq!(
            self_link(&q),
            "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=10"
        );
    }

    #[test]
    fn links_keep_the_metadata_filters_encoded() {
        let q = ListQuery {
            metadata: vec![
                crate::tokens::policy::Metadata::new("user", "u 1&2"),
                crate::tokens::policy::Metadata::new("plan", "é"),
            ],
            page_size: 10,
            ..ListQuery::default()
        };
        let link = self_link(&q);
        assert_eq!(
            link,
            "/upload-tokens?metadata%5Buser%5D=u+1%262&metadata%5Bplan%5D=%C3%A9&currentPage=1&pageSize=10"
        );
        // The link reads back as the same query.
        let back = ListQuery::parse(link.split_once('?').unwrap().1).unwrap();
        assert_eq!(back.metadata, q.metadata);
    }

    #[test]
    fn filters_keep_only_tokens_carrying_every_pair() {
        use crate::tokens::policy::Metadata;
        let mut t = sample();
        t[0].policy.metadata = vec![Metadata::new("user", "u1"), Metadata::new("plan", "pro")];
        t[1].policy.metadata = vec![Metadata::new("user", "u1")];
        t[2].policy.metadata = vec![Metadata::new("user", "u2"), Metadata::new("plan", "pro")];
        let q = |pairs: &[(&str, &str)]| ListQuery {
            sort_order: SortOrder::Asc,
            metadata: pairs.iter().map(|(k, v)| Metadata::new(k, v)).collect(),
            ..ListQuery::default()
        };
        let filtered = |pairs| sorted(t.clone(), &q(pairs), 100);
        assert_eq!(filtered(&[("user", "u1")]), ["A", "B"]);
        assert_eq!(filtered(&[("user", "u1"), ("plan", "pro")]), ["A"]);
        assert_eq!(filtered(&[("plan", "pro")]), ["C", "A"]);
        assert!(filtered(&[("user", "")]).is_empty());
    }

    #[test]
    fn list_page_renders_only_the_page() {
        let mut t: Vec<UploadToken> = (0..30).map(|i| tok(&format!("{i}"), 1000 + i, 0)).collect();
        let q = ListQuery {
            current_page: 2,
            page_size: 25,
            ..ListQuery::default()
        };
        let body: serde_json::Value = serde_json::from_str(&list_page(&mut t, &q, 2000)).unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 5);
        // newest first: page 2 holds the five oldest, the last being the very first made.
        assert_eq!(body["data"][4]["createdAt"], "1970-01-01T00:16:40+00:00");
        assert_eq!(body["pagination"]["itemsTotal"], 30);
    }
}
