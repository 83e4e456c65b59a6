//! Listing order and pagination links as fixed tables: literal tokens made at literal seconds
//! through the real dispatcher, and the answers written down by hand from README's contract
//! (token ids in order, link URIs as strings). Nothing here recomputes what the service does.

use serde_json::{json, Value};
use upload_tokens_core::testing::harness::{json, Harness, KEY_A, T0};
use upload_tokens_core::testing::SeqEntropy;

// Ids in ASCII order: A < B < ... < H.
const A: &str = "to000000000000000000000A";
const B: &str = "to000000000000000000000B";
const C: &str = "to000000000000000000000C";
const D: &str = "to000000000000000000000D";
const E: &str = "to000000000000000000000E";
const F: &str = "to000000000000000000000F";
const G: &str = "to000000000000000000000G";
const H: &str = "to000000000000000000000H";

/// The entropy a create draws, so that the token it makes is `id`: 16 bytes for the request
/// id, then one 32-byte draw whose first 22 bytes are indices into the base62 alphabet.
fn script(id: &str) -> Vec<u8> {
    let mut bytes = vec![0u8; 16];
    for c in id[2..].bytes() {
        bytes.push(match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => panic!("not base62: {id}"),
        });
    }
    bytes.resize(16 + 32, 0);
    bytes
}

/// Creates token `id` with `ttl` at the harness's current second.
fn create_as(h: &Harness, key: &str, id: &str, ttl: u32) {
    *h.entropy.borrow_mut() = Some(SeqEntropy::new(&script(id)));
    let made = h.create(key, ttl);
    *h.entropy.borrow_mut() = None;
    assert_eq!(made, id);
}

/// The tokens of the table below, made at their seconds; the clock is left at `T0 + 40`.
///
/// | token | created | ttl | expires  |
/// |-------|---------|-----|----------|
/// | F     | T0      | 15  | T0 + 15 (expired when listed) |
/// | C     | T0 + 10 | 60  | T0 + 70  |
/// | A     | T0 + 20 | 0   | never    |
/// | B     | T0 + 20 | 50  | T0 + 70  |
/// | G     | T0 + 20 | 0   | never    |
/// | H     | T0 + 20 | 50  | T0 + 70  |
/// | D     | T0 + 40 | 10  | T0 + 50  |
/// | E     | T0 + 40 | 0   | never    |
fn table() -> Harness {
    let mut h = Harness::new();
    let rows: [(i64, &str, u32); 8] = [
        (0, F, 15),
        (10, C, 60),
        // Made out of id order, so that insertion order is not the answer.
        (20, H, 50),
        (20, G, 0),
        (20, B, 50),
        (20, A, 0),
        (40, E, 0),
        (40, D, 10),
    ];
    for (at, id, ttl) in rows {
        h.set_now(T0 + at);
        create_as(&h, KEY_A, id, ttl);
    }
    h
}

fn page(h: &Harness, query: &str) -> Value {
    let r = h.call_as(KEY_A, "GET", &format!("/upload-tokens?{query}"), "");
    assert_eq!(r.status, 200, "{query}: {:?}", r.body);
    json(&r)
}

fn ids(body: &Value) -> Vec<&str> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect()
}

fn links(body: &Value) -> Vec<(&str, &str)> {
    body["pagination"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["rel"].as_str().unwrap(), l["uri"].as_str().unwrap()))
        .collect()
}

#[test]
fn each_order_lists_the_table_as_written_down() {
    let h = table();
    let cases: [(&str, [&str; 7]); 6] = [
        ("sortBy=createdAt&sortOrder=asc", [C, A, B, G, H, D, E]),
        ("sortBy=createdAt&sortOrder=desc", [E, D, H, G, B, A, C]),
        ("sortBy=ttl&sortOrder=asc", [D, C, B, H, A, G, E]),
        ("sortBy=ttl&sortOrder=desc", [E, G, A, H, B, C, D]),
        // Defaults: createdAt, desc.
        ("", [E, D, H, G, B, A, C]),
        ("sortBy=ttl", [E, G, A, H, B, C, D]),
    ];
    for (query, want) in cases {
        let body = page(&h, query);
        assert_eq!(ids(&body), want, "{query}");
        assert_eq!(body["pagination"]["itemsTotal"], 7, "{query}");
    }
    let body = page(&h, "sortOrder=asc");
    assert_eq!(ids(&body), [C, A, B, G, H, D, E]);
}

