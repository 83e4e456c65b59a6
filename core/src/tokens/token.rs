//! The upload token: what is stored, when it is active, and how it is shown on the wire.

use crate::ids::TokenId;
use crate::time::{format_atom, UnixSeconds};
use crate::tokens::policy::{Metadata, Policy};
use serde::Serialize;

/// The largest `ttl` api.video accepts (a signed 32-bit integer).
pub const MAX_TTL: u32 = 2_147_483_647;

/// Workers KV refuses an `expirationTtl` under 60 seconds.
pub const KV_MIN_EXPIRATION_TTL: u32 = 60;

/// A delegated upload token, as the API shows it. The project it belongs to is kept beside it
/// by the store ([`crate::tokens::store::TokenRecord`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadToken {
    pub token: TokenId,
    /// Lifetime in seconds; 0 means it never expires.
    pub ttl: u32,
    pub created_at: UnixSeconds,
    /// What it may do beyond what every token may; the empty policy for most tokens.
    pub policy: Policy,
}

impl UploadToken {
    /// A token without policies.
    pub fn new(token: TokenId, ttl: u32, created_at: UnixSeconds) -> Self {
        Self {
            token,
            ttl,
            created_at,
            policy: Policy::default(),
        }
    }

    /// When the token stops being active, or `None` if it never does.
    pub fn expires_at(&self) -> Option<UnixSeconds> {
        (self.ttl > 0).then(|| self.created_at + UnixSeconds::from(self.ttl))
    }

    /// A token is active until the second its `expiresAt` names; at that second it has expired.
    pub fn is_active(&self, now: UnixSeconds) -> bool {
        self.expires_at().is_none_or(|at| now < at)
    }

    /// The `expirationTtl` to give its KV record: the ttl, raised to KV's minimum of 60 s, plus
    /// `kept_after_expiry` (the uploads' stale time, so that an upload it opened may still find
    /// its project after it expires), or none for a token that never expires. Reads enforce the
    /// exact expiry themselves.
    pub fn kv_expiration_ttl(&self, kept_after_expiry: u32) -> Option<u32> {
        (self.ttl > 0).then(|| {
            self.ttl
                .max(KV_MIN_EXPIRATION_TTL)
                .saturating_add(kept_after_expiry)
                // Never past what KV takes (a signed 32-bit count of seconds).
                .min(MAX_TTL)
        })
    }

    /// The token as the API shows it, having created `uploads_used` videos (shown only when
    /// their number is bounded).
    pub fn view(&self, uploads_used: u32) -> UploadTokenView<'_> {
        let policy = &self.policy;
        UploadTokenView {
            token: self.token.as_str(),
            ttl: self.ttl,
            created_at: format_atom(self.created_at),
            expires_at: self.expires_at().map(format_atom),
            max_uploads: policy.max_uploads,
            uploads_used: policy.max_uploads.map(|_| uploads_used),
            max_file_size: policy.max_file_size,
            allowed_origins: &policy.allowed_origins,
            metadata: &policy.metadata,
        }
    }
}

/// The JSON shape of an upload token: `{token, ttl, createdAt, expiresAt}`, followed by each
/// policy field the token was created with (and `uploadsUsed` beside `maxUploads`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTokenView<'a> {
    pub token: &'a str,
    pub ttl: u32,
    pub created_at: String,
    /// `null` for a token that never expires.
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uploads_used: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub allowed_origins: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub metadata: &'a [Metadata],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(ttl: u32) -> UploadToken {
        UploadToken::new(
            TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap(),
            ttl,
            1_606_903_999,
        )
    }

    #[test]
    fn ttl_one_ends_after_one_second() {
        let t = token(1);
        assert!(t.is_active(1_606_903_999));
        assert!(!t.is_active(1_606_904_000));
    }

    #[test]
    fn ttl_fifty_nine_ends_on_time_although_kv_keeps_it_for_sixty() {
        let t = token(59);
        assert!(t.is_active(1_606_903_999 + 58));
        assert!(!t.is_active(1_606_903_999 + 59));
        assert_eq!(t.kv_expiration_ttl(0), Some(60));
        assert_eq!(t.kv_expiration_ttl(86_400), Some(86_460));
    }

    #[test]
    fn ttl_zero_never_expires_and_has_no_kv_expiry() {
        let t = token(0);
        assert!(t.is_active(i64::from(u32::MAX) * 100));
        assert_eq!(t.expires_at(), None);
        assert_eq!(t.kv_expiration_ttl(86_400), None);
    }

    #[test]
    fn long_ttls_keep_their_own_kv_expiry() {
        assert_eq!(token(3600).kv_expiration_ttl(0), Some(3600));
        assert_eq!(token(3600).kv_expiration_ttl(600), Some(4200));
        assert_eq!(
            token(MAX_TTL).kv_expiration_ttl(86_400),
            Some(MAX_TTL)
        );
    }

    #[test]
    fn view_matches_the_published_example() {
        let json = serde_json::to_string(&token(3600).view(0)).unwrap();
        assert_eq!(
            json,
            r#"{"token":"to1tcmSFHeYY5KzyhOqVKMKb","ttl":3600,"createdAt":"2020-12-02T10:13:19+00:00","expiresAt":"2020-12-02T11:13:19+00:00"}"#
        );
        let json = serde_json::to_string(&token(0).view(7)).unwrap();
        assert!(json.ends_with(r#""expiresAt":null}"#), "{json}");
    }

    #[test]
    fn policy_fields_follow_and_uploads_used_only_beside_max_uploads() {
        let mut t = token(60);
        t.policy = Policy {
            max_uploads: Some(3),
            max_file_size: Some(1000),
            allowed_origins: vec!["https://app.example".to_owned()],
            metadata: vec![Metadata::new("user", "u1")],
        };
        let json = serde_json::to_string(&t.view(2)).unwrap();
        assert_eq!(
            json,
            r#"{"token":"to1tcmSFHeYY5KzyhOqVKMKb","ttl":60,"createdAt":"2020-12-02T10:13:19+00:00","expiresAt":"2020-12-02T10:14:19+00:00","maxUploads":3,"uploadsUsed":2,"maxFileSize":1000,"allowedOrigins":["https://app.example"],"metadata":[{"key":"user","value":"u1"}]}"#
        );
        t.policy.max_uploads = None;
        let json = serde_json::to_string(&t.view(2)).unwrap();
        assert!(!json.contains("uploads"), "{json}");
    }
}
