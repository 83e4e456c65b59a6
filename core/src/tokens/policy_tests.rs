//! Tests of token policies as callers send them: the create body's policy fields and the
//! listing's metadata filters.

use crate::tokens::policy::*;
use crate::tokens::query::{parse_create_body, Creation, ListQuery};

fn create(body: &str) -> Result<Creation, crate::http::problem::ApiError> {
    parse_create_body(body.as_bytes())
}

fn policy(body: &str) -> Policy {
    create(body)
        .unwrap_or_else(|e| panic!("{body}: {e:?}"))
        .policy
}

#[test]
fn no_policy_fields_and_nulls_make_the_empty_policy() {
    for body in [
        "",
        "{}",
        r#"{"ttl":60}"#,
        r#"{"maxUploads":null,"maxFileSize":null,"allowedOrigins":null,"metadata":null}"#,
        r#"{"metadata":[]}"#,
        r#"{"maxuploads":0,"origins":"*"}"#,
    ] {
        assert!(policy(body).is_none(), "{body}");
    }
}

#[test]
fn every_field_is_read_at_its_bounds() {
    let p = policy(
        r#"{"ttl":60,"maxUploads":1000000,"maxFileSize":5368709120,
            "allowedOrigins":["https://app.example.com","http://localhost:8080"],
            "metadata":[{"key":"user","value":"u1"},{"key":"plan","value":""}]}"#,
    );
    assert_eq!(
        p,
        Policy {
            max_uploads: Some(1_000_000),
            max_file_size: Some(5_368_709_120),
            allowed_origins: vec![
                "https://app.example.com".to_owned(),
                "http://localhost:8080".to_owned()
            ],
            metadata: vec![Metadata::new("user", "u1"), Metadata::new("plan", "")],
        }
    );
    let p = policy(r#"{"maxUploads":1,"maxFileSize":1}"#);
    assert_eq!((p.max_uploads, p.max_file_size), (Some(1), Some(1)));
    assert_eq!(create(r#"{"ttl":5,"maxUploads":2}"#).unwrap().ttl, 5);
}

#[test]
fn every_wrong_value_is_a_400_naming_its_field() {
    let entry = |key: &str, value: &str| format!(r#"{{"key":"{key}","value":"{value}"}}"#);
    let array = |items: Vec<String>| format!("[{}]", items.join(","));
    let texts = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    // Each an origin alone in `allowedOrigins`.
    let bad_origins = texts(&[
        "*",
        "https://*.a.example",
        "https://a.example/",
        "https://a.example/app",
        "https://a.example?x=1",
        "https://user@a.example",
        "a.example",
        "null",
        "https://a.example:0",
        "https://a.example:65536",
        "https://a.example:080",
        "https://a.example:",
        "https://-a.example",
        "https://a..example",
        "https://",
        "1https://a.example",
        "https://[]",
        "https://[::1",
        "https://exämple.com",
    ])
    .into_iter()
    .chain([
        format!("https://{}.example", "a".repeat(64)),
        format!("https://{}.example", vec!["a".repeat(60); 5].join(".")),
    ])
    .map(|origin| format!(r#"["{origin}"]"#));
    let too_many_origins = array(
        (0..11)
            .map(|i| format!("\"https://h{i}.example\""))
            .collect(),
    );
    let too_many_entries = array((0..21).map(|i| entry(&format!("k{i}"), "v")).collect());
    let cases = [
        (
            "maxUploads",
            texts(&[
                "0", "-1", "1000001", "1.5", "3.0", "1e2", r#""3""#, "true", "[3]",
            ]),
        ),
        (
            "maxFileSize",
            texts(&["0", "-5", "5368709121", "10.5", r#""1000""#, "{}"]),
        ),
        (
            "allowedOrigins",
            texts(&["[]", r#""https://a.example""#, "[1]", "[null]"])
                .into_iter()
                .chain(bad_origins)
                .chain([too_many_origins])
                .collect(),
        ),
        (
            "metadata",
            texts(&[
                "{}",
                r#""user=u1""#,
                "[1]",
                r#"[{"key":"a"}]"#,
                r#"[{"key":"a","value":1}]"#,
                r#"[{"key":1,"value":"a"}]"#,
                r#"[{"key":"a","value":null}]"#,
                r#"[{"key":"","value":"x"}]"#,
                r#"[{"key":"a","value":"x","extra":1}]"#,
                r#"[{"key":"a","value":"x"},{"key":"a","value":"y"}]"#,
            ])
            .into_iter()
            .chain([
                too_many_entries,
                array(vec![entry(&"k".repeat(65), "v")]),
                array(vec![entry("k", &"v".repeat(257))]),
            ])
            .collect(),
        ),
    ];
    for (name, values) in cases {
        for value in values {
            let body = format!(r#"{{"{name}":{value}}}"#);
            let e = create(&body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.problem.name, Some(name), "{body}");
            assert!(e.problem.type_uri.ends_with("/invalid-attribute"), "{body}");
        }
    }
}

#[test]
fn lengths_count_characters_not_bytes() {
    let key = "é".repeat(64);
    let value = "ü".repeat(256);
    let p = policy(&format!(
        r#"{{"metadata":[{{"key":"{key}","value":"{value}"}}]}}"#
    ));
    assert_eq!(p.metadata, vec![Metadata::new(&key, &value)]);
    let entries: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"key":"k{i}","value":"v"}}"#))
        .collect();
    assert_eq!(
        policy(&format!(r#"{{"metadata":[{}]}}"#, entries.join(",")))
            .metadata
            .len(),
        20
    );
}

#[test]
fn origins_are_kept_as_browsers_send_them_once_each() {
    let cases = [
        ("https://App.Example.COM", "https://app.example.com"),
        ("HTTPS://a.example:443", "https://a.example"),
        ("http://a.example:80", "http://a.example"),
        ("http://a.example:443", "http://a.example:443"),
        ("https://a.example:8443", "https://a.example:8443"),
        ("http://localhost:65535", "http://localhost:65535"),
        ("http://127.0.0.1:1", "http://127.0.0.1:1"),
        ("https://[::1]:8787", "https://[::1]:8787"),
        ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
        ("capacitor://localhost", "capacitor://localhost"),
        ("chrome-extension://abcdef", "chrome-extension://abcdef"),
        ("https://xn--exmple-cua.com", "https://xn--exmple-cua.com"),
    ];
    for (raw, want) in cases {
        assert_eq!(normalise_origin(raw).as_deref(), Some(want), "{raw}");
    }
    let label = "a".repeat(63);
    assert!(normalise_origin(&format!("https://{label}.example")).is_some());
    let p = policy(
        r#"{"allowedOrigins":["https://a.example","https://A.example:443","http://a.example"]}"#,
    );
    assert_eq!(p.allowed_origins, ["https://a.example", "http://a.example"]);
}

#[test]
fn an_origin_is_allowed_only_when_it_is_one_of_them_exactly() {
    let open = Policy::default();
    assert!(open.allows_origin(None));
    assert!(open.allows_origin(Some("https://anything.example")));
    let closed = policy(r#"{"allowedOrigins":["https://app.example","http://localhost:3000"]}"#);
    assert!(closed.allows_origin(Some("https://app.example")));
    assert!(closed.allows_origin(Some("http://localhost:3000")));
    for origin in [
        None,
        Some("https://app.example.evil"),
        Some("https://app.example:443"),
        Some("http://app.example"),
        Some("http://localhost:3001"),
        Some("null"),
        Some(""),
    ] {
        assert!(!closed.allows_origin(origin), "{origin:?}");
    }
}

#[test]
fn metadata_filters_are_read_from_the_query() {
    let q = ListQuery::parse(
        "metadata[user]=u1&pageSize=5&metadata%5Bplan%5D=pro+plus&metadata[empty]=",
    )
    .unwrap();
    assert_eq!(
        q.metadata,
        [
            Metadata::new("user", "u1"),
            Metadata::new("plan", "pro plus"),
            Metadata::new("empty", "")
        ]
    );
    assert_eq!(q.page_size, 5);
    let p = Policy {
        metadata: vec![
            Metadata::new("user", "u1"),
            Metadata::new("plan", "pro plus"),
        ],
        ..Policy::default()
    };
    assert!(!p.matches(&q.metadata));
    assert!(p.matches(&q.metadata[..2]));
    assert!(p.matches(&[]));
}

#[test]
fn every_wrong_metadata_filter_is_a_400_rather_than_ignored() {
    let twenty_one: Vec<String> = (0..21).map(|i| format!("metadata[k{i}]=v")).collect();
    let cases = [
        "metadata=u1".to_owned(),
        "metadata[]=u1".to_owned(),
        "metadata[user=u1".to_owned(),
        "metadatauser]=u1".to_owned(),
        "metadata[user]=a&metadata[user]=b".to_owned(),
        format!("metadata[{}]=v", "k".repeat(65)),
        format!("metadata[k]={}", "v".repeat(257)),
        twenty_one.join("&"),
    ];
    for query in cases {
        let e = ListQuery::parse(&query).unwrap_err();
        assert_eq!(e.status(), 400, "{query}");
        assert_eq!(e.problem.name, Some("metadata"), "{query}");
        assert!(e
            .problem
            .type_uri
            .ends_with("/request-invalid-query-parameter"));
    }
    let twenty: Vec<String> = (0..20).map(|i| format!("metadata[k{i}]=v")).collect();
    assert_eq!(
        ListQuery::parse(&twenty.join("&")).unwrap().metadata.len(),
        20
    );
}
