//! Races, cost and abuse on the host: two first chunks of one upload at once, a cleanup that
//! reaches old uploads behind many newer ones, refused callers counted per address, limits asked
//! before any byte is staged, and configuration refused when it is wrong.

use upload_tokens_core::config::Config;
use upload_tokens_core::http::{client_key, Request};
use upload_tokens_core::testing::harness::{
    basic, json, video_id, Harness, KEY_A, STALE_AFTER, T0,
};
use upload_tokens_core::testing::{block_on, MemoryKv, MemoryLimiter};
use upload_tokens_core::videos::cleanup::{remove_stale_uploads, MAX_REMOVED_PER_RUN};
use upload_tokens_core::videos::keys::{ObjectKey, OpenUpload};
use upload_tokens_core::videos::rules::UploadMode;

const MIB: usize = 1024 * 1024;

#[test]
fn two_first_chunks_of_one_upload_at_once_make_one_video() {
    let h = Harness::new();
    let t = h.create(KEY_A, 0);
    let part = vec![7u8; 5 * MIB];
    let first = video_id(&h.upload(&t, Some("part 1/2"), h.file("same.mp4", &part)));
    // The second request looked for the open upload just before the first registered it.
    let token = upload_tokens_core::ids::TokenId::parse(&t).unwrap();
    let open = ObjectKey::Open(OpenUpload::new(
        &token,
        UploadMode::Part,
        Some(2),
        "same.mp4",
    ));
    h.objects.hide_next_read(&open.to_string());
    let second = video_id(&h.upload(&t, Some("part 2/2"), h.file("same.mp4", b"tail")));
    assert_eq!(second, first, "the late one joins the video that won");
    let source = h.objects.bytes(&format!("videos/{first}/source")).unwrap();
    assert_eq!(source.len(), 5 * MIB + 4);
    let videos = h.object_keys(|k| k.ends_with("/meta.json"));
    assert_eq!(
        videos,
        vec![format!("videos/{first}/meta.json")],
        "no second video"
    );
    assert!(h.objects.keys().iter().all(|k| !k.starts_with("pending/")));
}

#[test]
fn the_cleanup_reaches_a_stale_upload_behind_many_newer_ones() {
    let mut h = Harness::new();
    // 1,500 recent unfinished uploads whose ids sort before the stale one.
    h.set_now(T0 + i64::from(STALE_AFTER));
    for i in 0..1500 {
        h.objects.insert_raw(&format!("pending/vi{i:0>22}"), b"");
    }
    h.set_now(T0);
    let stale = "vizzzzzzzzzzzzzzzzzzzzzz";
    h.objects.insert_raw(&format!("pending/{stale}"), b"");
    h.objects
        .insert_raw(&format!("videos/{stale}/meta.json"), b"{}");
    h.set_now(T0 + i64::from(STALE_AFTER) + 1);
    let removed = block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
    assert_eq!(removed, 1);
    assert!(!h.objects.keys().iter().any(|k| k.contains(stale)));
    assert_eq!(
        h.objects
            .keys()
            .iter()
            .filter(|k| k.starts_with("pending/"))
            .count(),
        1500
    );
}

#[test]
fn a_cleanup_run_removes_a_bounded_number_and_the_next_run_goes_on() {
    let mut h = Harness::new();
    for i in 0..(MAX_REMOVED_PER_RUN + 30) {
        h.objects.insert_raw(&format!("incoming/dead-{i:04}"), b"x");
    }
    h.set_now(T0 + i64::from(STALE_AFTER));
    let first = block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
    let second = block_on(remove_stale_uploads(&h.objects, h.now, STALE_AFTER)).unwrap();
    assert_eq!((first, second), (MAX_REMOVED_PER_RUN, 30));
    assert!(h.objects.keys().is_empty());
}

#[test]
fn client_addresses_are_counted_by_ipv4_address_and_ipv6_64() {
    assert_eq!(client_key("192.0.2.7"), "addr:192.0.2.7");
    assert_eq!(client_key("::ffff:192.0.2.7"), "addr:192.0.2.7");
    assert_eq!(
        client_key("2001:db8:1:2:aaaa::1"),
        client_key("2001:0db8:0001:0002:ffff:ffff:ffff:fffe")
    );
    assert_eq!(client_key("2001:db8:1:2::1"), "addr:2001:db8:1:2::/64");
    assert_ne!(client_key("2001:db8:1:2::1"), client_key("2001:db8:1:3::1"));
    assert_eq!(client_key(""), "addr:");
}

