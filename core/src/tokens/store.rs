//! Where token records live in KV, in one place.
//!
//! - `tok:{token}` → `{"project","ttl","createdAt"}`: the record; one read answers a get, and
//!   the upload path finds a token's project with it. It expires with the token
//!   (`expirationTtl = max(ttl, 60)`); expiry is also judged on every read.
//!
//! Which tokens a project has, their order and whether they may upload is the project index's
//! business ([`crate::index`]); earlier versions kept that index in KV too ([`legacy`]).

use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::kv::{Kv, PutOptions, StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::token::UploadToken;
use serde::{Deserialize, Serialize};

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
}

/// KV keys and values of the token store.
pub mod keys {
    use super::*;

    /// The key of a token's record.
    pub fn record(token: &TokenId) -> String {
        format!("{RECORD_PREFIX}{token}")
    }

    /// The JSON value of a token's record.
    pub fn record_value(record: &TokenRecord) -> String {
        serde_json::to_string(&StoredRecord {
            project: record.project.as_str(),
            ttl: record.token.ttl,
            created_at: record.token.created_at,
        })
        .expect("a record always serialises")
    }
}

/// The per-project index earlier versions kept in KV: one entry
/// `idx:{project}:{createdAt:010}:{token}` per token, empty value, metadata
/// `"{createdAt},{ttl}"`, expiring with the token. Read once per project, by the import into
/// the project index ([`crate::storage::index::import_legacy_index`]); never written any more.
pub mod legacy {
    use super::*;

    /// The prefix under which all index entries of `project` sit (the trailing `:` keeps
    /// project `acme` from reading `acme2`'s entries).
    pub fn index_prefix(project: &ProjectId) -> String {
        format!("{INDEX_PREFIX}{project}:")
    }

    /// The index entry of a token.
    pub fn index(project: &ProjectId, token: &UploadToken) -> String {
        format!(
            "{INDEX_PREFIX}{project}:{:010}:{}",
            token.created_at, token.token
        )
    }

    /// The metadata of an index entry: `"{createdAt},{ttl}"`.
    pub fn index_metadata(token: &UploadToken) -> String {
        format!("{},{}", token.created_at, token.ttl)
    }

    /// Reads an index entry back into a token; `None` if it is not one that was written so.
    pub fn parse_index_entry(name: &str, metadata: Option<&str>) -> Option<UploadToken> {
        let token = TokenId::parse(name.rsplit(':').next()?)?;
        let (created_at, ttl) = metadata?.split_once(',')?;
        Some(UploadToken {
            token,
            created_at: created_at.parse().ok()?,
            ttl: ttl.parse().ok()?,
        })
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
        let raw = self.kv.get(&keys::record(token)).await?;
        Self::read_record(token, raw)
    }

    /// The same, answered by the edge from a copy at most `cache_ttl` seconds old.
    pub async fn load_cached(
        &self,
        token: &TokenId,
        cache_ttl: u32,
    ) -> StoreResult<Option<TokenRecord>> {
        let raw = self.kv.get_cached(&keys::record(token), cache_ttl).await?;
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
            },
        }))
    }

    /// Writes the record. One KV write.
    pub async fn save(&self, record: &TokenRecord) -> StoreResult<()> {
        let options = PutOptions {
            metadata: None,
            expiration_ttl: record.token.kv_expiration_ttl(),
        };
        self.kv
            .put(
                &keys::record(&record.token.token),
                &keys::record_value(record),
                options,
            )
            .await
    }

    /// Removes the record. One KV delete.
    pub async fn remove(&self, token: &TokenId) -> StoreResult<()> {
        self.kv.delete(&keys::record(token)).await
    }
}
