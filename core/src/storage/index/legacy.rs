//! Moving a project's index out of KV: earlier versions kept it as KV entries
//! `idx:{project}:{createdAt:010}:{token}` (see [`crate::tokens::store::legacy`]). On a project's first
//! use of its index, those entries are copied into it, a KV `list` page at a time.
//!
//! Safe to interrupt and to run again: every row is inserted only if absent, and the cursor of
//! the next page is saved after each page, so an interrupted import resumes where it stopped.
//! Nothing is deleted from KV: the old entries expire with their tokens (and a never-expiring
//! one stays, unread, costing only its storage).

use super::{Sql, SqlIndex};
use crate::project::ProjectId;
use crate::storage::kv::{Kv, StoreError, StoreResult};
use crate::time::UnixSeconds;
use crate::tokens::store::legacy;

/// The `meta` key holding the import's progress: `done`, or the cursor of the next page.
const PROGRESS: &str = "legacyKvImport";
const DONE: &str = "done";

/// Most KV pages one call imports, so a call stays well within the runtime's 1,000 KV
/// operations per invocation; a larger index takes several calls.
pub const MAX_PAGES_PER_CALL: usize = 500;

/// What a call of [`import_legacy_index`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyImport {
    /// Finished before this call: nothing was read.
    AlreadyDone,
    /// Finished by this call, after importing this many entries.
    Finished(usize),
    /// Not finished: this many entries were imported, and the next call goes on.
    Partial(usize),
}

/// Where the import stands.
enum Progress {
    Finished,
    /// Not finished: the cursor of the next page (`None` for the first).
    Next(Option<String>),
}

/// One SQL read until the import is seen finished, none after.
fn progress<S: Sql>(index: &SqlIndex<S>) -> StoreResult<Progress> {
    if index.imported.get() {
        return Ok(Progress::Finished);
    }
    Ok(match index.meta(PROGRESS)? {
        Some(done) if done == DONE => {
            index.imported.set(true);
            Progress::Finished
        }
        cursor => Progress::Next(cursor),
    })
}

/// Whether the import is finished (no KV operation; see [`progress`] for SQL).
pub fn legacy_import_done<S: Sql>(index: &SqlIndex<S>) -> StoreResult<bool> {
    Ok(matches!(progress(index)?, Progress::Finished))
}

/// Copies `project`'s legacy KV index entries into `index`, at most
/// [`MAX_PAGES_PER_CALL`] pages per call.
pub async fn import_legacy_index<S: Sql, K: Kv>(
    index: &SqlIndex<S>,
    kv: &K,
    project: &ProjectId,
    now: UnixSeconds,
) -> StoreResult<LegacyImport> {
    let Progress::Next(mut cursor) = progress(index)? else {
        return Ok(LegacyImport::AlreadyDone);
    };
    let prefix = legacy::index_prefix(project);
    let mut imported = 0;
    for _ in 0..MAX_PAGES_PER_CALL {
        let chunk = kv.list(&prefix, cursor.as_deref()).await?;
        for key in &chunk.keys {
            let token =
                legacy::parse_index_entry(&key.name, key.metadata.as_deref()).ok_or_else(|| {
                    StoreError(format!(
                        "unreadable legacy index entry under project {project}"
                    ))
                })?;
            index.insert(
                token.token.as_str(),
                token.created_at,
                token.ttl,
                &token.policy,
                now,
            )?;
            imported += 1;
        }
        match chunk.cursor {
            Some(next) => {
                index.set_meta(PROGRESS, &next)?;
                cursor = Some(next);
            }
            None => {
                index.set_meta(PROGRESS, DONE)?;
                index.imported.set(true);
                return Ok(LegacyImport::Finished(imported));
            }
        }
    }
    Ok(LegacyImport::Partial(imported))
}
