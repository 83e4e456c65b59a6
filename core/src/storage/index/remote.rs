//! How the Worker reaches a project's index object: each operation of [`TokenIndex`] sent as
//! an [`IndexCommand`] (JSON) over a transport, and what the object does with one ([`serve`]).

use super::{
    import_legacy_index, Claim, CommandError, IndexCommand, IndexPage, IndexReply, LegacyImport,
    Listed, PageRequest, SessionUse, Sql, SqlIndex, TokenIndex, TokenRow, TokenStatus,
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

/// The methods of [`TokenIndex`] on a [`CommandIndex`], all of one shape: `fn NAME(ARGS) -> T
/// { COMMAND } => REPLY => VALUE;` sends COMMAND to the project's object and, if the answer
/// matches the pattern REPLY, returns VALUE (any other answer is an error).
macro_rules! command_methods {
    ($(
        fn $name:ident($($arg:ident: $ty:ty),*) -> $out:ty { $command:expr }
            => $reply:pat => $value:expr;
    )*) => {$(
        async fn $name(&self, project: &ProjectId, $($arg: $ty),*) -> StoreResult<$out> {
            match self.call(project, &$command).await? {
                $reply => Ok($value),
                other => Err(unexpected(&other)),
            }
        }
    )*};
}

impl<T: IndexTransport> TokenIndex for CommandIndex<T> {
    command_methods! {
        fn insert(token: &UploadToken) -> () {
            IndexCommand::Insert {
                token: token.token.to_string(),
                created_at: token.created_at,
                ttl: token.ttl,
                policy: token.policy.clone(),
                now: token.created_at,
            }
        } => IndexReply::Inserted => ();

        fn remove(token: &TokenId, now: UnixSeconds) -> bool {
            IndexCommand::Remove { token: token.to_string(), now }
        } => IndexReply::Removed { removed } => removed;

        fn page(page: PageRequest, now: UnixSeconds) -> IndexPage {
            IndexCommand::Page { page, now }
        } => IndexReply::Page { rows, items_total } => IndexPage {
            tokens: rows.into_iter().map(listed).collect::<StoreResult<_>>()?,
            items_total,
        };

        fn status(token: &TokenId, now: UnixSeconds) -> TokenStatus {
            IndexCommand::Status { token: token.to_string(), now }
        } => IndexReply::Status { status } => status;

        fn claim_upload(token: &TokenId, now: UnixSeconds) -> Claim {
            IndexCommand::ClaimUpload { token: token.to_string(), now }
        } => IndexReply::Claimed { claim } => claim;

        fn uploads_used(token: &TokenId, now: UnixSeconds) -> Option<u32> {
            IndexCommand::Usage { token: token.to_string(), now }
        } => IndexReply::Usage { uploads_used } => uploads_used;

        fn start_session(sid: &str, expires_at: UnixSeconds, now: UnixSeconds) -> () {
            IndexCommand::StartSession { sid: sid.to_owned(), expires_at, now }
        } => IndexReply::SessionStarted => ();

        fn rotate_session(sid: &str, seq: u32, now: UnixSeconds) -> SessionUse {
            IndexCommand::RotateSession { sid: sid.to_owned(), seq, now }
        } => IndexReply::Session { outcome } => outcome;
    }
}

/// The response header a reply travels in when it is short and plain ([`reply_fits_header`]):
/// the caller then reads no body, which costs less than a body on the way back.
pub const REPLY_HEADER: &str = "Index-Reply";
/// Longest reply sent in [`REPLY_HEADER`]; a page of rows is usually longer and goes in the
/// body.
pub const MAX_HEADER_REPLY: usize = 256;

/// Whether a reply's JSON may travel in [`REPLY_HEADER`]: at most [`MAX_HEADER_REPLY`] bytes,
/// all printable ASCII (a header value cannot hold control characters, and other bytes would
/// not read back the same everywhere).
pub fn reply_fits_header(json: &str) -> bool {
    json.len() <= MAX_HEADER_REPLY && json.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A row of a page as the object sent it, checked.
fn listed(row: TokenRow) -> StoreResult<Listed> {
    let token = TokenId::parse(&row.token)
        .ok_or_else(|| StoreError("the project index holds a malformed token".into()))?;
    Ok(Listed {
        token: UploadToken {
            token,
            created_at: row.created_at,
            ttl: row.ttl,
            policy: row.policy,
        },
        uploads_used: row.uploads_used,
    })
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
