//! Host tests of API keys, credentials and bearer tokens.
use super::*;
use crate::auth::keys::{parse_authorization, Credentials};
use base64::engine::general_purpose::STANDARD;

/// A pair for an API key, as `/auth/api-key` makes it (session `s1` starting `now`).
fn issue_for_key(
    s: &Signer,
    keys: &ApiKeys,
    api_key: &str,
    now: UnixSeconds,
    life: Lifetimes,
) -> Option<AccessTokenResponse> {
    let (entry, session) = s.session_for_key(keys, api_key, "s1".into(), now)?;
    Some(s.issue(entry, &session, now, life))
}

/// The next pair for a refresh token, as `/auth/refresh` makes it once the session allows.
fn refresh(
    s: &Signer,
    keys: &ApiKeys,
    token: &str,
    now: UnixSeconds,
    life: Lifetimes,
) -> Option<AccessTokenResponse> {
    let (entry, mut session) = s.verify_refresh(keys, token, now)?;
    session.seq += 1;
    Some(s.issue(entry, &session, now, life))
}

const LIFE: Lifetimes = Lifetimes {
    access: 3600,
    refresh: 86_400,
};

fn keys() -> ApiKeys {
    ApiKeys::parse(
        " alpha:alpha-key-0000000001 , alpha:alpha-key-0000000002,beta:beta-key-00000000001 ",
    )
    .unwrap()
}

fn signer() -> Signer {
    Signer::new(b"0123456789abcdef0123456789abcdef").unwrap()
}

#[test]
fn keys_map_to_their_projects_and_several_keys_may_share_one() {
    let k = keys();
    assert_eq!(
        k.project_of("alpha-key-0000000001").unwrap().as_str(),
        "alpha"
    );
    assert_eq!(
        k.project_of("alpha-key-0000000002").unwrap().as_str(),
        "alpha"
    );
    assert_eq!(
        k.project_of("beta-key-00000000001").unwrap().as_str(),
        "beta"
    );
    assert!(k.project_of("beta-key-00000000002").is_none());
    assert!(k.project_of("").is_none());
    assert!(k.project_of("alpha-key-000000000").is_none());
}

#[test]
fn bad_configurations_are_refused_without_echoing_keys() {
    for raw in [
        "",
        " , ",
        "nocolon",
        "bad id:key-0000000000000",
        "p:short",
        "a:k000000000000000,b:k000000000000000",
    ] {
        let err = ApiKeys::parse(raw)
            .err()
            .unwrap_or_else(|| panic!("{raw:?} accepted"));
        assert!(
            !err.contains("k000000000000000") && !err.contains("key-0000"),
            "{err}"
        );
    }
    assert!(Signer::new(b"too short").is_err());
}

#[test]
fn basic_and_bearer_headers_are_read() {
    // base64("alpha-key-0000000001:")
    let h = format!("Basic {}", STANDARD.encode("alpha-key-0000000001:"));
    assert_eq!(
        parse_authorization(&h),
        Some(Credentials::ApiKey("alpha-key-0000000001".into()))
    );
    let h = format!("basic {}", STANDARD.encode("k:ignored"));
    assert_eq!(
        parse_authorization(&h),
        Some(Credentials::ApiKey("k".into()))
    );
    assert_eq!(
        parse_authorization("Bearer abc.def"),
        Some(Credentials::Bearer("abc.def".into()))
    );
    for bad in [
        "",
        "Basic",
        "Basic !!!",
        "Bearer ",
        "Token abc",
        &format!("Basic {}", STANDARD.encode(":pw")),
    ] {
        assert_eq!(parse_authorization(bad), None, "{bad:?}");
    }
}

#[test]
fn an_access_token_authenticates_its_project_until_it_expires() {
    let (k, s) = (keys(), signer());
    let pair = issue_for_key(&s, &k, "beta-key-00000000001", 1000, LIFE).unwrap();
    assert_eq!(pair.token_type, "Bearer");
    assert_eq!(pair.expires_in, 3600);
    assert_eq!(
        s.project_of_access_token(&k, &pair.access_token, 1000)
            .unwrap()
            .as_str(),
        "beta"
    );
    assert!(s
        .project_of_access_token(&k, &pair.access_token, 4599)
        .is_some());
    assert!(s
        .project_of_access_token(&k, &pair.access_token, 4600)
        .is_none());
    assert!(issue_for_key(&s, &k, "wrong-key-0000000000", 1000, LIFE).is_none());
}

#[test]
fn refresh_and_access_tokens_are_not_interchangeable() {
    let (k, s) = (keys(), signer());
    let pair = issue_for_key(&s, &k, "alpha-key-0000000001", 1000, LIFE).unwrap();
    assert!(s
        .project_of_access_token(&k, &pair.refresh_token, 1000)
        .is_none());
    assert!(refresh(&s, &k, &pair.access_token, 1000, LIFE).is_none());
    let next = refresh(&s, &k, &pair.refresh_token, 5000, LIFE).unwrap();
    assert_eq!(
        s.project_of_access_token(&k, &next.access_token, 5000)
            .unwrap()
            .as_str(),
        "alpha"
    );
    assert!(refresh(&s, &k, &pair.refresh_token, 1000 + 86_400, LIFE).is_none());
}

#[test]
fn tampered_or_foreign_tokens_are_refused() {
    let (k, s) = (keys(), signer());
    let pair = issue_for_key(&s, &k, "alpha-key-0000000001", 1000, LIFE).unwrap();
    let t = &pair.access_token;
    let (head, sig) = t.rsplit_once('.').unwrap();
    // Flip one character of the payload.
    let mut bytes = head.as_bytes().to_vec();
    let i = bytes.len() - 3;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = format!("{}.{sig}", String::from_utf8(bytes).unwrap());
    assert!(s.project_of_access_token(&k, &forged, 1000).is_none());
    // A payload naming another project, signed with another key.
    let other = Signer::new(b"another-signing-key-of-32-bytes!").unwrap();
    let foreign = issue_for_key(&other, &k, "alpha-key-0000000001", 1000, LIFE).unwrap();
    assert!(s
        .project_of_access_token(&k, &foreign.access_token, 1000)
        .is_none());
    // alg=none style tokens and junk.
    let none = format!("eyJhbGciOiJub25lIn0.{}.", head.split_once('.').unwrap().1);
    for junk in [
        none.as_str(),
        "",
        "a.b",
        "a.b.c.d",
        t.as_str().trim_end_matches(sig),
    ] {
        assert!(
            s.project_of_access_token(&k, junk, 1000).is_none(),
            "{junk}"
        );
    }
}

#[test]
fn removing_an_api_key_ends_its_bearer_tokens() {
    let s = signer();
    let before = keys();
    let pair = issue_for_key(&s, &before, "alpha-key-0000000002", 1000, LIFE).unwrap();
    let after = ApiKeys::parse("alpha:alpha-key-0000000001,beta:beta-key-00000000001").unwrap();
    assert!(s
        .project_of_access_token(&after, &pair.access_token, 1000)
        .is_none());
    assert!(refresh(&s, &after, &pair.refresh_token, 1000, LIFE).is_none());
    // Moving a key to another project ends its tokens too.
    let moved = ApiKeys::parse("beta:alpha-key-0000000002").unwrap();
    assert!(s
        .project_of_access_token(&moved, &pair.access_token, 1000)
        .is_none());
}
