//! Fixed answers for a policy's origins at their bounds: ten origins but not eleven, an origin
//! of exactly 255 characters but not 256, and which bracketed hosts are IPv6 addresses.

use serde_json::{json, Value};
use upload_tokens_core::tokens::policy::{normalise_origin, Policy};

fn policy(body: Value) -> Result<Policy, u16> {
    Policy::from_body(body.as_object().unwrap()).map_err(|e| e.status())
}

#[test]
fn ten_origins_are_allowed_and_eleven_are_not() {
    let origins =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("https://app{i}.example")).collect() };
    let ten = policy(json!({ "allowedOrigins": origins(10) })).unwrap();
    assert_eq!(ten.allowed_origins.len(), 10);
    assert_eq!(
        policy(json!({ "allowedOrigins": origins(11) })).err(),
        Some(400)
    );
}

#[test]
fn an_origin_may_be_255_characters_long_and_no_longer() {
    // "https://" (8) + a host of labels of at most 63 characters + ".example" (8).
    let origin = |len: usize| {
        let host_len = len - 16;
        let labels: Vec<String> = (0..host_len.div_ceil(64))
            .map(|i| {
                let n = (host_len - i * 64).min(63);
                "a".repeat(n)
            })
            .collect();
        let o = format!("https://{}.example", labels.join("."));
        assert_eq!(o.len(), len);
        o
    };
    assert_eq!(normalise_origin(&origin(255)), Some(origin(255)));
    assert_eq!(normalise_origin(&origin(256)), None);
}

#[test]
fn a_bracketed_host_is_an_ipv6_address_or_nothing() {
    for ok in [
        "http://[::1]:8080",
        "https://[::ffff:192.0.2.1]",
        "https://[2001:DB8::1]",
    ] {
        assert!(normalise_origin(ok).is_some(), "{ok}");
    }
    for bad in [
        "http://[::g]",
        "http://[]",
        "http://[::1",
        "http://[fe80::1%eth0]",
    ] {
        assert_eq!(normalise_origin(bad), None, "{bad}");
    }
}

#[test]
fn a_file_limit_below_the_service_s_own_is_the_token_s_and_at_or_above_it_is_the_service_s() {
    use upload_tokens_core::videos::policy::FileLimit;
    use upload_tokens_core::videos::rules::MAX_CHUNK;
    let limit = |max: u64| {
        let p = policy(json!({ "maxFileSize": max })).unwrap();
        let l = FileLimit::of(Some(&p));
        let refusal = l.too_large();
        (
            l.bytes(),
            refusal.status(),
            refusal.problem.type_uri.clone(),
        )
    };
    let doc = |slug: &str| format!("https://docs.api.video/reference/{slug}");
    let token_s = doc("upload-token-max-file-size-exceeded");
    let service_s = doc("uploaded-file-too-large");
    assert_eq!(limit(MAX_CHUNK - 1), (MAX_CHUNK - 1, 413, token_s));
    assert_eq!(limit(MAX_CHUNK), (MAX_CHUNK, 400, service_s.clone()));
    assert_eq!(limit(MAX_CHUNK + 1), (MAX_CHUNK, 400, service_s.clone()));
    let none = FileLimit::of(None);
    assert_eq!(
        (none.bytes(), none.too_large().problem.type_uri.clone()),
        (MAX_CHUNK, service_s)
    );
}

#[test]
fn a_byte_range_upload_may_declare_exactly_max_file_size_and_not_a_byte_more() {
    use upload_tokens_core::testing::harness::{json as body_of, Harness, KEY_A};
    let h = Harness::new();
    let token = h.create_with(KEY_A, &json!({ "maxFileSize": 300 }));
    let data = vec![7u8; 301];
    let over = h.upload(&token, Some("bytes 0-300/301"), h.file("o.mp4", &data));
    assert_eq!(over.status, 413);
    assert_eq!(
        body_of(&over)["type"],
        "https://docs.api.video/reference/upload-token-max-file-size-exceeded"
    );
    let exact = h.upload(
        &token,
        Some("bytes 0-299/300"),
        h.file("e.mp4", &data[..300]),
    );
    assert_eq!(exact.status, 201, "{:?}", exact.body);
}
