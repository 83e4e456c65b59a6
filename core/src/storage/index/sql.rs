//! The index as SQL: the table of a project's tokens (with their policies and the count of
//! videos each has made), the table of their metadata, and the statements every operation
//! runs. The Worker's Durable Object runs them over its SQLite storage; host tests over SQLite
//! in memory. The schema and its versions are in [`super::schema`], the listing's statements
//! in [`super::page`].

use super::schema::open_schema;
use super::{Claim, IndexCommand, IndexReply, SessionUse, TokenStatus};
use crate::storage::kv::{StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::policy::Policy;
use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// `expires_at` of a token that never expires: later than any real expiry, and still exact as
/// a JavaScript number (2^53 − 1), which every value crossing into the runtime becomes.
pub const NEVER: i64 = 9_007_199_254_740_991;

const INSERT: &str = "INSERT OR IGNORE INTO tokens (token, created_at, ttl, expires_at, policy, max_uploads) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_METADATA: &str =
    "INSERT OR IGNORE INTO token_metadata (token, key, value) VALUES (?1, ?2, ?3)";
/// Bounded, so that no single write pays for a large backlog of expired tokens. Both
/// statements pick the same 100 tokens (the order is total, and nothing runs between them).
const PURGE_METADATA: &str = "DELETE FROM token_metadata WHERE token IN (SELECT token FROM tokens WHERE expires_at <= ?1 ORDER BY expires_at, created_at, token LIMIT 100)";
const PURGE: &str = "DELETE FROM tokens WHERE token IN (SELECT token FROM tokens WHERE expires_at <= ?1 ORDER BY expires_at, created_at, token LIMIT 100) RETURNING token";
/// Most tokens one purge removes.
const PURGE_BATCH: usize = 100;
/// Seconds between two purges of an object that has no backlog: a purge costs two statements,
/// so a project that creates many tokens a second pays for it once a minute, not on every
/// create. A purge that removed a full batch is followed by another at the next write.
pub const PURGE_INTERVAL: UnixSeconds = 60;
const REMOVE: &str = "DELETE FROM tokens WHERE token = ?1 AND expires_at > ?2 RETURNING token";
const REMOVE_METADATA: &str = "DELETE FROM token_metadata WHERE token = ?1";
const STATUS: &str = "SELECT expires_at FROM tokens WHERE token = ?1";
/// One more video, if the token is active and under its bound (a token without one is counted
/// all the same). One statement: no other command can run between the test and the increment.
const CLAIM: &str = "UPDATE tokens SET uploads_used = uploads_used + 1 WHERE token = ?1 AND expires_at > ?2 AND (max_uploads IS NULL OR uploads_used < max_uploads) RETURNING uploads_used";
const USAGE: &str = "SELECT uploads_used FROM tokens WHERE token = ?1 AND expires_at > ?2";
const SESSION_START: &str =
    "INSERT OR IGNORE INTO sessions (sid, seq, expires_at, revoked) VALUES (?1, 0, ?2, 0)";
const SESSION_PURGE: &str =
    "DELETE FROM sessions WHERE sid IN (SELECT sid FROM sessions WHERE expires_at <= ?1 LIMIT 100)";
const SESSION_GET: &str = "SELECT seq, expires_at, revoked FROM sessions WHERE sid = ?1";
const SESSION_NEXT: &str = "UPDATE sessions SET seq = seq + 1 WHERE sid = ?1 AND seq = ?2";
const SESSION_REVOKE: &str = "UPDATE sessions SET revoked = 1 WHERE sid = ?1";
const META_GET: &str = "SELECT value FROM meta WHERE key = ?1";
const META_SET: &str = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)";

/// A value bound to a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlParam<'a> {
    Null,
    Integer(i64),
    Text(&'a str),
}

/// A value read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl SqlValue {
    pub(crate) fn integer(&self) -> StoreResult<i64> {
        match *self {
            SqlValue::Integer(i) => Ok(i),
            _ => Err(StoreError(format!("expected an integer, read {self:?}"))),
        }
    }

    pub(crate) fn text(self) -> StoreResult<String> {
        match self {
            SqlValue::Text(s) => Ok(s),
            other => Err(StoreError(format!("expected text, read {other:?}"))),
        }
    }
}

/// A listed token as stored: id, creation, ttl, policy, and how many videos it has made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRow {
    pub token: String,
    pub created_at: UnixSeconds,
    pub ttl: u32,
    #[serde(default, skip_serializing_if = "Policy::is_none")]
    pub policy: Policy,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uploads_used: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Rows a statement returned, each a list of column values.
pub type SqlRows = Vec<Vec<SqlValue>>;

