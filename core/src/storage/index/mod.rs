//! The project's token index: the authority on which of a project's tokens exist, the order
//! and pages of its listing, and whether a token may still upload.
//!
//! Each project has one index (in the Worker, a SQLite-backed Durable Object named after the
//! project). Handlers see only [`TokenIndex`]; the Worker reaches the object through
//! [`CommandIndex`], which sends an [`IndexCommand`] as JSON and reads an [`IndexReply`]; the
//! object answers with [`SqlIndex::apply`] over its own SQLite. Host tests run the very same
//! path over SQLite in memory ([`crate::testing`]).

mod legacy;
mod sql;

pub use legacy::{import_legacy_index, legacy_import_done, LegacyImport, MAX_PAGES_PER_CALL};
pub use sql::{CommandError, Sql, SqlIndex, SqlParam, SqlRows, SqlValue, TokenRow, NEVER, SCHEMA};

use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::kv::{Kv, StoreError, StoreResult};
use crate::time::UnixSeconds;
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

/// One page of a listing, with the number of active tokens it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPage {
    pub tokens: Vec<UploadToken>,
    pub items_total: usize,
}

/// Where a listing page starts and how long it is, in the order of `sort_by`/`sort_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    pub sort_by: SortKey,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
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
        }
    }
}

/// A project's token index.
#[allow(async_fn_in_trait)]
pub trait TokenIndex {
    /// Adds a new token (idempotent: adding it again changes nothing).
    async fn insert(&self, project: &ProjectId, token: &UploadToken) -> StoreResult<()>;
    /// Removes `token` if it is active at `now`; whether it was. An expired token is left as
    /// it is (it is not the caller's to delete any more).
    async fn remove(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<bool>;
    /// One page of the tokens active at `now`, and how many there are.
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
    /// Rows as `[token, createdAt, ttl]`.
    #[serde(rename_all = "camelCase")]
    Page {
        rows: Vec<TokenRow>,
        items_total: usize,
    },
    Status {
        status: TokenStatus,
    },
    SessionStarted,
    Session {
        outcome: SessionUse,
    },
}

/// How a [`CommandIndex`] reaches a project's index object: sends a command's JSON, returns the
/// reply's JSON.
#[allow(async_fn_in_trait)]
pub trait IndexTransport {
    async fn send(&self, project: &ProjectId, command: String) -> StoreResult<String>;
}

/// A [`TokenIndex`] that sends each operation as an [`IndexCommand`] over a transport, and
/// counts the round trips it made.
pub struct CommandIndex<T> {
    transport: T,
    calls: std::cell::Cell<usize>,
}

impl<T: IndexTransport> CommandIndex<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            calls: std::cell::Cell::new(0),
        }
    }

    /// The transport, for inspection.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Round trips made so far.
    pub fn calls(&self) -> usize {
        self.calls.get()
    }

    async fn call(&self, project: &ProjectId, command: &IndexCommand) -> StoreResult<IndexReply> {
        self.calls.set(self.calls.get() + 1);
        let json = serde_json::to_string(command).expect("a command always serialises");
        let reply = self.transport.send(project, json).await?;
        serde_json::from_str(&reply)
            .map_err(|e| StoreError(format!("unreadable answer of the project index: {e}")))
    }
}

fn unexpected(reply: &IndexReply) -> StoreError {
    StoreError(format!("unexpected answer of the project index: {reply:?}"))
}

impl<T: IndexTransport> TokenIndex for CommandIndex<T> {
    async fn insert(&self, project: &ProjectId, token: &UploadToken) -> StoreResult<()> {
        let command = IndexCommand::Insert {
            token: token.token.to_string(),
            created_at: token.created_at,
            ttl: token.ttl,
            now: token.created_at,
        };
        match self.call(project, &command).await? {
            IndexReply::Inserted => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn remove(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        let command = IndexCommand::Remove {
            token: token.to_string(),
            now,
        };
        match self.call(project, &command).await? {
            IndexReply::Removed { removed } => Ok(removed),
            other => Err(unexpected(&other)),
        }
    }

    async fn page(
        &self,
        project: &ProjectId,
        page: PageRequest,
        now: UnixSeconds,
    ) -> StoreResult<IndexPage> {
        match self
            .call(project, &IndexCommand::Page { page, now })
            .await?
        {
            IndexReply::Page { rows, items_total } => {
                let tokens = rows
                    .into_iter()
                    .map(|(token, created_at, ttl)| {
                        Ok(UploadToken {
                            token: TokenId::parse(&token).ok_or_else(|| {
                                StoreError("the project index holds a malformed token".into())
                            })?,
                            created_at,
                            ttl,
                        })
                    })
                    .collect::<StoreResult<_>>()?;
                Ok(IndexPage {
                    tokens,
                    items_total,
                })
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn status(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<TokenStatus> {
        let command = IndexCommand::Status {
            token: token.to_string(),
            now,
        };
        match self.call(project, &command).await? {
            IndexReply::Status { status } => Ok(status),
            other => Err(unexpected(&other)),
        }
    }

    async fn start_session(
        &self,
        project: &ProjectId,
        sid: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        let sid = sid.to_owned();
        let command = IndexCommand::StartSession {
            sid,
            expires_at,
            now,
        };
        match self.call(project, &command).await? {
            IndexReply::SessionStarted => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn rotate_session(
        &self,
        project: &ProjectId,
        sid: &str,
        seq: u32,
        now: UnixSeconds,
    ) -> StoreResult<SessionUse> {
        let sid = sid.to_owned();
        match self
            .call(project, &IndexCommand::RotateSession { sid, seq, now })
            .await?
        {
            IndexReply::Session { outcome } => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }
}

/// What a project's index object does with one command: on its first use, imports the
/// project's legacy KV index ([`import_legacy_index`]); then carries out the command. A
/// command that arrives while a large import is not finished yet fails (and the next goes on
/// with the import).
pub async fn serve<S: Sql, K: Kv>(
    index: &SqlIndex<S>,
    legacy_kv: &K,
    project: &ProjectId,
    command: &str,
) -> Result<String, CommandError> {
    let parsed: IndexCommand =
        serde_json::from_str(command).map_err(|e| CommandError::Malformed(e.to_string()))?;
    if !legacy_import_done(index).map_err(CommandError::Storage)? {
        let now = parsed.now();
        match import_legacy_index(index, legacy_kv, project, now)
            .await
            .map_err(CommandError::Storage)?
        {
            LegacyImport::Partial(n) => {
                return Err(CommandError::Storage(StoreError(format!(
                    "importing the legacy KV index of project {project}: {n} entries so far, not finished"
                ))))
            }
            LegacyImport::AlreadyDone | LegacyImport::Finished(_) => {}
        }
    }
    let reply = index.apply(parsed).map_err(CommandError::Storage)?;
    Ok(serde_json::to_string(&reply).expect("a reply always serialises"))
}

impl IndexCommand {
    /// The caller's clock.
    pub fn now(&self) -> UnixSeconds {
        match *self {
            IndexCommand::Insert { now, .. }
            | IndexCommand::Remove { now, .. }
            | IndexCommand::Page { now, .. }
            | IndexCommand::Status { now, .. }
            | IndexCommand::StartSession { now, .. }
            | IndexCommand::RotateSession { now, .. } => now,
        }
    }
}