#[test]
fn pages_of_three_hold_the_written_down_tokens() {
    let h = table();
    let cases: [(&str, &[&str]); 8] = [
        (
            "sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=1",
            &[D, C, B],
        ),
        (
            "sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=2",
            &[H, A, G],
        ),
        ("sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=3", &[E]),
        ("sortBy=ttl&sortOrder=asc&pageSize=3&currentPage=4", &[]),
        (
            "sortBy=createdAt&sortOrder=desc&pageSize=3&currentPage=1",
            &[E, D, H],
        ),
        (
            "sortBy=createdAt&sortOrder=desc&pageSize=3&currentPage=2",
            &[G, B, A],
        ),
        (
            "sortBy=createdAt&sortOrder=desc&pageSize=3&currentPage=3",
            &[C],
        ),
        ("pageSize=7&currentPage=1", &[E, D, H, G, B, A, C]),
    ];
    for (query, want) in cases {
        assert_eq!(ids(&page(&h, query)), want, "{query}");
    }
}

#[test]
fn links_are_the_written_down_uris() {
    let h = table();
    let p = "/upload-tokens?";
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "",
            vec![
                ("self", format!("{p}currentPage=1&pageSize=25")),
                ("first", format!("{p}currentPage=1&pageSize=25")),
                ("last", format!("{p}currentPage=1&pageSize=25")),
            ],
        ),
        (
            "pageSize=3",
            vec![
                ("self", format!("{p}currentPage=1&pageSize=3")),
                ("first", format!("{p}currentPage=1&pageSize=3")),
                ("next", format!("{p}currentPage=2&pageSize=3")),
                ("last", format!("{p}currentPage=3&pageSize=3")),
            ],
        ),
        // Only sortBy given: the links carry sortBy, and no sortOrder.
        (
            "sortBy=ttl&pageSize=3&currentPage=2",
            vec![
                ("self", format!("{p}sortBy=ttl&currentPage=2&pageSize=3")),
                ("first", format!("{p}sortBy=ttl&currentPage=1&pageSize=3")),
                (
                    "previous",
                    format!("{p}sortBy=ttl&currentPage=1&pageSize=3"),
                ),
                ("next", format!("{p}sortBy=ttl&currentPage=3&pageSize=3")),
                ("last", format!("{p}sortBy=ttl&currentPage=3&pageSize=3")),
            ],
        ),
        (
            "sortBy=createdAt&pageSize=3",
            vec![
                (
                    "self",
                    format!("{p}sortBy=createdAt&currentPage=1&pageSize=3"),
                ),
                (
                    "first",
                    format!("{p}sortBy=createdAt&currentPage=1&pageSize=3"),
                ),
                (
                    "next",
                    format!("{p}sortBy=createdAt&currentPage=2&pageSize=3"),
                ),
                (
                    "last",
                    format!("{p}sortBy=createdAt&currentPage=3&pageSize=3"),
                ),
            ],
        ),
        // Only sortOrder given: the links carry sortOrder, and no sortBy.
        (
            "sortOrder=asc&pageSize=3&currentPage=3",
            vec![
                ("self", format!("{p}sortOrder=asc&currentPage=3&pageSize=3")),
                (
                    "first",
                    format!("{p}sortOrder=asc&currentPage=1&pageSize=3"),
                ),
                (
                    "previous",
                    format!("{p}sortOrder=asc&currentPage=2&pageSize=3"),
                ),
                ("last", format!("{p}sortOrder=asc&currentPage=3&pageSize=3")),
            ],
        ),
        (
            "sortOrder=desc&pageSize=3",
            vec![
                (
                    "self",
                    format!("{p}sortOrder=desc&currentPage=1&pageSize=3"),
                ),
                (
                    "first",
                    format!("{p}sortOrder=desc&currentPage=1&pageSize=3"),
                ),
                (
                    "next",
                    format!("{p}sortOrder=desc&currentPage=2&pageSize=3"),
                ),
                (
                    "last",
                    format!("{p}sortOrder=desc&currentPage=3&pageSize=3"),
                ),
            ],
        ),
        // Both, in either order in the request: sortBy first in the links.
        (
            "sortOrder=asc&sortBy=ttl&pageSize=3&currentPage=2",
            vec![
                (
                    "self",
                    format!("{p}sortBy=ttl&sortOrder=asc&currentPage=2&pageSize=3"),
                ),
                (
                    "first",
                    format!("{p}sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=3"),
                ),
                (
                    "previous",
                    format!("{p}sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=3"),
                ),
                (
                    "next",
                    format!("{p}sortBy=ttl&sortOrder=asc&currentPage=3&pageSize=3"),
                ),
                (
                    "last",
                    format!("{p}sortBy=ttl&sortOrder=asc&currentPage=3&pageSize=3"),
                ),
            ],
        ),
        // A page past the end: previous is the page before it, not the last page.
        (
            "pageSize=3&currentPage=9",
            vec![
                ("self", format!("{p}currentPage=9&pageSize=3")),
                ("first", format!("{p}currentPage=1&pageSize=3")),
                ("previous", format!("{p}currentPage=8&pageSize=3")),
                ("last", format!("{p}currentPage=3&pageSize=3")),
            ],
        ),
        // The page just past the end: its previous happens to be the last page.
        (
            "pageSize=3&currentPage=4",
            vec![
                ("self", format!("{p}currentPage=4&pageSize=3")),
                ("first", format!("{p}currentPage=1&pageSize=3")),
                ("previous", format!("{p}currentPage=3&pageSize=3")),
                ("last", format!("{p}currentPage=3&pageSize=3")),
            ],
        ),
        // The exact last page: no next.
        (
            "pageSize=7",
            vec![
                ("self", format!("{p}currentPage=1&pageSize=7")),
                ("first", format!("{p}currentPage=1&pageSize=7")),
                ("last", format!("{p}currentPage=1&pageSize=7")),
            ],
        ),
        (
            "pageSize=1&currentPage=2147483647",
            vec![
                ("self", format!("{p}currentPage=2147483647&pageSize=1")),
                ("first", format!("{p}currentPage=1&pageSize=1")),
                ("previous", format!("{p}currentPage=2147483646&pageSize=1")),
                ("last", format!("{p}currentPage=7&pageSize=1")),
            ],
        ),
    ];
    for (query, want) in cases {
        let body = page(&h, query);
        let want: Vec<(&str, &str)> = want.iter().map(|(r, u)| (*r, u.as_str())).collect();
        assert_eq!(links(&body), want, "{query}");
    }
}

