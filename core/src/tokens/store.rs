//! Where token records live in KV, in one place.
//!
//! - `tok:{token}` → `{"project","ttl","createdAt","policy"?}`: the record; one read answers a
//!   get, and the upload path finds a token's project and policy with it. `policy` is there
//!   only when the token has one (records written before policies existed have none, and read
//!   as tokens without). KV drops the record the uploads' stale time after the token expires
//!   (`expirationTtl = max(ttl, 60) + UPLOAD_STALE_AFTER`), so that an upload the token opened
//!   can still be finished and anything else is refused with one read; expiry itself is judged
//!   on every read.
//!
//! Which tokens a project has, their order and whether they may upload is the project index's
//! business ([`crate::index`]); earlier versions kept that index in KV too ([`legacy`]).

use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::kv::{Kv, PutOptions, StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::policy::Policy;
use crate::tokens::token::UploadToken;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

const RECORD_PREFIX: &str = "tok:";
const INDEX_PREFIX: &str = "idx:";

/// An upload token together with the project it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub project: ProjectId,
    pub token: UploadToken,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRecord<'a> {
    project: &'a str,
    ttl: u32,
    created_at: UnixSeconds,
    #[serde(default, skip_serializing_if = "no_policy")]
    policy: Cow<'a, Policy>,
}

// serde hands `skip_serializing_if` a reference to the field itself.
#[allow(clippy::ptr_arg)]
fn no_policy(policy: &Cow<'_, Policy>) -> bool {
    policy.is_none()
}

/// A KV key of the token store: each kind formats and parses itself, so no key is glued
/// together or taken apart anywhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvKey {
    /// `tok:{token}`: a token's record.
    Record(TokenId),
    /// `idx:{project}:{createdAt:010}:{token}`: an index entry of earlier versions.
    LegacyIndex {
        project: ProjectId,
        created_at: UnixSeconds,
        token: TokenId,
    },
}

impl KvKey {
    /// Reads a key back; `None` if it is not one of these.
    pub fn parse(key: &str) -> Option<Self> {
        if let Some(token) = key.strip_prefix(RECORD_PREFIX) {
            return TokenId::parse(token).map(KvKey::Record);
        }
        let mut parts = key.strip_prefix(INDEX_PREFIX)?.split(':');
        let (project, created_at, token) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || created_at.len() != 10 {
            return None;
        }
        Some(KvKey::LegacyIndex {
            project: ProjectId::parse(project)?,
            created_at: created_at.parse().ok()?,
            token: TokenId::parse(token)?,
        })
    }
}

impl fmt::Display for KvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvKey::Record(token) => write!(f, "{RECORD_PREFIX}{token}"),
            KvKey::LegacyIndex {
                project,
                created_at,
                token,
            } => write!(f, "{INDEX_PREFIX}{project}:{created_at:010}:{token}"),
        }
    }
}

/// The JSON value of a token's record.
fn record_value(record: &TokenRecord) -> String {
    serde_json::to_string(&StoredRecord {
        project: record.project.as_str(),
        ttl: record.token.ttl,
        created_at: record.token.created_at,
        policy: Cow::Borrowed(&record.token.policy),
    })
    .expect("a record always serialises")
}

/// The per-project index earlier versions kept in KV: one entry ([`KvKey::LegacyIndex`]) per
/// token, empty value, metadata `"{createdAt},{ttl}"`, expiring with the token. Read once per
/// project, by the import into the project index
/// ([`crate::storage::index::import_legacy_index`]); never written any more.
pub mod legacy {
    use super::*;

    /// The prefix under which all index entries of `project` sit (the trailing `:` keeps
    /// project `acme` from reading `acme2`'s entries).
    pub fn index_prefix(project: &ProjectId) -> String {
        format!("{INDEX_PREFIX}{project}:")
    }

    /// The index entry of a token of `project`: its key and metadata.
    pub fn entry(project: &ProjectId, token: &UploadToken) -> (KvKey, String) {
        let key = KvKey::LegacyIndex {
            project: project.clone(),
            created_at: token.created_at,
            token: token.token.clone(),
        };
        (key, format!("{},{}", token.created_at, token.ttl))
    }

    /// Reads an index entry back into a token; `None` if it is not one that was written so.
    pub fn parse_index_entry(name: &str, metadata: Option<&str>) -> Option<UploadToken> {
        let Some(KvKey::LegacyIndex {
            created_at, token, ..
        }) = KvKey::parse(name)
        else {
            return None;
        };
        let (meta_created_at, ttl) = metadata?.split_once(',')?;
        (meta_created_at.parse::<UnixSeconds>().ok()? == created_at).then_some(())?;
        Some(UploadToken::new(token, ttl.parse().ok()?, created_at))
    }
}

/// The token records over any [`Kv`].
pub struct TokenStore<K> {
    kv: K,
}

impl<K: Kv> TokenStore<K> {
    pub fn new(kv: K) -> Self {
        Self { kv }
    }

    /// The underlying KV.
    pub fn kv(&self) -> &K {
        &self.kv
    }

    /// The record of `token`, expired or not (callers judge expiry). One KV read.
    pub async fn load(&self, token: &TokenId) -> StoreResult<Option<TokenRecord>> {
        let raw = self
            .kv
            .get(&KvKey::Record(token.clone()).to_string())
            .await?;
        Self::read_record(token, raw)
    }

