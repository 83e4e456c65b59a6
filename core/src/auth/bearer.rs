//! The signed bearer tokens that `/auth/api-key` and `/auth/refresh` hand out.
//!
//! Bearer tokens are compact JWTs (HS256) carrying the project, the kind of token, an expiry and
//! a key id derived from the API key that obtained them, so removing an API key from the
//! configuration also ends every token made from it.

use super::keys::{ApiKeys, KeyEntry};
use crate::project::ProjectId;
use crate::time::UnixSeconds;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Smallest accepted `AUTH_SIGNING_KEY`, in bytes.
pub const MIN_SIGNING_KEY_LEN: usize = 32;

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
    /// Refresh tokens only: the session, the token's number in it, when the session started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ses: Option<UnixSeconds>,
}

/// A chain of single-use refresh tokens, started by one `/auth/api-key` call: its id, the
/// number of the refresh token at hand, and when it started (it ends `REFRESH_TOKEN_TTL` after
/// that, however often it is refreshed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub seq: u32,
    pub started: UnixSeconds,
}

impl Session {
    /// When every refresh token of the session stops working.
    pub fn ends_at(&self, lifetimes: Lifetimes) -> UnixSeconds {
        self.started + UnixSeconds::from(lifetimes.refresh)
    }
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

    /// The project of the key `api_key`, and a new session `session_id` for it starting `now`;
    /// `None` if no project has that key.
    pub(crate) fn session_for_key<'k>(
        &self,
        keys: &'k ApiKeys,
        api_key: &str,
        session_id: String,
        now: UnixSeconds,
    ) -> Option<(&'k KeyEntry, Session)> {
        let entry = keys.find(api_key)?;
        let session = Session {
            id: session_id,
            seq: 0,
            started: now,
        };
        Some((entry, session))
    }

    /// The key entry and session of a valid, unexpired refresh token whose key is still
    /// configured. A refresh token without a session (made by earlier versions) is refused.
    pub(crate) fn verify_refresh<'k>(
        &self,
        keys: &'k ApiKeys,
        refresh_token: &str,
        now: UnixSeconds,
    ) -> Option<(&'k KeyEntry, Session)> {
        let (entry, claims) = self.verify_claims(keys, refresh_token, TokenKind::Refresh, now)?;
        let session = Session {
            id: claims.sid?,
            seq: claims.seq?,
            started: claims.ses?,
        };
        Some((entry, session))
    }

    /// An access token and refresh token number `session.seq` of the session. The refresh token
    /// ends with the session; the access token after its own lifetime, or with the session if
    /// that comes first.
    pub(crate) fn issue(
        &self,
        entry: &KeyEntry,
        session: &Session,
        now: UnixSeconds,
        lifetimes: Lifetimes,
    ) -> AccessTokenResponse {
        let ends = session.ends_at(lifetimes);
        let claims = |typ, exp: UnixSeconds| Claims {
            sub: entry.project.as_str().to_owned(),
            typ,
            kid: self.key_id(entry),
            iat: now,
            exp,
            sid: None,
            seq: None,
            ses: None,
        };
        let access_exp = (now + UnixSeconds::from(lifetimes.access)).min(ends);
        let refresh = Claims {
            sid: Some(session.id.clone()),
            seq: Some(session.seq),
            ses: Some(session.started),
            ..claims(TokenKind::Refresh, ends)
        };
        AccessTokenResponse {
            access_token: self.sign(&claims(TokenKind::Access, access_exp)),
            refresh_token: self.sign(&refresh),
            token_type: "Bearer",
            expires_in: u32::try_from(access_exp - now).unwrap_or(0),
        }
    }

    /// The project of a valid, unexpired access token.
    pub fn project_of_access_token<'k>(
        &self,
        keys: &'k ApiKeys,
        token: &str,
        now: UnixSeconds,
    ) -> Option<&'k ProjectId> {
        self.verify_claims(keys, token, TokenKind::Access, now)
            .map(|(e, _)| &e.project)
    }

    /// Checks the signature, the kind, the expiry, and that the API key it came from is still
    /// configured for the same project.
    fn verify_claims<'k>(
        &self,
        keys: &'k ApiKeys,
        token: &str,
        kind: TokenKind,
        now: UnixSeconds,
    ) -> Option<(&'k KeyEntry, Claims)> {
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
        found.map(|entry| (entry, claims))
    }
}

/// Lifetimes of the two bearer tokens, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access: u32,
    pub refresh: u32,
}

#[cfg(test)]
#[path = "bearer_tests.rs"]
mod tests;
