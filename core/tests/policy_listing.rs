//! Listing tokens by their metadata on the host, through the real dispatcher: the filters
//! keep the listing's order, pages, totals and links, and are how a backend revokes every
//! token of one user.

use serde_json::json as j;
use upload_tokens_core::storage::kv::OpCounts;
use upload_tokens_core::testing::harness::{json, Harness, KEY_A, KEY_B};

#[test]
fn listing_by_metadata_keeps_order_pages_totals_and_the_filter_in_links() {
    let mut h = Harness::new();
    let mut u1 = Vec::new();
    for i in 0..7 {
        let user = if i % 2 == 0 { "u1" } else { "u2" };
        let plan = if i < 4 { "pro" } else { "free" };
        let labels = j!([{"key": "user", "value": user}, {"key": "plan", "value": plan}]);
        let t = h.create_with(KEY_A, &j!({ "metadata": labels }));
        if user == "u1" {
            u1.push(t);
        }
        h.set_now(h.now + 1);
    }
    h.created(KEY_A, &j!({}));
    let r = h.call_as(
        KEY_B,
        "POST",
        "/upload-tokens",
        &j!({"metadata": [{"key": "user", "value": "u1"}]}).to_string(),
    );
    assert_eq!(r.status, 200);
    // Newest first, as always; only alpha's u1 tokens.
    let page = |query: &str| json(&h.call_as(KEY_A, "GET", &format!("/upload-tokens?{query}"), ""));
    let all = page("metadata[user]=u1");
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = u1.iter().map(String::as_str).collect();
    want.reverse();
    assert_eq!(ids, want);
    assert_eq!(all["pagination"]["itemsTotal"], 4);
    // Pages, and links that keep the filter.
    let second = page("metadata[user]=u1&sortOrder=asc&pageSize=3&currentPage=2");
    assert_eq!(second["pagination"]["itemsTotal"], 4);
    assert_eq!(second["data"][0]["token"], u1[3].as_str());
    let links = second["pagination"]["links"].as_array().unwrap();
    assert_eq!(
        links[0]["uri"],
        "/upload-tokens?sortOrder=asc&metadata%5Buser%5D=u1&currentPage=2&pageSize=3"
    );
    // Every pair must match.
    let both = page("metadata[user]=u1&metadata[plan]=pro");
    assert_eq!(both["pagination"]["itemsTotal"], 2);
    assert_eq!(page("metadata[user]=nobody")["pagination"]["itemsTotal"], 0);
    // A malformed filter is refused rather than ignored (which would list every token).
    let r = h.call_as(KEY_A, "GET", "/upload-tokens?metadata=u1", "");
    assert_eq!(
        (r.status, json(&r)["name"].as_str()),
        (400, Some("metadata"))
    );
    // Filtering costs the one index call a listing always costs, and no KV operation.
    let (r, ops, calls) =
        h.cost(|h| h.call_as(KEY_A, "GET", "/upload-tokens?metadata[user]=u1", ""));
    assert_eq!((r.status, ops, calls), (200, OpCounts::default(), 1));
}

#[test]
fn revoking_every_token_of_a_user_is_list_by_metadata_then_delete_each() {
    let h = Harness::new();
    let mut theirs = Vec::new();
    for i in 0..30 {
        let user = if i % 3 == 0 { "u1" } else { "other" };
        let t = h.create_with(KEY_A, &j!({"metadata": [{"key": "user", "value": user}]}));
        if user == "u1" {
            theirs.push(t);
        }
    }
    loop {
        let page = json(&h.call_as(
            KEY_A,
            "GET",
            "/upload-tokens?metadata[user]=u1&pageSize=100",
            "",
        ));
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        for t in data {
            let id = t["token"].as_str().unwrap();
            assert_eq!(h.token_status(KEY_A, "DELETE", id), 204);
        }
    }
    for t in &theirs {
        let r = h.upload(t, None, h.file("a.mp4", b"0123456789"));
        assert_eq!(r.status, 401);
    }
    assert_eq!(
        json(&h.call_as(KEY_A, "GET", "/upload-tokens", ""))["pagination"]["itemsTotal"],
        20
    );
}
