//! Where tokens live in KV, in one place.
//!
//! - `tok:{token}` → `{"project","ttl","createdAt"}`: the record; one read answers a get.
//! - `idx:{project}:{createdAt:010}:{token}` → empty value, metadata `"{createdAt},{ttl}"`: the
//!   project's index. Listing a project is a prefix walk of its index that needs no per-token
//!   read. Both entries expire with the token (`expirationTtl = max(ttl, 60)`).
//!
//! Writes are ordered so that an interrupted one never leaves anything unsafe: a create
//! writes the record before the index entry (so an index entry never points at nothing), and a
//! delete removes the index entry before the record (so a retried delete still finds the record
//! and finishes the job).

use crate::ids::TokenId;
use crate::kv::{Kv, PutOptions, StoreError};
use crate::project::ProjectId;
use crate::time::UnixSeconds;
use crate::token::UploadToken;
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

    /// The prefix under which all index entries of `project` sit.
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

    /// The JSON value of a token's record.
    pub fn record_value(record: &TokenRecord) -> String {
        serde_json::to_string(&StoredRecord {
            project: record.project.as_str(),
            ttl: record.token.ttl,
            created_at: record.token.created_at,
        })
        .expect("a record always serialises")
    }

    /// Reads an index entry back into a token; `None` if it is not one this store wrote.
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

/// The token store over any [`Kv`].
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
    pub async fn load(&self, token: &TokenId) -> Result<Option<TokenRecord>, StoreError> {
        let Some(raw) = self.kv.get(&keys::record(token)).await? else {
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

    /// Writes the record, then the index entry. Two KV writes.
    pub async fn save(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let expiration_ttl = record.token.kv_expiration_ttl();
        let options = PutOptions {
            metadata: None,
            expiration_ttl,
        };
        self.kv
            .put(
                &keys::record(&record.token.token),
                &keys::record_value(record),
                options,
            )
            .await?;
        let metadata = keys::index_metadata(&record.token);
        let options = PutOptions {
            metadata: Some(&metadata),
            expiration_ttl,
        };
        self.kv
            .put(&keys::index(&record.project, &record.token), "", options)
            .await
    }

    /// Removes the index entry, then the record. Two KV deletes.
    pub async fn remove(&self, record: &TokenRecord) -> Result<(), StoreError> {
        self.kv
            .delete(&keys::index(&record.project, &record.token))
            .await?;
        self.kv.delete(&keys::record(&record.token.token)).await
    }

    /// A walk over every indexed token of `project`, expired or not, in index order: one KV
    /// `list` per 1000 entries and no reads. Nothing is read until it is stepped.
    pub fn scan<'a>(&'a self, project: &'a ProjectId) -> IndexScan<'a, K> {
        IndexScan {
            kv: &self.kv,
            project,
            prefix: keys::index_prefix(project),
            cursor: None,
            tokens: Vec::new(),
            done: false,
        }
    }
}

/// A walk over a project's index, one `list` call per step (see [`TokenStore::scan`]).
pub struct IndexScan<'a, K> {
    kv: &'a K,
    project: &'a ProjectId,
    prefix: String,
    cursor: Option<String>,
    tokens: Vec<UploadToken>,
    done: bool,
}

impl<K: Kv> IndexScan<'_, K> {
    /// Makes one `list` call, unless the walk is over.
    pub async fn step(&mut self) -> Result<(), StoreError> {
        if self.done {
            return Ok(());
        }
        let chunk = self.kv.list(&self.prefix, self.cursor.as_deref()).await?;
        for key in &chunk.keys {
            let token =
                keys::parse_index_entry(&key.name, key.metadata.as_deref()).ok_or_else(|| {
                    // The key holds a token id, which must never reach the log.
                    StoreError(format!(
                        "unreadable index entry under project {}",
                        self.project
                    ))
                })?;
            self.tokens.push(token);
        }
        match chunk.cursor {
            Some(next) if !chunk.complete => self.cursor = Some(next),
            _ => self.done = true,
        }
        Ok(())
    }

    /// Walks to the end and returns every token seen.
    pub async fn finish(mut self) -> Result<Vec<UploadToken>, StoreError> {
        while !self.done {
            self.step().await?;
        }
        Ok(self.tokens)
    }
}
