//! The project's token index: the authority on which of a project's tokens exist, the order,
//! filters and pages of its listing, whether a token may still upload, and how many videos a
//! token with `maxUploads` has made.
//!
//! Each project has one index (in the Worker, a SQLite-backed Durable Object named after the
//! project). Handlers see only [`TokenIndex`]; the Worker reaches the object through
//! [`CommandIndex`], which sends an [`IndexCommand`] as JSON and reads an [`IndexReply`]; the
//! object answers with [`SqlIndex::apply`] over its own SQLite. Host tests run the very same
//! path over SQLite in memory ([`crate::testing`]).

mod legacy;
mod page;
mod remote;
mod schema;
mod sql;

pub use legacy::{import_legacy_index, legacy_import_done, LegacyImport, MAX_PAGES_PER_CALL};
pub use page::{count_statement, page_statement, walk, Walk};
pub use remote::{
    reply_fits_header, serve, CommandIndex, IndexTransport, MAX_HEADER_REPLY, REPLY_HEADER,
};
pub use schema::{schema_version, MIGRATIONS, SCHEMA, SCHEMA_VERSION, VERSION_KEY};
pub use sql::{
    CommandError, Sql, SqlIndex, SqlParam, SqlRows, SqlValue, TokenRow, NEVER, PURGE_INTERVAL,
};

use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::kv::StoreResult;
use crate::time::UnixSeconds;
use crate::tokens::policy::{Metadata, Policy};
use crate::tokens::query::{ListQuery, SortBy, SortOrder};
use crate::tokens::token::UploadToken;
use serde::{Deserialize, Serialize};

/// What the index knows of a token, judged at a given second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    /// Listed, and may upload.
    Active,
    /// Past its `expiresAt` but not deleted: it may only finish an upload it opened, for as
    /// long as the index keeps expired tokens (the uploads' stale time).
    Expired,
    /// Deleted, never created, or expired long ago: it may not upload at all.
    Absent,
}

/// What using a refresh token of a session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionUse {
    /// It was the one expected: the session goes on with the next.
    Rotated,
    /// It had been used before: the session is ended, every token of it refused from now on.
    Reused,
    /// No such session, or it ended (expired or ended by a reuse).
    Unknown,
}

/// The answer to a token's request to create one more video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Claim {
    /// Counted: the video may be created.
    Granted,
    /// The token has made as many videos as its `maxUploads` allows.
    Exhausted,
    /// The token is not active (deleted, or expired since it was last asked about).
    Absent,
}

/// A token of a listing page, with the number of videos it has made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub token: UploadToken,
    pub uploads_used: u32,
}

/// One page of a listing, with the number of active tokens it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPage {
    pub tokens: Vec<Listed>,
    pub items_total: usize,
}

/// Where a listing page starts and how long it is, in the order of `sort_by`/`sort_order`,
/// among the tokens that carry every `metadata` pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    pub sort_by: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

/// [`SortBy`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SortKey {
    CreatedAt,
    Ttl,
}

impl PageRequest {
    /// The rows page `query.current_page` asks for.
    pub fn of(query: &ListQuery) -> Self {
        Self {
            sort_by: match query.sort_by {
                SortBy::CreatedAt => SortKey::CreatedAt,
                SortBy::Ttl => SortKey::Ttl,
            },
            descending: query.sort_order == SortOrder::Desc,
            offset: u64::from(query.current_page - 1) * u64::from(query.page_size),
            limit: query.page_size,
            metadata: query.metadata.clone(),
        }
    }
}

/// A project's token index.
#[allow(async_fn_in_trait)]
pub trait TokenIndex {
    /// Adds a new token with its policy (idempotent: adding it again changes nothing).
    async fn insert(&self, project: &ProjectId, token: &UploadToken) -> StoreResult<()>;
    /// Removes `token` if it is active at `now`; whether it was. An expired token is left as
    /// it is (it is not the caller's to delete any more).
    async fn remove(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<bool>;
    /// One page of the tokens active at `now` (and carrying the page's metadata filters), and
    /// how many there are.
    async fn page(
        &self,
        project: &ProjectId,
        page: PageRequest,
        now: UnixSeconds,
    ) -> StoreResult<IndexPage>;
    /// What the index knows of `token` at `now`.
    async fn status(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<TokenStatus>;
    /// Counts one more video made with `token` if it is active and under its `maxUploads`:
    /// atomically, so that no number of simultaneous uploads, wherever they run, exceeds it.
    async fn claim_upload(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<Claim>;
    /// How many videos `token` has made, if it is active at `now`.
    async fn uploads_used(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<Option<u32>>;
    /// Starts a bearer-token session `sid` ending at `expires_at`.
    async fn start_session(
        &self,
        project: &ProjectId,
        sid: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<()>;
    /// Uses refresh token number `seq` of session `sid`.
    async fn rotate_session(
        &self,
        project: &ProjectId,
        sid: &str,
        seq: u32,
        now: UnixSeconds,
    ) -> StoreResult<SessionUse>;
}

/// A request to a project's index object, as JSON. Times are the caller's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum IndexCommand {
    #[serde(rename_all = "camelCase")]
    Insert {
        token: String,
        created_at: UnixSeconds,
        ttl: u32,
        #[serde(default, skip_serializing_if = "Policy::is_none")]
        policy: Policy,
        now: UnixSeconds,
    },
    Remove {
        token: String,
        now: UnixSeconds,
    },
    Page {
        page: PageRequest,
        now: UnixSeconds,
    },
    Status {
        token: String,
        now: UnixSeconds,
    },
    ClaimUpload {
        token: String,
        now: UnixSeconds,
    },
    Usage {
        token: String,
        now: UnixSeconds,
    },
    #[serde(rename_all = "camelCase")]
    StartSession {
        sid: String,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    },
    RotateSession {
        sid: String,
        seq: u32,
        now: UnixSeconds,
    },
}

/// The index object's answer to an [`IndexCommand`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum IndexReply {
    Inserted,
    Removed {
        removed: bool,
    },
    #[serde(rename_all = "camelCase")]
    Page {
        rows: Vec<TokenRow>,
        items_total: usize,
    },
    Status {
        status: TokenStatus,
    },
    Claimed {
        claim: Claim,
    },
    #[serde(rename_all = "camelCase")]
    Usage {
        uploads_used: Option<u32>,
    },
    SessionStarted,
    Session {
        outcome: SessionUse,
    },
}

impl IndexCommand {
    /// The caller's clock.
    pub fn now(&self) -> UnixSeconds {
        match *self {
            IndexCommand::Insert { now, .. }
            | IndexCommand::Remove { now, .. }
            | IndexCommand::Page { now, .. }
            | IndexCommand::Status { now, .. }
            | IndexCommand::ClaimUpload { now, .. }
            | IndexCommand::Usage { now, .. }
            | IndexCommand::StartSession { now, .. }
            | IndexCommand::RotateSession { now, .. } => now,
        }
    }
}