#[test]
fn a_whole_page_is_the_written_down_body() {
    let h = table();
    let body = page(&h, "sortBy=ttl&sortOrder=asc&pageSize=2&currentPage=2");
    // T0 = 2027-01-15T08:00:00Z.
    assert_eq!(
        body,
        json!({
            "data": [
                {"token": B, "ttl": 50, "createdAt": "2027-01-15T08:00:20+00:00", "expiresAt": "2027-01-15T08:01:10+00:00"},
                {"token": H, "ttl": 50, "createdAt": "2027-01-15T08:00:20+00:00", "expiresAt": "2027-01-15T08:01:10+00:00"},
            ],
            "pagination": {
                "currentPage": 2,
                "currentPageItems": 2,
                "pageSize": 2,
                "pagesTotal": 4,
                "itemsTotal": 7,
                "links": [
                    {"rel": "self", "uri": "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=2&pageSize=2"},
                    {"rel": "first", "uri": "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=2"},
                    {"rel": "previous", "uri": "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=1&pageSize=2"},
                    {"rel": "next", "uri": "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=3&pageSize=2"},
                    {"rel": "last", "uri": "/upload-tokens?sortBy=ttl&sortOrder=asc&currentPage=4&pageSize=2"},
                ],
            },
        })
    );
    // Past the end: no data, the same total, and the counts of an empty page.
    let body = page(&h, "pageSize=5&currentPage=3");
    assert_eq!(body["data"], json!([]));
    assert_eq!(
        (
            &body["pagination"]["currentPage"],
            &body["pagination"]["currentPageItems"],
            &body["pagination"]["pagesTotal"],
            &body["pagination"]["itemsTotal"],
        ),
        (&json!(3), &json!(0), &json!(2), &json!(7))
    );
}

#[test]
fn the_table_changes_as_the_clock_passes_each_expiry() {
    let mut h = table();
    // (second, createdAt asc) as written down from the expiries in the table.
    let cases: [(i64, &[&str]); 5] = [
        (49, &[C, A, B, G, H, D, E]),
        (50, &[C, A, B, G, H, E]),
        (69, &[C, A, B, G, H, E]),
        (70, &[A, G, E]),
        (100_000, &[A, G, E]),
    ];
    for (at, want) in cases {
        h.set_now(T0 + at);
        let body = page(&h, "sortOrder=asc");
        assert_eq!(ids(&body), want, "T0 + {at}");
        assert_eq!(body["pagination"]["itemsTotal"], want.len(), "T0 + {at}");
    }
}
