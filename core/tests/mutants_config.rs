//! The bounds of every numeric var, each side of each bound, and what the accepted extremes do:
//! `ACCESS_TOKEN_TTL` 1..=86400 (README), `REFRESH_TOKEN_TTL` 60..=31536000 (one minute to a
//! year), the rate limits 1..=1000000 and their periods 10 or 60, `UPLOAD_STALE_AFTER`.

use std::collections::HashMap;
use upload_tokens_core::config::{upload_stale_after, Config, RateLimit};
use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::testing::harness::{Harness, KEY_A, T0};

const KEYS: (&str, &str) = ("API_KEYS", "p1:0123456789abcdef");
const SIGNING: (&str, &str) = ("AUTH_SIGNING_KEY", "0123456789abcdef0123456789abcdef");

fn config(extra: &[(&str, &str)]) -> Result<Config, ApiError> {
    let vars: HashMap<&str, &str> = [KEYS, SIGNING].iter().chain(extra).copied().collect();
    Config::from_vars(|name| vars.get(name).map(|v| (*v).to_owned()))
}

/// The reason a refused configuration gives the log.
fn refusal(extra: &[(&str, &str)]) -> String {
    let e = config(extra).err().expect("refused");
    assert_eq!(e.status(), 500);
    assert!(e.problem.type_uri.ends_with("/service-misconfigured"));
    e.log_detail.clone().expect("a reason for the log")
}

#[test]
fn access_token_ttl_is_one_second_to_a_day() {
    for (raw, want) in [("1", 1), ("86400", 86_400), (" 3600 ", 3600)] {
        let c = config(&[("ACCESS_TOKEN_TTL", raw)]).unwrap();
        assert_eq!(c.lifetimes.access, want, "{raw:?}");
    }
    assert_eq!(config(&[]).unwrap().lifetimes.access, 3600, "default");
    for raw in ["0", "86401", "-1", "1.5", "", "x", "4294967296"] {
        assert_eq!(
            refusal(&[("ACCESS_TOKEN_TTL", raw)]),
            "ACCESS_TOKEN_TTL must be an integer in 1..=86400",
            "{raw:?}"
        );
    }
}

#[test]
fn refresh_token_ttl_is_a_minute_to_a_year() {
    for (raw, want) in [("60", 60), ("31536000", 31_536_000), ("86400", 86_400)] {
        let c = config(&[("REFRESH_TOKEN_TTL", raw)]).unwrap();
        assert_eq!(c.lifetimes.refresh, want, "{raw:?}");
    }
    assert_eq!(
        config(&[]).unwrap().lifetimes.refresh,
        2_592_000,
        "default: 30 days"
    );
    for raw in ["59", "31536001", "0", "-60", "x"] {
        assert_eq!(
            refusal(&[("REFRESH_TOKEN_TTL", raw)]),
            "REFRESH_TOKEN_TTL must be an integer in 60..=31536000",
            "{raw:?}"
        );
    }
}

#[test]
fn rate_limits_and_periods_have_their_bounds() {
    let c = config(&[
        ("RATE_LIMIT", "1"),
        ("RATE_LIMIT_PERIOD", "10"),
        ("AUTH_RATE_LIMIT", "1000000"),
        ("AUTH_RATE_LIMIT_PERIOD", "60"),
    ])
    .unwrap();
    assert_eq!(
        c.api_limit,
        RateLimit {
            limit: 1,
            period: 10
        }
    );
    assert_eq!(
        c.auth_limit,
        RateLimit {
            limit: 1_000_000,
            period: 60
        }
    );
    let d = config(&[]).unwrap();
    assert_eq!(
        d.api_limit,
        RateLimit {
            limit: 600,
            period: 60
        }
    );
    assert_eq!(
        d.auth_limit,
        RateLimit {
            limit: 30,
            period: 60
        }
    );
    let cases = [
        (
            "RATE_LIMIT",
            "0",
            "RATE_LIMIT must be an integer in 1..=1000000",
        ),
        (
            "RATE_LIMIT",
            "1000001",
            "RATE_LIMIT must be an integer in 1..=1000000",
        ),
        (
            "AUTH_RATE_LIMIT",
            "0",
            "AUTH_RATE_LIMIT must be an integer in 1..=1000000",
        ),
        (
            "AUTH_RATE_LIMIT",
            "1000001",
            "AUTH_RATE_LIMIT must be an integer in 1..=1000000",
        ),
        (
            "RATE_LIMIT_PERIOD",
            "9",
            "RATE_LIMIT_PERIOD must be an integer in 10..=60",
        ),
        (
            "RATE_LIMIT_PERIOD",
            "61",
            "RATE_LIMIT_PERIOD must be an integer in 10..=60",
        ),
        (
            "RATE_LIMIT_PERIOD",
            "11",
            "RATE_LIMIT_PERIOD must be 10 or 60",
        ),
        (
            "RATE_LIMIT_PERIOD",
            "59",
            "RATE_LIMIT_PERIOD must be 10 or 60",
        ),
        (
            "AUTH_RATE_LIMIT_PERIOD",
            "30",
            "AUTH_RATE_LIMIT_PERIOD must be 10 or 60",
        ),
        (
            "AUTH_RATE_LIMIT_PERIOD",
            "0",
            "AUTH_RATE_LIMIT_PERIOD must be an integer in 10..=60",
        ),
    ];
    for (name, raw, reason) in cases {
        assert_eq!(refusal(&[(name, raw)]), reason, "{name}={raw}");
    }
}

