//! Requests at the exact limits README names: a JSON body of 16 KiB is read, one byte more is
//! a 413 before parsing.

use upload_tokens_core::testing::harness::{basic, json, Harness, KEY_A};

/// A create body of exactly `len` bytes: `{"ttl":60,"pad":"xx…"}`.
fn body_of(len: usize) -> String {
    let head = r#"{"ttl":60,"pad":""#;
    let tail = r#""}"#;
    let mut b = String::from(head);
    b.push_str(&"x".repeat(len - head.len() - tail.len()));
    b.push_str(tail);
    assert_eq!(b.len(), len);
    b
}

#[test]
fn a_json_body_of_16_kib_is_read_and_one_byte_more_is_413() {
    let h = Harness::new();
    let r = h.call(
        "POST",
        "/upload-tokens",
        Some(&basic(KEY_A)),
        &body_of(16 * 1024),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(json(&r)["ttl"], 60);
    let r = h.call(
        "POST",
        "/upload-tokens",
        Some(&basic(KEY_A)),
        &body_of(16 * 1024 + 1),
    );
    assert_eq!(r.status, 413);
    assert_eq!(
        r.body.as_deref(),
        Some(
            r#"{"type":"https://docs.api.video/reference/payload-too-large","title":"The request body is too large.","status":413,"detail":"The body may hold at most 16384 bytes."}"#
        )
    );
    // The auth endpoints read their bodies under the same limit.
    let key = format!(r#"{{"apiKey":"{KEY_A}","pad":""#);
    let mut exchange = key.clone();
    exchange.push_str(&"x".repeat(16 * 1024 - key.len() - 2));
    exchange.push_str(r#""}"#);
    assert_eq!(exchange.len(), 16 * 1024);
    assert_eq!(h.call("POST", "/auth/api-key", None, &exchange).status, 200);
    exchange.insert(exchange.len() - 2, 'x');
    assert_eq!(h.call("POST", "/auth/api-key", None, &exchange).status, 413);
}

fn list_status(h: &Harness, query: &str) -> (u16, serde_json::Value) {
    let r = h.call_as(KEY_A, "GET", &format!("/upload-tokens?{query}"), "");
    (r.status, json(&r))
}

#[test]
fn list_numbers_are_plain_digits_of_at_most_twelve_characters() {
    let h = Harness::new();
    // A sign is refused even where Rust's integer parser would take it (`%2B` is a real `+`;
    // a bare `+` in a query is a space).
    for (query, name) in [
        ("pageSize=%2B5", "pageSize"),
        ("currentPage=%2B1", "currentPage"),
        ("pageSize=0000000000001", "pageSize"),
        ("currentPage=0000000000001", "currentPage"),
        ("pageSize=", "pageSize"),
    ] {
        let (status, body) = list_status(&h, query);
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["name"], name, "{query}");
    }
    // Twelve characters, leading zeros included, are read as the number they write.
    let (status, body) = list_status(&h, "pageSize=000000000001&currentPage=000000000003");
    assert_eq!(status, 200);
    assert_eq!(body["pagination"]["pageSize"], 1);
    assert_eq!(body["pagination"]["currentPage"], 3);
    let (status, body) = list_status(&h, "currentPage=2147483647&pageSize=100");
    assert_eq!(status, 200);
    assert_eq!(body["pagination"]["currentPage"], 2_147_483_647);
}
