//! The index as SQL: one table of a project's tokens, two covering indexes (one per sort key)
//! that give the listing's total order, and the statements every operation runs. The Worker's
//! Durable Object runs them over its SQLite storage; host tests over SQLite in memory.

use super::{IndexCommand, IndexReply, PageRequest, SessionUse, SortKey, TokenStatus};
use crate::storage::kv::{StoreError, StoreResult};
use crate::time::UnixSeconds;

/// `expires_at` of a token that never expires: later than any real expiry, and still exact as
/// a JavaScript number (2^53 − 1), which every value crossing into the runtime becomes.
pub const NEVER: i64 = 9_007_199_254_740_991;

/// The schema, one statement each; every statement is safe to run again.
///
/// Both indexes end with the primary key, so their order is total: `(created_at, token)` for
/// `createdAt`, `(expires_at, created_at, token)` for `ttl`; a page is one index walk that
/// never touches the table (`ttl` is in both indexes).
pub const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS tokens_by_created ON tokens (created_at, token, expires_at, ttl)",
    "CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at, created_at, token, ttl)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID",
    // Bearer-token sessions: a chain of single-use refresh tokens, `seq` the one expected next.
    "CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL) WITHOUT ROWID",
];

const INSERT: &str =
    "INSERT OR IGNORE INTO tokens (token, created_at, ttl, expires_at) VALUES (?1, ?2, ?3, ?4)";
/// Bounded, so that no single write pays for a large backlog of expired tokens.
const PURGE: &str = "DELETE FROM tokens WHERE token IN (SELECT token FROM tokens WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 100)";
const REMOVE: &str = "DELETE FROM tokens WHERE token = ?1 AND expires_at > ?2 RETURNING token";
const STATUS: &str = "SELECT expires_at FROM tokens WHERE token = ?1";
const COUNT: &str = "SELECT COUNT(*) FROM tokens WHERE expires_at > ?1";
const SESSION_START: &str =
    "INSERT OR IGNORE INTO sessions (sid, seq, expires_at, revoked) VALUES (?1, 0, ?2, 0)";
const SESSION_PURGE: &str =
    "DELETE FROM sessions WHERE sid IN (SELECT sid FROM sessions WHERE expires_at <= ?1 LIMIT 100)";
const SESSION_GET: &str = "SELECT seq, expires_at, revoked FROM sessions WHERE sid = ?1";
const SESSION_NEXT: &str = "UPDATE sessions SET seq = seq + 1 WHERE sid = ?1 AND seq = ?2";
const SESSION_REVOKE: &str = "UPDATE sessions SET revoked = 1 WHERE sid = ?1";
const META_GET: &str = "SELECT value FROM meta WHERE key = ?1";
const META_SET: &str = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)";

/// One statement per sort key and order: column names cannot be bound.
fn page_statement(sort_by: SortKey, descending: bool) -> &'static str {
    match (sort_by, descending) {
        (SortKey::CreatedAt, false) => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY created_at ASC, token ASC LIMIT ?2 OFFSET ?3",
        (SortKey::CreatedAt, true) => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY created_at DESC, token DESC LIMIT ?2 OFFSET ?3",
        (SortKey::Ttl, false) => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY expires_at ASC, created_at ASC, token ASC LIMIT ?2 OFFSET ?3",
        (SortKey::Ttl, true) => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY expires_at DESC, created_at DESC, token DESC LIMIT ?2 OFFSET ?3",
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlParam<'a> {
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
    fn integer(&self) -> StoreResult<i64> {
        match *self {
            SqlValue::Integer(i) => Ok(i),
            _ => Err(StoreError(format!("expected an integer, read {self:?}"))),
        }
    }

    fn text(self) -> StoreResult<String> {
        match self {
            SqlValue::Text(s) => Ok(s),
            other => Err(StoreError(format!("expected text, read {other:?}"))),
        }
    }
}

/// A listed token as stored: `(token, createdAt, ttl)`.
pub type TokenRow = (String, UnixSeconds, u32);

/// Rows a statement returned, each a list of column values.
pub type SqlRows = Vec<Vec<SqlValue>>;

