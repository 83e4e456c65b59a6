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