fn call_from(h: &Harness, addr: &str, auth: &str) -> u16 {
    let req = Request {
        method: "GET",
        path: "/upload-tokens",
        authorization: Some(auth),
        client_addr: addr,
        ..Request::default()
    };
    h.send(&req, &b""[..]).status
}

#[test]
fn failed_authentication_is_throttled_per_address_and_others_are_unaffected() {
    // The harness's auth limit: 30 per address per window (the default), here 3.
    let h = Harness::with(MemoryLimiter::new(3), MemoryKv::new(T0));
    let bad = basic("guessed-key-000000000");
    let statuses: Vec<u16> = (0..5)
        .map(|i| call_from(&h, &format!("2001:db8::{i}"), &bad))
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429], "one /64, five guesses");
    let r = {
        let req = Request {
            method: "GET",
            path: "/upload-tokens",
            authorization: Some(&bad),
            client_addr: "2001:db8::9",
            ..Request::default()
        };
        h.send(&req, &b""[..])
    };
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());
    assert_eq!(r.header("X-RateLimit-Limit"), Some("30"));
    // Another address guesses on, and a right key from anywhere still works.
    assert_eq!(call_from(&h, "198.51.100.1", &bad), 401);
    assert_eq!(call_from(&h, "2001:db8::1", &basic(KEY_A)), 200);
    // Refused upload tokens count too.
    let refused: Vec<u16> = (0..4)
        .map(|_| {
            let req = Request {
                method: "POST",
                path: "/upload",
                query: "token=toUnknownUnknownUnknown1",
                client_addr: "203.0.113.5",
                ..Request::default()
            };
            h.send(&req, &b""[..]).status
        })
        .collect();
    assert_eq!(refused, [401, 401, 401, 429]);
}

#[test]
fn an_upload_over_its_project_limit_stages_nothing() {
    // The limiter allows 3 calls per project: one create, then two uploads.
    let h = Harness::with(MemoryLimiter::new(3), MemoryKv::new(T0));
    let t = h.create(KEY_A, 0);
    assert_eq!(h.upload(&t, None, h.file("a.mp4", b"a")).status, 201);
    assert_eq!(h.upload(&t, None, h.file("b.mp4", b"b")).status, 201);
    let before = h.objects.total_ops();
    let r = h.upload(&t, None, h.file("c.mp4", &vec![1u8; 6 * MIB]));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        h.objects.total_ops(),
        before,
        "nothing was staged or read in R2"
    );
    assert!(!h.objects.keys().iter().any(|k| k.starts_with("incoming/")));
}

