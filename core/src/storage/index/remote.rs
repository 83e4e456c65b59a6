//! How the Worker reaches a project's index object: each operation of [`TokenIndex`] sent as
//! an [`IndexCommand`] (JSON) over a transport, and what the object does with one ([`serve`]).

use super::{
    import_legacy_index, Claim, CommandError, IndexCommand, IndexPage, IndexReply, LegacyImport,
    Listed, PageRequest, SessionUse, Sql, SqlIndex, TokenIndex, TokenStatus,
};
use crate::ids::TokenId;
use crate::project::ProjectId;
use crate::storage::kv::{Kv, StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::token::UploadToken;

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
            policy: token.policy.clone(),
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
                    .map(|row| {
                        Ok(Listed {
                            token: UploadToken {
                                token: TokenId::parse(&row.token).ok_or_else(|| {
                                    StoreError("the project index holds a malformed token".into())
                                })?,
                                created_at: row.created_at,
                                ttl: row.ttl,
                                policy: row.policy,
                            },
                            uploads_used: row.uploads_used,
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

    async fn claim_upload(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<Claim> {
        let command = IndexCommand::ClaimUpload {
            token: token.to_string(),
            now,
        };
        match self.call(project, &command).await? {
            IndexReply::Claimed { claim } => Ok(claim),
            other => Err(unexpected(&other)),
        }
    }

    async fn uploads_used(
        &self,
        project: &ProjectId,
        token: &TokenId,
        now: UnixSeconds,
    ) -> StoreResult<Option<u32>> {
        let command = IndexCommand::Usage {
            token: token.to_string(),
            now,
        };
        match self.call(project, &command).await? {
            IndexReply::Usage { uploads_used } => Ok(uploads_used),
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
        let command = IndexCommand::RotateSession { sid, seq, now };
        match self.call(project, &command).await? {
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
    // Once the import is known finished, this reads nothing at all.
    match import_legacy_index(index, legacy_kv, project, parsed.now())
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
    let reply = index.apply(parsed).map_err(CommandError::Storage)?;
    Ok(serde_json::to_string(&reply).expect("a reply always serialises"))
}
