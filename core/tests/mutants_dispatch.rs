//! Fixed answers for the dispatcher's shared steps: which refusals count as failed
//! authentication, and which answers of `/upload` name the request's origin.

use upload_tokens_core::http::cors::with_cors;
use upload_tokens_core::http::Response;
use upload_tokens_core::testing::harness::{basic, Harness, KEY_A, T0};
use upload_tokens_core::testing::{MemoryKv, MemoryLimiter};

#[test]
fn only_failed_authentication_counts_toward_an_address_limit() {
    let h = Harness::with(MemoryLimiter::new(3), MemoryKv::new(T0));
    // Three refusals of an authenticated caller (a bad query): 400s, not failed logins.
    let refused: Vec<u16> = (0..3)
        .map(|_| {
            h.call_as(KEY_A, "GET", "/upload-tokens?sortBy=size", "")
                .status
        })
        .collect();
    assert_eq!(refused, [400, 400, 400]);
    // So the address's first wrong key is still answered 401, and only its fourth is 429.
    let wrong = basic("guessed-key-000000000");
    let statuses: Vec<u16> = (0..4)
        .map(|_| h.call("GET", "/upload-tokens", Some(&wrong), "").status)
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429]);
}

fn answer_with(headers: &[(&'static str, &str)]) -> Response {
    let mut r = Response::json(201, "{}".to_owned());
    r.headers
        .extend(headers.iter().map(|(n, v)| (*n, (*v).to_owned())));
    r
}

#[test]
fn only_an_answer_marked_vary_origin_names_the_origin() {
    let origin = Some("https://app.example");
    let allow = |r: &Response| r.header("Access-Control-Allow-Origin").map(str::to_owned);
    // Marked: the origin itself, or nothing for a request without one.
    let marked = with_cors(answer_with(&[("Vary", "Origin")]), origin);
    assert_eq!(allow(&marked).as_deref(), Some("https://app.example"));
    assert_eq!(
        allow(&with_cors(answer_with(&[("Vary", "Origin")]), None)),
        None
    );
    // Anything else is `*`: another Vary, or another header whose value is "Origin".
    for headers in [
        &[][..],
        &[("Vary", "Accept-Encoding")][..],
        &[("X-Source", "Origin")][..],
    ] {
        let r = with_cors(answer_with(headers), origin);
        assert_eq!(allow(&r).as_deref(), Some("*"), "{headers:?}");
    }
}

#[test]
fn each_answer_states_the_figures_of_its_own_limit_and_some_of_none() {
    let h = Harness::new();
    let limit_of = |r: &Response| r.header("X-RateLimit-Limit").map(str::to_owned);
    // The harness's configuration: API 5 per project (RATE_LIMIT), auth 30 per address (the
    // default).
    let listing = h.call_as(KEY_A, "GET", "/upload-tokens", "");
    assert_eq!(limit_of(&listing).as_deref(), Some("5"));
    let login = h.call(
        "POST",
        "/auth/api-key",
        None,
        r#"{"apiKey":"alpha-key-0000000001"}"#,
    );
    assert_eq!(login.status, 200);
    assert_eq!(limit_of(&login).as_deref(), Some("30"));
    let refresh = h.call("POST", "/auth/refresh", None, r#"{"refreshToken":"x"}"#);
    assert_eq!(limit_of(&refresh).as_deref(), Some("30"));
    for (method, path) in [("GET", "/openapi.json"), ("OPTIONS", "/upload")] {
        let r = h.call(method, path, None, "");
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {}",
            r.status
        );
        assert_eq!(limit_of(&r), None, "{method} {path}");
    }
}