/// A SQLite database that runs one statement at a time. Statements run with no `await`
/// between them commit together in a Durable Object; that is all the atomicity this needs.
pub trait Sql {
    fn exec(&self, statement: &str, params: &[SqlParam<'_>]) -> StoreResult<SqlRows>;
}

/// A project's index over its SQLite database.
pub struct SqlIndex<S> {
    pub(crate) sql: S,
    /// How long an expired token is kept (as [`TokenStatus::Expired`]) before it is purged.
    keep_expired: UnixSeconds,
    /// When the next write purges expired tokens (in memory: an object that starts again
    /// purges at its first write).
    purge_due: Cell<UnixSeconds>,
    /// Whether the import of the legacy KV index is known to be finished: once it is, it stays
    /// so, and the `meta` table need not be read again.
    pub(crate) imported: Cell<bool>,
}

fn expires_at(created_at: UnixSeconds, ttl: u32) -> i64 {
    if ttl == 0 {
        NEVER
    } else {
        created_at + i64::from(ttl)
    }
}

/// The first column of the first row, if any.
fn first(rows: SqlRows) -> Option<SqlValue> {
    rows.into_iter().next().and_then(|r| r.into_iter().next())
}

/// A row of the listing's columns: token, created_at, ttl, policy (JSON or NULL), uploads_used.
pub(crate) fn read_token_row(row: Vec<SqlValue>) -> StoreResult<TokenRow> {
    let mut it = row.into_iter();
    let mut next = || {
        it.next()
            .ok_or_else(|| StoreError("a row has too few columns".into()))
    };
    let token = next()?.text()?;
    let created_at = next()?.integer()?;
    let ttl = u32::try_from(next()?.integer()?)
        .map_err(|_| StoreError("a stored ttl is out of range".into()))?;
    let policy = match next()? {
        SqlValue::Null => Policy::default(),
        value => serde_json::from_str(&value.text()?)
            .map_err(|e| StoreError(format!("a stored policy is unreadable: {e}")))?,
    };
    let uploads_used = u32::try_from(next()?.integer()?)
        .map_err(|_| StoreError("a stored count of uploads is out of range".into()))?;
    Ok(TokenRow {
        token,
        created_at,
        ttl,
        policy,
        uploads_used,
    })
}

impl<S: Sql> SqlIndex<S> {
    /// Opens the index, creating its tables or bringing an older object's up to date
    /// ([`super::schema`]). Expired tokens are kept for `keep_expired` seconds (so an upload
    /// they opened may finish), then purged.
    pub fn open(sql: S, keep_expired: u32) -> StoreResult<Self> {
        open_schema(&sql)?;
        Ok(Self {
            sql,
            keep_expired: UnixSeconds::from(keep_expired),
            purge_due: Cell::new(UnixSeconds::MIN),
            imported: Cell::new(false),
        })
    }

    /// The database, for inspection.
    pub fn sql(&self) -> &S {
        &self.sql
    }

    /// Adds a token with its policy unless it is there already, then, if a purge is due
    /// ([`PURGE_INTERVAL`]), purges a bounded number of tokens that expired more than
    /// `keep_expired` before `now`. All statements run with nothing between them: in a Durable
    /// Object they commit together.
    pub fn insert(
        &self,
        token: &str,
        created_at: UnixSeconds,
        ttl: u32,
        policy: &Policy,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        let json = (!policy.is_none())
            .then(|| serde_json::to_string(policy).expect("a policy always serialises"));
        self.sql.exec(
            INSERT,
            &[
                SqlParam::Text(token),
                SqlParam::Integer(created_at),
                SqlParam::Integer(i64::from(ttl)),
                SqlParam::Integer(expires_at(created_at, ttl)),
                json.as_deref().map_or(SqlParam::Null, SqlParam::Text),
                policy
                    .max_uploads
                    .map_or(SqlParam::Null, |n| SqlParam::Integer(i64::from(n))),
            ],
        )?;
        for m in &policy.metadata {
            self.sql.exec(
                INSERT_METADATA,
                &[
                    SqlParam::Text(token),
                    SqlParam::Text(&m.key),
                    SqlParam::Text(&m.value),
                ],
            )?;
        }
        if now >= self.purge_due.get() {
            let purge_before = [SqlParam::Integer(now.saturating_sub(self.keep_expired))];
            self.sql.exec(PURGE_METADATA, &purge_before)?;
            let purged = self.sql.exec(PURGE, &purge_before)?.len();
            let backlog = purged >= PURGE_BATCH;
            self.purge_due.set(if backlog {
                now
            } else {
                now.saturating_add(PURGE_INTERVAL)
            });
        }
        Ok(())
    }

    /// Removes `token` (and its metadata) if it is active at `now`; whether it was.
    pub fn remove(&self, token: &str, now: UnixSeconds) -> StoreResult<bool> {
        let rows = self
            .sql
            .exec(REMOVE, &[SqlParam::Text(token), SqlParam::Integer(now)])?;
        if rows.is_empty() {
            return Ok(false);
        }
        self.sql.exec(REMOVE_METADATA, &[SqlParam::Text(token)])?;
        Ok(true)
    }

    /// What the index knows of `token` at `now`.
    pub fn status(&self, token: &str, now: UnixSeconds) -> StoreResult<TokenStatus> {
        let Some(value) = first(self.sql.exec(STATUS, &[SqlParam::Text(token)])?) else {
            return Ok(TokenStatus::Absent);
        };
        let at = value.integer()?;
        Ok(if now < at {
            TokenStatus::Active
        } else if now < at.saturating_add(self.keep_expired) {
            TokenStatus::Expired
        } else {
            TokenStatus::Absent
        })
    }

    /// Counts one more video made with `token`, if it is active at `now` and has made fewer
    /// than its `maxUploads`.
    pub fn claim_upload(&self, token: &str, now: UnixSeconds) -> StoreResult<Claim> {
        let params = [SqlParam::Text(token), SqlParam::Integer(now)];
        if !self.sql.exec(CLAIM, &params)?.is_empty() {
            return Ok(Claim::Granted);
        }
        Ok(match self.status(token, now)? {
            TokenStatus::Active => Claim::Exhausted,
            TokenStatus::Expired | TokenStatus::Absent => Claim::Absent,
        })
    }

    /// How many videos `token` has made, if it is active at `now`.
    pub fn uploads_used(&self, token: &str, now: UnixSeconds) -> StoreResult<Option<u32>> {
        first(
            self.sql
                .exec(USAGE, &[SqlParam::Text(token), SqlParam::Integer(now)])?,
        )
        .map(|v| {
            u32::try_from(v.integer()?)
                .map_err(|_| StoreError("a stored count of uploads is out of range".into()))
        })
        .transpose()
    }

    /// Carries out one command.
    pub fn apply(&self, command: IndexCommand) -> StoreResult<IndexReply> {
        Ok(match command {
            IndexCommand::Insert {
                token,
                created_at,
                ttl,
                policy,
                now,
            } => {
                self.insert(&token, created_at, ttl, &policy, now)?;
                IndexReply::Inserted
            }
            IndexCommand::Remove { token, now } => IndexReply::Removed {
                removed: self.remove(&token, now)?,
            },
            IndexCommand::Page { page, now } => {
                let (rows, items_total) = self.page(&page, now)?;
                IndexReply::Page { rows, items_total }
            }
            IndexCommand::Status { token, now } => IndexReply::Status {
                status: self.status(&token, now)?,
            },
            IndexCommand::ClaimUpload { token, now } => IndexReply::Claimed {
                claim: self.claim_upload(&token, now)?,
            },
            IndexCommand::Usage { token, now } => IndexReply::Usage {
                uploads_used: self.uploads_used(&token, now)?,
            },
            IndexCommand::StartSession {
                sid,
                expires_at,
                now,
            } => {
                self.start_session(&sid, expires_at, now)?;
                IndexReply::SessionStarted
            }
            IndexCommand::RotateSession { sid, seq, now } => IndexReply::Session {
                outcome: self.rotate_session(&sid, seq, now)?,
            },
        })
    }

    /// Starts a session whose refresh tokens end at `expires_at` (absolute), and purges a
    /// bounded number of sessions that ended before `now`.
    pub fn start_session(
        &self,
        sid: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        self.sql.exec(SESSION_PURGE, &[SqlParam::Integer(now)])?;
        let params = [SqlParam::Text(sid), SqlParam::Integer(expires_at)];
        self.sql.exec(SESSION_START, &params)?;
        Ok(())
    }

    /// Uses the refresh token `seq` of session `sid`: the expected one moves the session on;
    /// one used before ends the whole session (a stolen copy and its owner cannot both go on).
    pub fn rotate_session(&self, sid: &str, seq: u32, now: UnixSeconds) -> StoreResult<SessionUse> {
        let rows = self.sql.exec(SESSION_GET, &[SqlParam::Text(sid)])?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(SessionUse::Unknown);
        };
        let (current, expires_at, revoked) =
            (row[0].integer()?, row[1].integer()?, row[2].integer()?);
        if revoked != 0 || now >= expires_at {
            return Ok(SessionUse::Unknown);
        }
        if current != i64::from(seq) {
            self.sql.exec(SESSION_REVOKE, &[SqlParam::Text(sid)])?;
            return Ok(SessionUse::Reused);
        }
        let params = [SqlParam::Text(sid), SqlParam::Integer(current)];
        self.sql.exec(SESSION_NEXT, &params)?;
        Ok(SessionUse::Rotated)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        meta(&self.sql, key)
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        set_meta(&self.sql, key, value)
    }
}

pub(crate) fn meta<S: Sql>(sql: &S, key: &str) -> StoreResult<Option<String>> {
    first(sql.exec(META_GET, &[SqlParam::Text(key)])?)
        .map(SqlValue::text)
        .transpose()
}

pub(crate) fn set_meta<S: Sql>(sql: &S, key: &str, value: &str) -> StoreResult<()> {
    sql.exec(META_SET, &[SqlParam::Text(key), SqlParam::Text(value)])?;
    Ok(())
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The command was not one this index understands (a 400 from the object).
    Malformed(String),
    /// The storage failed (a 500 from the object).
    Storage(StoreError),
}
