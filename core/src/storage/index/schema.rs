//! The index's tables, and how an object made by an earlier version is brought up to date.
//!
//! Every object runs [`SCHEMA`] (the first version's tables, each statement safe to run again)
//! whenever it starts, then each migration its `meta` row `schemaVersion` says it has not had
//! (an object without the row is at version 1), setting the row after each. In a Durable
//! Object all of this runs in its constructor, with no `await`, so a migration's statements and
//! its version row commit together: an object is either wholly at the old version or wholly at
//! the new one, and a failed start tries again on the next.

use super::sql::{meta, set_meta, Sql};
use crate::storage::kv::{StoreError, StoreResult};

/// The first version: one table of a project's tokens and two covering indexes (one per sort
/// key) that give the listing's total order: `(created_at, token)` for `createdAt`,
/// `(expires_at, created_at, token)` for `ttl`. Both end with the primary key, and `ttl` is in
/// both, so a page of tokens without policies is one index walk that never touches the table.
pub const SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY NOT NULL, created_at INTEGER NOT NULL, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS tokens_by_created ON tokens (created_at, token, expires_at, ttl)",
    "CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_at, created_at, token, ttl)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID",
];

/// What each later version adds: `MIGRATIONS[i]` takes an object from version `i + 1` to
/// `i + 2`.
///
/// Version 2, token policies: each token's policy as the API shows it (JSON, `NULL` for none),
/// its `maxUploads` and the count of videos it has made as columns the upload path updates in
/// one statement, and a table of its metadata pairs with an index by `(key, value)` for the
/// listing's filters. Existing rows get no policy and a count of 0.
///
/// Version 3, bearer-token sessions: a chain of single-use refresh tokens per session, `seq`
/// the one expected next, `revoked` once a used one came back.
pub const MIGRATIONS: [&[&str]; 2] = [
    &[
        "ALTER TABLE tokens ADD COLUMN policy TEXT",
        "ALTER TABLE tokens ADD COLUMN max_uploads INTEGER",
        "ALTER TABLE tokens ADD COLUMN uploads_used INTEGER NOT NULL DEFAULT 0",
        "CREATE TABLE IF NOT EXISTS token_metadata (token TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (token, key)) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS token_metadata_by_pair ON token_metadata (key, value, token)",
    ],
    &["CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL) WITHOUT ROWID"],
];

/// The version this code writes and reads.
pub const SCHEMA_VERSION: u32 = 1 + MIGRATIONS.len() as u32;

/// The `meta` key holding an object's version.
pub const VERSION_KEY: &str = "schemaVersion";

/// The version the object of `sql` is at (1 without a `schemaVersion` row).
pub fn schema_version<S: Sql>(sql: &S) -> StoreResult<u32> {
    match meta(sql, VERSION_KEY)? {
        None => Ok(1),
        Some(v) => v
            .parse()
            .map_err(|_| StoreError(format!("unreadable schema version {v:?}"))),
    }
}

/// Creates the tables if needed and applies the migrations the object has not had. An object
/// already at a later version (written by newer code) is left as it is.
pub fn open_schema<S: Sql>(sql: &S) -> StoreResult<()> {
    for statement in SCHEMA {
        sql.exec(statement, &[])?;
    }
    let mut version = schema_version(sql)?;
    while version < SCHEMA_VERSION {
        for statement in MIGRATIONS[version as usize - 1] {
            sql.exec(statement, &[])?;
        }
        version += 1;
        set_meta(sql, VERSION_KEY, &version.to_string())?;
    }
    Ok(())
}
