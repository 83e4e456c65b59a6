//! Authentication: API keys (compared in constant time) and the signed bearer tokens that
//! `/auth/api-key` and `/auth/refresh` hand out.
//!
//! Bearer tokens are compact JWTs (HS256) carrying the project, the kind of token, an expiry and
//! a key id derived from the API key that obtained them, so removing an API key from the
//! configuration also ends every token made from it.

use crate::project::ProjectId;
use crate::time::UnixSeconds;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

/// Smallest accepted `AUTH_SIGNING_KEY`, in bytes.
pub const MIN_SIGNING_KEY_LEN: usize = 32;

struct KeyEntry {
    project: ProjectId,
    digest: [u8; 32],
}

/// The configured API keys (`projectId:apiKey,…`), each belonging to one project.
pub struct ApiKeys {
    entries: Vec<KeyEntry>,
}

fn digest(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}

impl ApiKeys {
    /// Parses `API_KEYS`. Entries are separated by commas, surrounding whitespace is ignored,
    /// and the project id is everything before the first `:`. The reason for a refusal never
    /// contains a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut entries: Vec<KeyEntry> = Vec::new();
        for (i, entry) in raw.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((project, key)) = entry.split_once(':') else {
                return Err(format!(
                    "API_KEYS entry {} has no ':' between project and key",
                    i + 1
                ));
            };
            let project = ProjectId::parse(project.trim()).ok_or_else(|| {
                format!(
                    "API_KEYS entry {} has an invalid project id (1-64 of [A-Za-z0-9_-])",
                    i + 1
                )
            })?;
            let key = key.trim();
            if key.len() < 16 {
                return Err(format!(
                    "API_KEYS entry {} has a key shorter than 16 characters",
                    i + 1
                ));
            }
            let digest = digest(key);
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!(
                    "API_KEYS entry {} repeats a key given before",
                    i + 1
                ));
            }
            entries.push(KeyEntry { project, digest });
        }
        if entries.is_empty() {
            return Err("API_KEYS is empty".to_owned());
        }
        Ok(Self { entries })
    }

    /// The entry whose key is `api_key`. Every configured key is compared, each in constant
    /// time over fixed-length digests, so timing reveals neither which key matched nor how
    /// much of one did.
    fn find(&self, api_key: &str) -> Option<&KeyEntry> {
        let candidate = digest(api_key);
        let mut found: Option<&KeyEntry> = None;
        for entry in &self.entries {
            let equal: Choice = entry.digest.ct_eq(&candidate);
            if bool::from(equal) {
                found = Some(entry);
            }
        }
        found
    }

    /// The project `api_key` belongs to.
    pub fn project_of(&self, api_key: &str) -> Option<&ProjectId> {
        self.find(api_key).map(|e| &e.project)
    }
}

/// Which of the two bearer tokens a JWT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    typ: TokenKind,
    kid: String,
    iat: UnixSeconds,
    exp: UnixSeconds,
}

/// `{"alg":"HS256","typ":"JWT"}`, base64url-encoded; the only header accepted.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Signs and checks bearer tokens with `AUTH_SIGNING_KEY`.
pub struct Signer {
    key: Vec<u8>,
}

/// The answer of `/auth/api-key` and `/auth/refresh`.
#[derive(Debug, Serialize)]
pub struct AccessTokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
}

