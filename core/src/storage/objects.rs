//! The object storage interface (R2): the handful of operations uploads and videos need, so
//! their rules run on the host over [`crate::testing::MemoryObjects`], which behaves like R2
//! (strongly consistent, 1,000-key list pages with a cursor, multipart parts, injected
//! failures), and in the Worker over the R2 binding.

use crate::storage::kv::StoreResult;
use crate::time::UnixSeconds;
use std::collections::BTreeMap;

/// Most keys one `list` call returns, and most keys one `delete` call takes.
pub const PAGE_LIMIT: usize = 1000;

/// What is known of a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// When it was written.
    pub uploaded: UnixSeconds,
    /// Its custom metadata.
    pub custom: BTreeMap<String, String>,
}

/// One `list` answer: at most [`PAGE_LIMIT`] objects in key order, and where the next call
/// starts when there are more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPage {
    pub objects: Vec<ObjectInfo>,
    pub cursor: Option<String>,
}

/// What an object is written with besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObjectMeta<'a> {
    pub content_type: Option<&'a str>,
    pub custom: &'a [(&'a str, &'a str)],
}

/// A write of `dest` as the objects `sources` (of `total` bytes together), one after the other.
#[derive(Debug, Clone, Copy)]
pub struct Concat<'a> {
    pub sources: &'a [String],
    pub total: u64,
    pub dest: &'a str,
    pub meta: ObjectMeta<'a>,
}

/// The object operations the service needs. Futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Objects {
    /// An object's content as the runtime streams it (never read into memory by the core).
    type Body;

    /// The text of a small object (a record or a marker), if it exists.
    async fn get_text(&self, key: &str) -> StoreResult<Option<String>>;
    /// Writes a small object.
    async fn put_text(&self, key: &str, text: &str) -> StoreResult<()>;
    /// Writes a small object only if no object `key` exists (R2's conditional put); whether it
    /// wrote it. Of two requests creating the same key at once, exactly one succeeds.
    async fn create_text(&self, key: &str, text: &str) -> StoreResult<bool>;
    /// The object's size, date and custom metadata, if it exists.
    async fn head(&self, key: &str) -> StoreResult<Option<ObjectInfo>>;
    /// Objects under `prefix` in key order, at most `max` (≤ [`PAGE_LIMIT`]), from the cursor
    /// `from` on.
    async fn list(&self, prefix: &str, from: Option<&str>, max: usize) -> StoreResult<ObjectPage>;
    /// Deletes up to [`PAGE_LIMIT`] objects; missing ones are no error.
    async fn delete(&self, keys: &[String]) -> StoreResult<()>;
    /// Carries out a [`Concat`], streamed inside the runtime. Fails, writing nothing, if a
    /// source is missing.
    async fn concat(&self, job: Concat<'_>) -> StoreResult<()>;
    /// The object's description and content, to send as is.
    async fn open(&self, key: &str) -> StoreResult<Option<(ObjectInfo, Self::Body)>>;
}

/// Every object under `prefix`, walking every page.
pub async fn list_all<O: Objects>(objects: &O, prefix: &str) -> StoreResult<Vec<ObjectInfo>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = objects.list(prefix, cursor.as_deref(), PAGE_LIMIT).await?;
        all.extend(page.objects);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// Deletes `keys`, [`PAGE_LIMIT`] at a time.
pub async fn delete_all<O: Objects>(objects: &O, keys: &[String]) -> StoreResult<()> {
    for batch in keys.chunks(PAGE_LIMIT) {
        objects.delete(batch).await?;
    }
    Ok(())
}
