//! The token and auth endpoints end to end on the host: real handlers, real store logic, over
//! the in-memory KV with an injected clock.

use serde_json::Value;
use upload_tokens_core::http::{query_param, split_url, Response};
use upload_tokens_core::ids::TokenId;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{TokenIndex, TokenStatus};
use upload_tokens_core::storage::kv::{Op, OpCounts};
use upload_tokens_core::testing::harness::{
    basic, json, Harness, KEY_A, KEY_A2, KEY_B, STALE_AFTER, T0,
};
use upload_tokens_core::testing::{block_on, IndexFault, MemoryKv, MemoryLimiter};

fn create(h: &Harness, key: &str, ttl: u32) -> String {
    h.create(key, ttl)
}

fn listed(h: &Harness, key: &str, query: &str) -> Vec<String> {
    h.listed(key, query)
}

#[test]
fn create_get_list_delete_round_trip() {
    let h = Harness::new();
    let (r, ops, index_calls) =
        h.cost(|h| h.call_as(KEY_A, "POST", "/upload-tokens", r#"{"ttl":3600}"#));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    // The project's first use of its index also imports its legacy KV index: one list.
    assert_eq!(
        (ops, index_calls),
        (
            OpCounts {
                writes: 1,
                lists: 1,
                ..OpCounts::default()
            },
            1
        )
    );
    let body = json(&r);
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["ttl"], 3600);
    assert_eq!(body["createdAt"], "2027-01-15T08:00:00+00:00");
    assert_eq!(body["expiresAt"], "2027-01-15T09:00:00+00:00");

    let (r, ops) = h.ops(|h| h.call_as(KEY_A2, "GET", &format!("/upload-tokens/{token}"), ""));
    assert_eq!(r.status, 200);
    assert_eq!(json(&r), body);
    assert_eq!(
        ops,
        OpCounts {
            reads: 1,
            ..OpCounts::default()
        }
    );

    assert_eq!(listed(&h, KEY_A, ""), vec![token.clone()]);

    let (r, ops, index_calls) =
        h.cost(|h| h.call_as(KEY_A, "DELETE", &format!("/upload-tokens/{token}"), ""));
    assert_eq!(r.status, 204);
    assert_eq!(r.body, None);
    assert_eq!(
        (ops, index_calls),
        (
            OpCounts {
                deletes: 1,
                ..OpCounts::default()
            },
            1
        )
    );

    assert_eq!(h.token_status(KEY_A, "GET", &token), 404);
    assert_eq!(h.token_status(KEY_A, "DELETE", &token), 404);
    assert!(listed(&h, KEY_A, "").is_empty());
    assert!(h.kv().keys().is_empty());
}

#[test]
fn empty_bodies_make_never_expiring_tokens() {
    let h = Harness::new();
    for body in ["", "{}", r#"{"ttl":null}"#] {
        let r = h.call_as(KEY_A, "POST", "/upload-tokens", body);
        assert_eq!(r.status, 200);
        assert_eq!(json(&r)["expiresAt"], Value::Null);
        assert_eq!(json(&r)["ttl"], 0);
    }
}

#[test]
fn bad_bodies_are_refused_and_store_nothing() {
    let h = Harness::new();
    let cases: [(&str, u16); 6] = [
        (r#"{"ttl":-1}"#, 400),
        (r#"{"ttl":2147483648}"#, 400),
        (r#"{"ttl":"60"}"#, 400),
        ("{not json", 400),
        ("[1]", 400),
        (&"x".repeat(16 * 1024 + 1), 413),
    ];
    for (body, status) in cases {
        let r = h.call_as(KEY_A, "POST", "/upload-tokens", body);
        assert_eq!(r.status, status, "{body:.40}");
        let p = json(&r);
        assert_eq!(p["status"], status);
        assert!(p["type"]
            .as_str()
            .unwrap()
            .starts_with("https://docs.api.video/reference/"));
    }
    assert!(h.kv().keys().is_empty());
    assert_eq!(h.kv().counts().writes, 0);
}

#[test]
fn malformed_ids_are_404_without_any_kv_read() {
    let h = Harness::new();
    for id in [
        "nope",
        "to123",
        "vi1tcmSFHeYY5KzyhOqVKMKb",
        "to1tcmSFHeYY5KzyhOqVKM_b",
    ] {
        for method in ["GET", "DELETE"] {
            let (r, ops, index_calls) =
                h.cost(|h| h.call_as(KEY_A, method, &format!("/upload-tokens/{id}"), ""));
            assert_eq!(r.status, 404);
            assert_eq!(json(&r)["name"], "uploadToken");
            assert_eq!((ops, index_calls), (OpCounts::default(), 0));
        }
    }
}

#[test]
fn projects_never_see_each_others_tokens() {
    let h = Harness::new();
    let a = create(&h, KEY_A, 0);
    let b = create(&h, KEY_B, 0);
    let not_found_for_b = h.call_as(KEY_B, "GET", &format!("/upload-tokens/{a}"), "");
    let missing = h.call_as(KEY_B, "GET", "/upload-tokens/to0000000000000000000000", "");
    assert_eq!(not_found_for_b.status, 404);
    assert_eq!(
        not_found_for_b.body, missing.body,
        "a foreign token looks exactly like a missing one"
    );
    assert_eq!(h.token_status(KEY_B, "DELETE", &a), 404);
    assert_eq!(listed(&h, KEY_B, ""), vec![b.clone()]);
    assert_eq!(listed(&h, KEY_A, ""), vec![a.clone()]);
    let r = h.call_as(KEY_B, "GET", "/upload-tokens", "");
    assert_eq!(json(&r)["pagination"]["itemsTotal"], 1);
    assert_eq!(h.token_status(KEY_A, "GET", &a), 200);
}

#[test]
fn tokens_expire_on_time_even_below_kv_minimum() {
    let mut h = Harness::new();
    let one = create(&h, KEY_A, 1);
    let fifty_nine = create(&h, KEY_A, 59);
    let hour = create(&h, KEY_A, 3600);
    h.set_now(T0 + 1);
    assert_eq!(h.token_status(KEY_A, "GET", &one), 404);
    assert_eq!(h.token_status(KEY_A, "GET", &fifty_nine), 200);
    h.set_now(T0 + 59);
    assert_eq!(h.token_status(KEY_A, "GET", &fifty_nine), 404);
    assert_eq!(h.token_status(KEY_A, "DELETE", &fifty_nine), 404);
    assert_eq!(listed(&h, KEY_A, ""), vec![hour.clone()]);
    let r = h.call_as(KEY_A, "GET", "/upload-tokens", "");
    assert_eq!(json(&r)["pagination"]["itemsTotal"], 1);
    // KV itself drops the records the uploads' stale time after max(ttl, 60) s.
    assert_eq!(h.kv().keys().len(), 3);
    h.set_now(T0 + 60 + i64::from(STALE_AFTER) - 1);
    assert_eq!(h.kv().keys().len(), 3);
    h.set_now(T0 + 60 + i64::from(STALE_AFTER));
    assert_eq!(h.kv().keys().len(), 1);
}

#[test]
fn listing_costs_one_index_call_and_no_kv_operation_at_any_size() {
    for n in [0usize, 1, 999, 1000, 1001, 2500] {
        let h = Harness::new();
        for _ in 0..n {
            create(&h, KEY_A, 0);
        }
        listed(&h, KEY_A, ""); // the first use, which imports the legacy KV index
        for query in [
            "pageSize=100",
            "pageSize=7&currentPage=3&sortBy=ttl&sortOrder=asc",
        ] {
            let (r, ops, index_calls) =
                h.cost(|h| h.call_as(KEY_A, "GET", &format!("/upload-tokens?{query}"), ""));
            assert_eq!(r.status, 200);
            assert_eq!(json(&r)["pagination"]["itemsTotal"], n);
            assert_eq!((ops, index_calls), (OpCounts::default(), 1), "n = {n}");
        }
    }
}

#[test]
fn pages_walk_every_token_once_in_every_order() {
    let mut h = Harness::new();
    let mut made = Vec::new();
    for i in 0..150u32 {
        // Several tokens per second, and a mix of lifetimes.
        h.set_now(T0 + i64::from(i / 4));
        made.push(create(&h, KEY_A, [0, 3600, 120, 7200][i as usize % 4]));
    }
    h.set_now(T0 + 40);
    for sort_by in ["createdAt", "ttl"] {
        for order in ["asc", "desc"] {
            let mut seen = Vec::new();
            let mut prev: Option<Vec<String>> = None;
            for page in 1..=7 {
                let q =
                    format!("sortBy={sort_by}&sortOrder={order}&currentPage={page}&pageSize=25");
                let r = h.call_as(KEY_A, "GET", &format!("/upload-tokens?{q}"), "");
                let body = json(&r);
                assert_eq!(body["pagination"]["pagesTotal"], 6);
                for t in body["data"].as_array().unwrap() {
                    let cur = sort_key(t, sort_by);
                    if let Some(p) = &prev {
                        let ord = p.cmp(&cur);
                        assert!(
                            if order == "asc" {
                                ord.is_lt()
                            } else {
                                ord.is_gt()
                            },
                            "{sort_by} {order}: {p:?} then {cur:?}"
                        );
                    }
                    prev = Some(cur);
                    seen.push(t["token"].as_str().unwrap().to_owned());
                }
            }
            let mut sorted_seen = seen.clone();
            sorted_seen.sort();
            sorted_seen.dedup();
            let mut all = made.clone();
            all.sort();
            assert_eq!(seen.len(), 150);
            assert_eq!(sorted_seen, all);
        }
    }
}

/// The documented order, as a client sees it in the JSON: RFC 3339 strings in one offset
/// compare as text; a `null` expiry is the longest-lived; ties go to createdAt, then token.
fn sort_key(t: &Value, sort_by: &str) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or("~").to_owned();
    let mut key = Vec::new();
    if sort_by == "ttl" {
        key.push(text(&t["expiresAt"]));
    }
    key.push(text(&t["createdAt"]));
    key.push(text(&t["token"]));
    key
}

fn status(h: &Harness, method: &str, token: &str, key: &str) -> u16 {
    h.call_as(key, method, &format!("/upload-tokens/{token}"), "")
        .status
}

fn index_status(h: &Harness, token: &str) -> TokenStatus {
    let alpha = ProjectId::parse("alpha").unwrap();
    let token = TokenId::parse(token).unwrap();
    block_on(h.index.status(&alpha, &token, h.now)).unwrap()
}

#[test]
fn a_delete_whose_record_removal_fails_is_finished_by_a_retry() {
    let h = Harness::new();
    let t = create(&h, KEY_A, 0);
    // The index forgets the token, then removing the record fails.
    h.kv().fail(Op::Delete, 0);
    let r = h.call_as(KEY_A, "DELETE", &format!("/upload-tokens/{t}"), "");
    assert_eq!(r.status, 500);
    assert_eq!(json(&r)["title"], "An internal error occurred.");
    let log = r.log.as_deref().unwrap();
    assert!(log.contains("injected Delete failure on tok:to…"), "{log}");
    assert!(!log.contains(&t), "the token reached the log: {log}");
    assert!(!r.body.as_deref().unwrap().contains("injected"));
    // Already revoked: out of the listing, and it can no longer upload.
    assert!(listed(&h, KEY_A, "").is_empty());
    assert_eq!(index_status(&h, &t), TokenStatus::Absent);
    // The retry finds the record and finishes.
    assert_eq!(status(&h, "DELETE", &t, KEY_A), 204);
    assert!(h.kv().keys().iter().all(|k| !k.starts_with("tok:")));
    assert_eq!(status(&h, "GET", &t, KEY_A), 404);
    assert_eq!(status(&h, "DELETE", &t, KEY_A), 404);
}

#[test]
fn a_delete_whose_index_call_fails_changes_nothing_or_revokes() {
    for fault in [IndexFault::Request, IndexFault::Reply] {
        let h = Harness::new();
        let t = create(&h, KEY_A, 0);
        h.index.transport().fail(fault, 0);
        assert_eq!(status(&h, "DELETE", &t, KEY_A), 500, "{fault:?}");
        match fault {
            // Lost on its way: nothing changed.
            IndexFault::Request => {
                assert_eq!(listed(&h, KEY_A, ""), vec![t.clone()]);
                assert_eq!(index_status(&h, &t), TokenStatus::Active);
            }
            // Carried out, answer lost: revoked, the record still there.
            IndexFault::Reply => {
                assert!(listed(&h, KEY_A, "").is_empty());
                assert_eq!(index_status(&h, &t), TokenStatus::Absent);
                assert_eq!(status(&h, "GET", &t, KEY_A), 200);
            }
        }
        assert_eq!(status(&h, "DELETE", &t, KEY_A), 204, "{fault:?}: retry");
        assert_eq!(status(&h, "GET", &t, KEY_A), 404);
        assert_eq!(index_status(&h, &t), TokenStatus::Absent);
    }
}

#[test]
fn an_interrupted_create_never_leaves_a_token_that_can_upload_unlisted() {
    // The record is written first; the index call fails on its way or on its answer.
    for fault in [IndexFault::Request, IndexFault::Reply] {
        let h = Harness::new();
        create(&h, KEY_A, 0); // the project's index is in use
        h.index.transport().fail(fault, 0);
        let r = h.call_as(KEY_A, "POST", "/upload-tokens", "{}");
        assert_eq!(r.status, 500, "{fault:?}");
        let records: Vec<String> = h
            .kv()
            .keys()
            .into_iter()
            .filter_map(|k| k.strip_prefix("tok:").map(str::to_owned))
            .collect();
        assert_eq!(records.len(), 2);
        let listing = listed(&h, KEY_A, "");
        for t in &records {
            // Whatever was left: what can upload is listed, and the owner can revoke it.
            let can_upload = index_status(&h, t) == TokenStatus::Active;
            assert_eq!(can_upload, listing.contains(t), "{fault:?}");
            assert_eq!(status(&h, "DELETE", t, KEY_A), 204, "{fault:?}");
            assert_eq!(index_status(&h, t), TokenStatus::Absent);
            assert_eq!(status(&h, "GET", t, KEY_A), 404);
        }
        assert!(listed(&h, KEY_A, "").is_empty());
        // A retried create just works.
        let again = create(&h, KEY_A, 0);
        assert_eq!(listed(&h, KEY_A, ""), vec![again]);
    }
}

#[test]
fn a_create_whose_record_write_fails_leaves_nothing() {
    let h = Harness::new();
    h.kv().fail(Op::Write, 0);
    let r = h.call_as(KEY_A, "POST", "/upload-tokens", "{}");
    assert_eq!(r.status, 500);
    assert!(h.kv().keys().iter().all(|k| !k.starts_with("tok:")));
    assert!(listed(&h, KEY_A, "").is_empty());
}

#[test]
fn store_failures_are_generic_500s_with_the_detail_logged() {
    let h = Harness::new();
    h.index.transport().fail(IndexFault::Request, 0);
    let r = h.call_as(KEY_A, "GET", "/upload-tokens", "");
    assert_eq!(r.status, 500);
    assert_eq!(
        json(&r),
        serde_json::json!({"type":"https://docs.api.video/reference/internal-error","title":"An internal error occurred.","status":500})
    );
    // The log line names the request, as the answer's X-Request-Id does.
    let id = r.header("X-Request-Id").expect("a request id").to_owned();
    let prefix = format!("request {id}: listing tokens: injected failure: command to the index");
    assert!(r.log.unwrap().starts_with(&prefix));
}

#[test]
fn missing_or_wrong_credentials_are_401() {
    let h = Harness::new();
    for auth in [
        None,
        Some("Basic"),
        Some("Basic Zm9v"),
        Some("Bearer x.y.z"),
        Some(basic("alpha-key-000000000X").as_str()),
    ] {
        for (method, path) in [
            ("GET", "/upload-tokens"),
            ("POST", "/upload-tokens"),
            ("GET", "/upload-tokens/to0000000000000000000000"),
            ("DELETE", "/upload-tokens/to0000000000000000000000"),
        ] {
            let r = h.call(method, path, auth, "{}");
            assert_eq!(r.status, 401, "{method} {path} {auth:?}");
            assert!(r.header("WWW-Authenticate").is_some());
            assert_eq!(json(&r)["status"], 401);
        }
    }
    assert_eq!(h.kv().counts(), OpCounts::default());
}

/// `POST path` (an auth endpoint) with the JSON body `{"field":"value"}`.
fn exchange(h: &Harness, path: &str, field: &str, value: &str) -> Response {
    h.call("POST", path, None, &format!(r#"{{"{field}":"{value}"}}"#))
}

/// The status of `GET /upload-tokens` with `Authorization: Bearer token`.
fn list_status_with_bearer(h: &Harness, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    h.call("GET", "/upload-tokens", Some(&auth), "").status
}

#[test]
fn bearer_flow_with_refresh() {
    let mut h = Harness::new();
    let r = exchange(&h, "/auth/api-key", "apiKey", KEY_B);
    assert_eq!(r.status, 200);
    let pair = json(&r);
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 3600);
    let access = pair["access_token"].as_str().unwrap();
    let t = h.call(
        "POST",
        "/upload-tokens",
        Some(&format!("Bearer {access}")),
        "{}",
    );
    assert_eq!(t.status, 200);
    assert_eq!(listed(&h, KEY_B, "").len(), 1);

    h.set_now(T0 + 3600);
    assert_eq!(list_status_with_bearer(&h, access), 401);
    let refresh = pair["refresh_token"].as_str().unwrap();
    // A refresh token is not an access token.
    assert_eq!(list_status_with_bearer(&h, refresh), 401);
    let r = exchange(&h, "/auth/refresh", "refreshToken", refresh);
    assert_eq!(r.status, 200);
    let next = json(&r)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(list_status_with_bearer(&h, &next), 200);
    // An access token is not a refresh token.
    let r = exchange(&h, "/auth/refresh", "refreshToken", access);
    assert_eq!(r.status, 400);
}

#[test]
fn auth_endpoints_answer_bad_input_as_the_spec_shows() {
    let h = Harness::new();
    let r = exchange(&h, "/auth/api-key", "apiKey", "not-a-key");
    assert_eq!(r.status, 400);
    assert_eq!(
        json(&r),
        serde_json::json!({"type":"https://docs.api.video/reference/authentication-invalid-user-credentials","title":"The user credentials were incorrect.","status":400,"name":""})
    );
    for body in ["{}", r#"{"apiKey":1}"#] {
        let r = h.call("POST", "/auth/api-key", None, body);
        assert_eq!(
            (r.status, json(&r)["name"].clone()),
            (400, Value::from("apiKey"))
        );
    }
    assert_eq!(
        exchange(&h, "/auth/refresh", "refreshToken", "a.b.c").status,
        400
    );
    assert_eq!(h.call("POST", "/auth/refresh", None, "[]").status, 400);
}

#[test]
fn rate_limits_answer_429_per_project_and_reset() {
    let h = Harness::with(MemoryLimiter::new(5), MemoryKv::new(T0));
    for _ in 0..5 {
        let r = h.call_as(KEY_A, "GET", "/upload-tokens", "");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("X-RateLimit-Limit"), Some("5"));
        assert_eq!(r.header("X-RateLimit-Remaining"), None);
    }
    let r = h.call_as(KEY_A2, "POST", "/upload-tokens", "{}");
    assert_eq!(r.status, 429);
    assert_eq!(
        json(&r),
        serde_json::json!({"type":"https://docs.api.video/reference/too-many-requests","title":"Too many requests.","status":429})
    );
    assert_eq!(r.header("X-RateLimit-Limit"), Some("5"));
    assert_eq!(r.header("X-RateLimit-Retry-After"), Some("10"));
    assert!(h.kv().keys().is_empty(), "a refused create stores nothing");
    assert_eq!(h.call_as(KEY_B, "GET", "/upload-tokens", "").status, 200);
    h.limiter.reset();
    assert_eq!(h.call_as(KEY_A, "GET", "/upload-tokens", "").status, 200);
}

#[test]
fn a_failing_limiter_lets_requests_through_and_logs() {
    let h = Harness::with(MemoryLimiter::failing(), MemoryKv::new(T0));
    let r = h.call_as(KEY_A, "GET", "/upload-tokens", "");
    assert_eq!(r.status, 200);
    assert!(r.log.unwrap().contains("rate limiter failed"));
}

#[test]
fn unknown_paths_and_wrong_methods() {
    let h = Harness::new();
    let r = h.call("GET", "/nope", None, "");
    assert_eq!(r.status, 404);
    assert!(json(&r)["type"]
        .as_str()
        .unwrap()
        .ends_with("/unrecognized-request-url"));
    for (method, path, allow) in [
        ("PUT", "/upload-tokens", "GET, POST"),
        (
            "PATCH",
            "/upload-tokens/to0000000000000000000000",
            "GET, DELETE",
        ),
        ("GET", "/auth/api-key", "POST"),
        ("DELETE", "/openapi.json", "GET"),
    ] {
        let r = h.call(method, path, None, "");
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("Allow"), Some(allow));
        assert_eq!(json(&r)["status"], 405);
    }
    for path in ["/upload-tokens/", "/upload-tokens/a/b", "/", ""] {
        assert_eq!(h.call("GET", path, None, "").status, 404, "{path}");
    }
}

#[test]
fn openapi_is_served_without_credentials() {
    let h = Harness::new();
    let r = h.call("GET", "/openapi.json", None, "");
    assert_eq!(r.status, 200);
    assert!(json(&r).is_object());
}

#[test]
fn urls_split_into_path_and_query() {
    assert_eq!(
        split_url("http://127.0.0.1:8787/upload-tokens?pageSize=10"),
        ("/upload-tokens", "pageSize=10")
    );
    assert_eq!(
        split_url("https://h/upload?token=to1#x"),
        ("/upload", "token=to1")
    );
    assert_eq!(split_url("https://h"), ("/", ""));
    assert_eq!(split_url("http://h/a/b?"), ("/a/b", ""));
    assert_eq!(
        query_param("a=1&token=to%41b&token=x", "token").as_deref(),
        Some("toAb")
    );
    assert_eq!(query_param("a=1", "token"), None);
}

#[test]
fn a_bad_query_costs_no_kv_operation() {
    let h = Harness::new();
    let (r, ops) = h.ops(|h| h.call_as(KEY_A, "GET", "/upload-tokens?pageSize=0", ""));
    assert_eq!(r.status, 400);
    assert_eq!(ops, OpCounts::default());
}

#[test]
fn a_limited_call_changes_nothing() {
    let h = Harness::with(MemoryLimiter::new(2), MemoryKv::new(T0));
    let t = create(&h, KEY_A, 0);
    assert_eq!(listed(&h, KEY_A, ""), vec![t.clone()]);
    for (method, path, body) in [
        ("POST", "/upload-tokens".to_owned(), "{}"),
        ("DELETE", format!("/upload-tokens/{t}"), ""),
    ] {
        let (r, ops) = h.ops(|h| h.call_as(KEY_A, method, &path, body));
        assert_eq!(r.status, 429, "{method}");
        assert_eq!((ops.writes, ops.deletes), (0, 0), "{method}");
    }
    h.limiter.reset();
    assert_eq!(listed(&h, KEY_A, ""), vec![t.clone()]);
    assert_eq!(index_status(&h, &t), TokenStatus::Active);
}