impl Signer {
    /// A signer for `key`, which must hold at least 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_SIGNING_KEY_LEN {
            return Err(format!(
                "AUTH_SIGNING_KEY must hold at least {MIN_SIGNING_KEY_LEN} bytes"
            ));
        }
        Ok(Self { key: key.to_vec() })
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// A short, stable id of an API key that reveals nothing about it without the signing key.
    fn key_id(&self, entry: &KeyEntry) -> String {
        let mut mac = self.mac();
        mac.update(b"key-id:");
        mac.update(&entry.digest);
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..12])
    }

    fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut signed = format!("{JWT_HEADER}.{payload}");
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        signed.push('.');
        signed.push_str(&sig);
        signed
    }

    /// Issues an access token and a refresh token for the key `api_key`, or `None` if no
    /// project has that key.
    pub fn issue_for_key(
        &self,
        keys: &ApiKeys,
        api_key: &str,
        now: UnixSeconds,
        lifetimes: Lifetimes,
    ) -> Option<AccessTokenResponse> {
        let entry = keys.find(api_key)?;
        Some(self.issue(entry, now, lifetimes))
    }

    /// Issues a fresh pair for the holder of a valid refresh token.
    pub fn refresh(
        &self,
        keys: &ApiKeys,
        refresh_token: &str,
        now: UnixSeconds,
        lifetimes: Lifetimes,
    ) -> Option<AccessTokenResponse> {
        let entry = self.verify(keys, refresh_token, TokenKind::Refresh, now)?;
        Some(self.issue(entry, now, lifetimes))
    }

    fn issue(
        &self,
        entry: &KeyEntry,
        now: UnixSeconds,
        lifetimes: Lifetimes,
    ) -> AccessTokenResponse {
        let claims = |typ, ttl: u32| Claims {
            sub: entry.project.as_str().to_owned(),
            typ,
            kid: self.key_id(entry),
            iat: now,
            exp: now + UnixSeconds::from(ttl),
        };
        AccessTokenResponse {
            access_token: self.sign(&claims(TokenKind::Access, lifetimes.access)),
            refresh_token: self.sign(&claims(TokenKind::Refresh, lifetimes.refresh)),
            token_type: "Bearer",
            expires_in: lifetimes.access,
        }
    }

    /// The project of a valid, unexpired access token.
    pub fn project_of_access_token<'k>(
        &self,
        keys: &'k ApiKeys,
        token: &str,
        now: UnixSeconds,
    ) -> Option<&'k ProjectId> {
        self.verify(keys, token, TokenKind::Access, now)
            .map(|e| &e.project)
    }

    /// Checks the signature, the kind, the expiry, and that the API key it came from is still
    /// configured for the same project.
    fn verify<'k>(
        &self,
        keys: &'k ApiKeys,
        token: &str,
        kind: TokenKind,
        now: UnixSeconds,
    ) -> Option<&'k KeyEntry> {
        let mut parts = token.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || header != JWT_HEADER {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let mut mac = self.mac();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims.typ != kind || now >= claims.exp {
            return None;
        }
        let mut found = None;
        for entry in &keys.entries {
            let same_kid = self.key_id(entry).as_bytes().ct_eq(claims.kid.as_bytes());
            if bool::from(same_kid) && entry.project.as_str() == claims.sub {
                found = Some(entry);
            }
        }
        found
    }
}

/// Lifetimes of the two bearer tokens, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access: u32,
    pub refresh: u32,
}

/// What an `Authorization` header offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    ApiKey(String),
    Bearer(String),
}

/// Reads `Basic base64(apiKey:)` (the password part is ignored) or `Bearer <token>`.
pub fn parse_authorization(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
        (!user.is_empty()).then(|| Credentials::ApiKey(user.to_owned()))
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_owned()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let pair = s
            .issue_for_key(&k, "beta-key-00000000001", 1000, LIFE)
            .unwrap();
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
        assert!(s
            .issue_for_key(&k, "wrong-key-0000000000", 1000, LIFE)
            .is_none());
    }

    #[test]
    fn refresh_and_access_tokens_are_not_interchangeable() {
        let (k, s) = (keys(), signer());
        let pair = s
            .issue_for_key(&k, "alpha-key-0000000001", 1000, LIFE)
            .unwrap();
        assert!(s
            .project_of_access_token(&k, &pair.refresh_token, 1000)
            .is_none());
        assert!(s.refresh(&k, &pair.access_token, 1000, LIFE).is_none());
        let next = s.refresh(&k, &pair.refresh_token, 5000, LIFE).unwrap();
        assert_eq!(
            s.project_of_access_token(&k, &next.access_token, 5000)
                .unwrap()
                .as_str(),
            "alpha"
        );
        assert!(s
            .refresh(&k, &pair.refresh_token, 1000 + 86_400, LIFE)
            .is_none());
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let (k, s) = (keys(), signer());
        let pair = s
            .issue_for_key(&k, "alpha-key-0000000001", 1000, LIFE)
            .unwrap();
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
        let foreign = other
            .issue_for_key(&k, "alpha-key-0000000001", 1000, LIFE)
            .unwrap();
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
        let pair = s
            .issue_for_key(&before, "alpha-key-0000000002", 1000, LIFE)
            .unwrap();
        let after = ApiKeys::parse("alpha:alpha-key-0000000001,beta:beta-key-00000000001").unwrap();
        assert!(s
            .project_of_access_token(&after, &pair.access_token, 1000)
            .is_none());
        assert!(s.refresh(&after, &pair.refresh_token, 1000, LIFE).is_none());
        // Moving a key to another project ends its tokens too.
        let moved = ApiKeys::parse("beta:alpha-key-0000000002").unwrap();
        assert!(s
            .project_of_access_token(&moved, &pair.access_token, 1000)
            .is_none());
    }
}