/// A SQLite database that runs one statement at a time. Statements run with no `await`
/// between them commit together in a Durable Object; that is all the atomicity this needs.
pub trait Sql {
    fn exec(&self, statement: &str, params: &[SqlParam<'_>]) -> StoreResult<SqlRows>;
}

/// A project's index over its SQLite database.
pub struct SqlIndex<S> {
    sql: S,
    /// How long an expired token is kept (as [`TokenStatus::Expired`]) before it is purged.
    keep_expired: UnixSeconds,
}

fn expires_at(created_at: UnixSeconds, ttl: u32) -> i64 {
    if ttl == 0 {
        NEVER
    } else {
        created_at + i64::from(ttl)
    }
}

fn read_token_row(row: Vec<SqlValue>) -> StoreResult<TokenRow> {
    let mut it = row.into_iter();
    let mut next = || {
        it.next()
            .ok_or_else(|| StoreError("a row has too few columns".into()))
    };
    let token = next()?.text()?;
    let created_at = next()?.integer()?;
    let ttl = u32::try_from(next()?.integer()?)
        .map_err(|_| StoreError("a stored ttl is out of range".into()))?;
    Ok((token, created_at, ttl))
}

impl<S: Sql> SqlIndex<S> {
    /// Opens the index, creating its tables if needed. Expired tokens are kept for
    /// `keep_expired` seconds (so an upload they opened may finish), then purged.
    pub fn open(sql: S, keep_expired: u32) -> StoreResult<Self> {
        for statement in SCHEMA {
            sql.exec(statement, &[])?;
        }
        Ok(Self {
            sql,
            keep_expired: UnixSeconds::from(keep_expired),
        })
    }

    /// The database, for inspection.
    pub fn sql(&self) -> &S {
        &self.sql
    }

    /// Adds a token unless it is there already, then purges a bounded number of tokens that
    /// expired more than `keep_expired` before `now`.
    pub fn insert(
        &self,
        token: &str,
        created_at: UnixSeconds,
        ttl: u32,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        self.sql.exec(
            INSERT,
            &[
                SqlParam::Text(token),
                SqlParam::Integer(created_at),
                SqlParam::Integer(i64::from(ttl)),
                SqlParam::Integer(expires_at(created_at, ttl)),
            ],
        )?;
        self.sql.exec(
            PURGE,
            &[SqlParam::Integer(now.saturating_sub(self.keep_expired))],
        )?;
        Ok(())
    }

    /// Removes `token` if it is active at `now`; whether it was.
    pub fn remove(&self, token: &str, now: UnixSeconds) -> StoreResult<bool> {
        let rows = self
            .sql
            .exec(REMOVE, &[SqlParam::Text(token), SqlParam::Integer(now)])?;
        Ok(!rows.is_empty())
    }

    /// What the index knows of `token` at `now`.
    pub fn status(&self, token: &str, now: UnixSeconds) -> StoreResult<TokenStatus> {
        let rows = self.sql.exec(STATUS, &[SqlParam::Text(token)])?;
        let Some(value) = rows.into_iter().next().and_then(|r| r.into_iter().next()) else {
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

    /// How many tokens are active at `now`.
    pub fn count(&self, now: UnixSeconds) -> StoreResult<usize> {
        let rows = self.sql.exec(COUNT, &[SqlParam::Integer(now)])?;
        let n = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| StoreError("COUNT returned no row".into()))?
            .integer()?;
        usize::try_from(n).map_err(|_| StoreError("COUNT is negative".into()))
    }

    /// One page of the tokens active at `now`, and how many there are. A page past the end
    /// reads no row.
    pub fn page(&self, page: PageRequest, now: UnixSeconds) -> StoreResult<(Vec<TokenRow>, usize)> {
        let total = self.count(now)?;
        if page.offset >= total as u64 {
            return Ok((Vec::new(), total));
        }
        let rows = self.sql.exec(
            page_statement(page.sort_by, page.descending),
            &[
                SqlParam::Integer(now),
                SqlParam::Integer(i64::from(page.limit)),
                SqlParam::Integer(page.offset as i64),
            ],
        )?;
        let rows = rows
            .into_iter()
            .map(read_token_row)
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// Carries out one command.
    pub fn apply(&self, command: IndexCommand) -> StoreResult<IndexReply> {
        Ok(match command {
            IndexCommand::Insert {
                token,
                created_at,
                ttl,
                now,
            } => {
                self.insert(&token, created_at, ttl, now)?;
                IndexReply::Inserted
            }
            IndexCommand::Remove { token, now } => IndexReply::Removed {
                removed: self.remove(&token, now)?,
            },
            IndexCommand::Page { page, now } => {
                let (rows, items_total) = self.page(page, now)?;
                IndexReply::Page { rows, items_total }
            }
            IndexCommand::Status { token, now } => IndexReply::Status {
                status: self.status(&token, now)?,
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
    ) -> Result<(), StoreError> {
        self.sql.exec(SESSION_PURGE, &[SqlParam::Integer(now)])?;
        self.sql.exec(
            SESSION_START,
            &[SqlParam::Text(sid), SqlParam::Integer(expires_at)],
        )?;
        Ok(())
    }

    /// Uses the refresh token `seq` of session `sid`: the expected one moves the session on;
    /// one used before ends the whole session (a stolen copy and its owner cannot both go on).
    pub fn rotate_session(
        &self,
        sid: &str,
        seq: u32,
        now: UnixSeconds,
    ) -> Result<SessionUse, StoreError> {
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
        self.sql.exec(
            SESSION_NEXT,
            &[SqlParam::Text(sid), SqlParam::Integer(current)],
        )?;
        Ok(SessionUse::Rotated)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let rows = self.sql.exec(META_GET, &[SqlParam::Text(key)])?;
        rows.into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .map(SqlValue::text)
            .transpose()
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.sql
            .exec(META_SET, &[SqlParam::Text(key), SqlParam::Text(value)])?;
        Ok(())
    }
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The command was not one this index understands (a 400 from the object).
    Malformed(String),
    /// The storage failed (a 500 from the object).
    Storage(StoreError),
}