    /// The same, answered by the edge from a copy at most `cache_ttl` seconds old.
    pub async fn load_cached(
        &self,
        token: &TokenId,
        cache_ttl: u32,
    ) -> StoreResult<Option<TokenRecord>> {
        let raw = self
            .kv
            .get_cached(&KvKey::Record(token.clone()).to_string(), cache_ttl)
            .await?;
        Self::read_record(token, raw)
    }

    fn read_record(token: &TokenId, raw: Option<String>) -> StoreResult<Option<TokenRecord>> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let stored: StoredRecord<'_> = serde_json::from_str(&raw)
            .map_err(|e| StoreError(format!("record of a token is unreadable: {e}")))?;
        let project = ProjectId::parse(stored.project)
            .ok_or_else(|| StoreError("record of a token names an invalid project".into()))?;
        Ok(Some(TokenRecord {
            project,
            token: UploadToken {
                token: token.clone(),
                ttl: stored.ttl,
                created_at: stored.created_at,
                policy: stored.policy.into_owned(),
            },
        }))
    }

    /// Writes the record, kept by KV `kept_after_expiry` seconds past the token's expiry (see
    /// [`UploadToken::kv_expiration_ttl`]). One KV write.
    pub async fn save(&self, record: &TokenRecord, kept_after_expiry: u32) -> StoreResult<()> {
        let options = PutOptions {
            metadata: None,
            expiration_ttl: record.token.kv_expiration_ttl(kept_after_expiry),
        };
        self.kv
            .put(
                &KvKey::Record(record.token.token.clone()).to_string(),
                &record_value(record),
                options,
            )
            .await
    }

    /// Removes the record. One KV delete.
    pub async fn remove(&self, token: &TokenId) -> StoreResult<()> {
        self.kv
            .delete(&KvKey::Record(token.clone()).to_string())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_written_down_form_and_read_back() {
        let token = TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap();
        let project = ProjectId::parse("acme").unwrap();
        let cases = [
            (KvKey::Record(token.clone()), "tok:to1tcmSFHeYY5KzyhOqVKMKb"),
            (
                KvKey::LegacyIndex {
                    project: project.clone(),
                    created_at: 1_606_903_999,
                    token: token.clone(),
                },
                "idx:acme:1606903999:to1tcmSFHeYY5KzyhOqVKMKb",
            ),
            (
                KvKey::LegacyIndex {
                    project,
                    created_at: 7,
                    token,
                },
                "idx:acme:0000000007:to1tcmSFHeYY5KzyhOqVKMKb",
            ),
        ];
        for (key, text) in cases {
            assert_eq!(key.to_string(), text);
            assert_eq!(KvKey::parse(text), Some(key));
        }
        for bad in [
            "tok:",
            "tok:to123",
            "idx:acme:7:to1tcmSFHeYY5KzyhOqVKMKb",
            "idx:acme:0000000007:to1tcmSFHeYY5KzyhOqVKMKb:x",
            "idx:ac:me:0000000007:to1tcmSFHeYY5KzyhOqVKMKb",
            "vid:to1tcmSFHeYY5KzyhOqVKMKb",
        ] {
            assert_eq!(KvKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_without_a_policy_read_as_tokens_without_and_policies_round_trip() {
        use crate::testing::{block_on, MemoryKv};
        use crate::tokens::policy::Metadata;
        let kv = MemoryKv::new(1_606_903_999);
        let id = TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap();
        // As every earlier version wrote it.
        let old = r#"{"project":"acme","ttl":90,"createdAt":1606903999}"#;
        block_on(kv.put("tok:to1tcmSFHeYY5KzyhOqVKMKb", old, PutOptions::default())).unwrap();
        let store = TokenStore::new(&kv);
        let read = block_on(store.load(&id)).unwrap().unwrap();
        assert_eq!(read.token, UploadToken::new(id.clone(), 90, 1_606_903_999));
        // Without a policy the record is written exactly as before; with one, it follows.
        block_on(store.save(&read, 0)).unwrap();
        assert_eq!(
            block_on(kv.get("tok:to1tcmSFHeYY5KzyhOqVKMKb"))
                .unwrap()
                .as_deref(),
            Some(old)
        );
        let mut with = read.clone();
        with.token.policy = Policy {
            max_uploads: Some(1),
            metadata: vec![Metadata::new("user", "u1")],
            ..Policy::default()
        };
        block_on(store.save(&with, 0)).unwrap();
        assert_eq!(
            block_on(kv.get("tok:to1tcmSFHeYY5KzyhOqVKMKb"))
                .unwrap()
                .as_deref(),
            Some(
                r#"{"project":"acme","ttl":90,"createdAt":1606903999,"policy":{"maxUploads":1,"metadata":[{"key":"user","value":"u1"}]}}"#
            )
        );
        assert_eq!(block_on(store.load(&id)).unwrap(), Some(with));
    }

    #[test]
    fn a_legacy_entry_reads_back_only_with_matching_metadata() {
        let token = UploadToken::new(
            TokenId::parse("to1tcmSFHeYY5KzyhOqVKMKb").unwrap(),
            90,
            1_606_903_999,
        );
        let (key, metadata) = legacy::entry(&ProjectId::parse("acme").unwrap(), &token);
        assert_eq!(metadata, "1606903999,90");
        let name = key.to_string();
        assert_eq!(
            legacy::parse_index_entry(&name, Some(&metadata)),
            Some(token)
        );
        assert_eq!(legacy::parse_index_entry(&name, None), None);
        assert_eq!(
            legacy::parse_index_entry(&name, Some("1606903998,90")),
            None
        );
        assert_eq!(legacy::parse_index_entry(&name, Some("1606903999")), None);
    }
}