#[test]
fn every_var_is_validated_and_a_wrong_one_is_named_never_the_key() {
    let base = [
        ("API_KEYS", "acme:acme-key-000000000001"),
        ("AUTH_SIGNING_KEY", "signing-key-0123456789abcdef0123456789"),
    ];
    let config = |extra: &[(&str, &str)]| {
        let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        Config::from_vars(|n| {
            vars.iter()
                .rev()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    assert_eq!(config(&[]).unwrap().upload_stale_after, 86_400);
    assert_eq!(
        config(&[("UPLOAD_STALE_AFTER", "600")])
            .unwrap()
            .upload_stale_after,
        600
    );
    let refused = |name: &str, value: &str, named: &str| {
        let Err(e) = config(&[(name, value)]) else {
            panic!("{name}={value} accepted");
        };
        assert_eq!(e.status(), 500);
        let detail = e.log_detail.clone().unwrap();
        assert!(detail.contains(named), "{name}={value}: {detail}");
        assert!(
            !detail.contains("key-with") && !detail.contains("s3cr3t"),
            "{detail}"
        );
    };
    for (name, values) in [
        ("UPLOAD_STALE_AFTER", &["0", "-1", "2592001", "one day"][..]),
        ("ACCESS_TOKEN_TTL", &["0", "86401"]),
        ("REFRESH_TOKEN_TTL", &["59", "31536001"]),
    ] {
        for value in values {
            refused(name, value, name);
        }
    }
    refused(
        "API_KEYS",
        "acme:key-with:colon-000000001",
        "API_KEYS entry 1",
    );
    refused(
        "API_KEYS",
        "acme:acme-key-000000000001,beta:s3cr3t",
        "API_KEYS entry 2",
    );
    // The bounds themselves are accepted.
    for (name, value) in [
        ("UPLOAD_STALE_AFTER", "2592000"),
        ("ACCESS_TOKEN_TTL", "1"),
        ("ACCESS_TOKEN_TTL", "86400"),
        ("REFRESH_TOKEN_TTL", "60"),
        ("REFRESH_TOKEN_TTL", "31536000"),
    ] {
        assert!(config(&[(name, value)]).is_ok(), "{name}={value}");
    }
}

#[test]
fn every_answer_of_upload_carries_cors_a_405_and_a_404_included() {
    let h = Harness::new();
    for (method, path, status) in [
        ("GET", "/upload", 405),
        ("PUT", "/upload", 405),
        ("DELETE", "/upload/", 404),
        ("POST", "/upload", 401),
        ("OPTIONS", "/upload", 204),
    ] {
        let req = Request {
            method,
            path,
            client_addr: "192.0.2.1",
            ..Request::default()
        };
        let r = h.send(&req, &b""[..]);
        assert_eq!(r.status, status, "{method} {path}");
        assert_eq!(
            r.header("Access-Control-Allow-Origin"),
            Some("*"),
            "{method} {path}"
        );
    }
    let other = h.call("PUT", "/upload-tokens", None, "");
    assert_eq!(other.status, 405);
    assert_eq!(other.header("Access-Control-Allow-Origin"), None);
}

fn refresh(h: &Harness, token: &serde_json::Value) -> upload_tokens_core::http::Response {
    let body = serde_json::json!({ "refreshToken": token }).to_string();
    h.call("POST", "/auth/refresh", None, &body)
}

#[test]
fn a_refresh_token_works_once_and_its_reuse_ends_the_whole_session() {
    let h = Harness::new();
    let first = h.login(KEY_A);
    let second = refresh(&h, &first["refresh_token"]);
    assert_eq!(second.status, 200);
    let second = json(&second);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The first one again (say, a stolen copy): refused, and the session is over.
    let reused = refresh(&h, &first["refresh_token"]);
    assert_eq!(reused.status, 400);
    assert!(json(&reused)["type"]
        .as_str()
        .unwrap()
        .ends_with("authentication-invalid-user-credentials"));
    assert_eq!(
        refresh(&h, &second["refresh_token"]).status,
        400,
        "the chain ended"
    );
    // Another session of the same key is not affected.
    let other = h.login(KEY_A);
    assert_eq!(refresh(&h, &other["refresh_token"]).status, 200);
}

#[test]
fn a_session_ends_refresh_token_ttl_after_the_api_key_call_however_often_refreshed() {
    // The harness's REFRESH_TOKEN_TTL is the default, 30 days; access tokens last an hour.
    let mut h = Harness::new();
    let mut pair = h.login(KEY_A);
    let thirty_days = 30 * 24 * 3600;
    for day in 1..30 {
        h.set_now(T0 + day * 24 * 3600);
        let r = refresh(&h, &pair["refresh_token"]);
        assert_eq!(r.status, 200, "day {day}");
        pair = json(&r);
    }
    // On day 29.99 an access token lasts only until the session's end.
    h.set_now(T0 + thirty_days - 600);
    let r = refresh(&h, &pair["refresh_token"]);
    assert_eq!(r.status, 200);
    pair = json(&r);
    assert_eq!(pair["expires_in"], 600);
    h.set_now(T0 + thirty_days);
    assert_eq!(refresh(&h, &pair["refresh_token"]).status, 400);
    let bearer = format!("Bearer {}", pair["access_token"].as_str().unwrap());
    assert_eq!(
        h.call("GET", "/upload-tokens", Some(&bearer), "").status,
        401
    );
}