#[test]
fn secrets_are_required_and_their_reasons_name_no_secret() {
    let none: HashMap<&str, &str> = HashMap::new();
    let e = Config::from_vars(|n| none.get(n).map(|v| (*v).to_owned()))
        .err()
        .unwrap();
    assert_eq!(
        e.log_detail.as_deref(),
        Some("API_KEYS is not set: no API key can be accepted")
    );
    // Blank is the same as not set.
    for blank in ["", "  ", " \t "] {
        assert_eq!(
            refusal(&[("API_KEYS", blank)]),
            "API_KEYS is not set: no API key can be accepted",
            "{blank:?}"
        );
    }
    // Only separators: set, but holding no key.
    assert_eq!(refusal(&[("API_KEYS", " , ,")]), "API_KEYS is empty");
    let only_keys: HashMap<&str, &str> = [KEYS].into_iter().collect();
    let e = Config::from_vars(|n| only_keys.get(n).map(|v| (*v).to_owned()))
        .err()
        .unwrap();
    assert_eq!(e.log_detail.as_deref(), Some("AUTH_SIGNING_KEY is not set"));
    let short = refusal(&[("AUTH_SIGNING_KEY", "0123456789abcdef0123456789abcde")]);
    assert_eq!(short, "AUTH_SIGNING_KEY must hold at least 32 bytes");
    assert!(!short.contains("0123456789abcdef"));
}

#[test]
fn upload_stale_after_defaults_to_a_day_and_refuses_what_is_not_a_time() {
    let of = |v: Option<&str>| upload_stale_after(|_| v.map(str::to_owned)).ok();
    assert_eq!(of(None), Some(86_400));
    assert_eq!(of(Some("60")), Some(60));
    assert_eq!(of(Some(" 120 ")), Some(120));
    assert_eq!(of(Some("x")), None);
    assert_eq!(of(Some("0")), None);
}

/// A harness whose configuration has these lifetimes.
fn with_lifetimes(access: &str, refresh: &str) -> Harness {
    let mut h = Harness::new();
    let vars: HashMap<&str, String> = [
        ("API_KEYS", format!("alpha:{KEY_A}")),
        (
            "AUTH_SIGNING_KEY",
            "test-signing-key-0123456789abcdef".to_owned(),
        ),
        ("ACCESS_TOKEN_TTL", access.to_owned()),
        ("REFRESH_TOKEN_TTL", refresh.to_owned()),
    ]
    .into_iter()
    .collect();
    h.config = Config::from_vars(|n| vars.get(n).cloned()).unwrap();
    h
}

fn exchange(h: &Harness) -> (String, String, u64) {
    let b = h.login(KEY_A);
    (
        format!("Bearer {}", b["access_token"].as_str().unwrap()),
        b["refresh_token"].as_str().unwrap().to_owned(),
        b["expires_in"].as_u64().unwrap(),
    )
}

fn refresh_status(h: &Harness, refresh: &str) -> u16 {
    h.call(
        "POST",
        "/auth/refresh",
        None,
        &format!(r#"{{"refreshToken":"{refresh}"}}"#),
    )
    .status
}

#[test]
fn the_shortest_and_longest_lifetimes_end_on_their_second() {
    for (access_ttl, refresh_ttl) in [(1, 60), (86_400, 31_536_000)] {
        let mut h = with_lifetimes(&access_ttl.to_string(), &refresh_ttl.to_string());
        let (access, refresh, expires_in) = exchange(&h);
        assert_eq!(expires_in, access_ttl as u64);
        let list_status = |h: &Harness| h.call("GET", "/upload-tokens", Some(&access), "").status;
        h.set_now(T0 + access_ttl - 1);
        assert_eq!(list_status(&h), 200, "access {access_ttl} s");
        h.set_now(T0 + access_ttl);
        assert_eq!(list_status(&h), 401, "access {access_ttl} s");
        h.set_now(T0 + refresh_ttl - 1);
        assert_eq!(refresh_status(&h, &refresh), 200, "refresh {refresh_ttl} s");
        h.set_now(T0 + refresh_ttl);
        assert_eq!(refresh_status(&h, &refresh), 400, "refresh {refresh_ttl} s");
    }
}
