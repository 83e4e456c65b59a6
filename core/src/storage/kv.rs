//! The storage interface: the handful of Workers KV operations the service uses, with an
//! in-memory implementation that behaves like KV (expiry, 1000-key list pages with a cursor,
//! the 60 s minimum `expirationTtl`) and counts every operation.

use crate::time::UnixSeconds;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;

/// Most keys a single `list` call returns.
pub const LIST_PAGE_LIMIT: usize = 1000;

/// A storage failure, with detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One key of a `list` answer, with its metadata (a string, as this service writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedKey {
    pub name: String,
    pub metadata: Option<String>,
}

/// One `list` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListChunk {
    pub keys: Vec<ListedKey>,
    /// Where the next call starts, when `complete` is false.
    pub cursor: Option<String>,
    pub complete: bool,
}

/// Reads the keys of a `list` page that the Worker's JavaScript side packed into one string, a
/// line per key: `name` TAB `metadata`, the metadata empty when it is absent or not a string.
/// A line without a tab is a key without metadata; an empty string is no keys.
pub fn unpack_listed_keys(packed: &str) -> Vec<ListedKey> {
    if packed.is_empty() {
        return Vec::new();
    }
    packed
        .split('\n')
        .map(|line| match line.split_once('\t') {
            Some((name, metadata)) => ListedKey {
                name: name.to_owned(),
                metadata: (!metadata.is_empty()).then(|| metadata.to_owned()),
            },
            None => ListedKey {
                name: line.to_owned(),
                metadata: None,
            },
        })
        .collect()
}

/// What a KV write may carry besides the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions<'a> {
    /// Metadata, stored as a JSON string and returned by `list`.
    pub metadata: Option<&'a str>,
    /// Seconds until the entry disappears (KV refuses less than 60).
    pub expiration_ttl: Option<u32>,
}

/// The key-value operations the service needs. Implemented over Workers KV by the Worker and
/// in memory here. Futures need not be `Send`: a Worker is single-threaded.
#[allow(async_fn_in_trait)]
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Keys starting with `prefix`, in ascending byte order, from `cursor` on.
    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListChunk, StoreError>;
}

/// A shared or borrowed store is the same store (the Worker's KV binding is shared the same way).
macro_rules! forward_kv {
    ($($ty:ty),*) => {$(
        impl<K: Kv> Kv for $ty {
            async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
                (**self).get(key).await
            }
            async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> Result<(), StoreError> {
                (**self).put(key, value, options).await
            }
            async fn delete(&self, key: &str) -> Result<(), StoreError> {
                (**self).delete(key).await
            }
            async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListChunk, StoreError> {
                (**self).list(prefix, cursor).await
            }
        }
    )*};
}
forward_kv!(std::rc::Rc<K>, &K);

/// Counts of operations, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub reads: usize,
    pub writes: usize,
    pub deletes: usize,
    pub lists: usize,
}

/// Kinds of operation, for counting and failure injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Delete,
    List,
}

struct Entry {
    value: String,
    metadata: Option<String>,
    expires_at: Option<UnixSeconds>,
}

/// An in-memory KV with a settable clock, operation counters and injectable failures.
pub struct MemoryKv {
    entries: RefCell<BTreeMap<String, Entry>>,
    now: Cell<UnixSeconds>,
    counts: Cell<OpCounts>,
    /// Fail the n-th (0-based, counted from when it was set) operation of this kind.
    failure: Cell<Option<(Op, usize)>>,
    page_limit: usize,
}

impl MemoryKv {
    /// An empty store whose clock reads `now`.
    pub fn new(now: UnixSeconds) -> Self {
        Self::with_page_limit(now, LIST_PAGE_LIMIT)
    }

    /// An empty store whose `list` returns at most `page_limit` keys per call.
    pub fn with_page_limit(now: UnixSeconds, page_limit: usize) -> Self {
        Self {
            entries: RefCell::new(BTreeMap::new()),
            now: Cell::new(now),
            counts: Cell::new(OpCounts::default()),
            failure: Cell::new(None),
            page_limit,
        }
    }

    /// Moves the clock that expiry is judged by.
    pub fn set_now(&self, now: UnixSeconds) {
        self.now.set(now);
    }

    /// Operations performed so far.
    pub fn counts(&self) -> OpCounts {
        self.counts.get()
    }

    /// Resets the operation counters.
    pub fn reset_counts(&self) {
        self.counts.set(OpCounts::default());
    }

    /// Makes the `nth` next operation of kind `op` (0 = the very next) fail.
    pub fn fail(&self, op: Op, nth: usize) {
        self.failure.set(Some((op, nth)));
    }

    /// Removes a key directly, bypassing the counters (to set up a damaged state).
    pub fn remove_raw(&self, key: &str) -> bool {
        self.entries.borrow_mut().remove(key).is_some()
    }

    /// All live keys, for inspection.
    pub fn keys(&self) -> Vec<String> {
        let now = self.now.get();
        self.entries
            .borrow()
            .iter()
            .filter(|(_, e)| e.expires_at.is_none_or(|at| now < at))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn record(&self, op: Op, key: &str) -> Result<(), StoreError> {
        let mut c = self.counts.get();
        match op {
            Op::Read => c.reads += 1,
            Op::Write => c.writes += 1,
            Op::Delete => c.deletes += 1,
            Op::List => c.lists += 1,
        }
        self.counts.set(c);
        match self.failure.get() {
            Some((kind, 0)) if kind == op => {
                self.failure.set(None);
                Err(StoreError(format!("injected {op:?} failure on {key}")))
            }
            Some((kind, n)) if kind == op => {
                self.failure.set(Some((kind, n - 1)));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn live(&self, e: &Entry) -> bool {
        e.expires_at.is_none_or(|at| self.now.get() < at)
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.record(Op::Read, key)?;
        Ok(self
            .entries
            .borrow()
            .get(key)
            .filter(|e| self.live(e))
            .map(|e| e.value.clone()))
    }

    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> Result<(), StoreError> {
        self.record(Op::Write, key)?;
        if key.is_empty() || key.len() > 512 {
            return Err(StoreError(format!(
                "KV PUT failed: 414 key of {} bytes",
                key.len()
            )));
        }
        if let Some(ttl) = options.expiration_ttl {
            if ttl < 60 {
                return Err(StoreError(
                    "KV PUT failed: 400 Invalid expiration_ttl of less than 60".into(),
                ));
            }
        }
        if options.metadata.is_some_and(|m| m.len() + 2 > 1024) {
            return Err(StoreError("KV PUT failed: 413 metadata too large".into()));
        }
        let expires_at = options
            .expiration_ttl
            .map(|ttl| self.now.get() + UnixSeconds::from(ttl));
        self.entries.borrow_mut().insert(
            key.to_owned(),
            Entry {
                value: value.to_owned(),
                metadata: options.metadata.map(str::to_owned),
                expires_at,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.record(Op::Delete, key)?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListChunk, StoreError> {
        self.record(Op::List, prefix)?;
        let entries = self.entries.borrow();
        let start = cursor.unwrap_or(prefix);
        let mut keys = Vec::new();
        let mut more = false;
        for (name, e) in entries.range(start.to_owned()..) {
            if !name.starts_with(prefix) {
                break;
            }
            if cursor.is_some_and(|c| name.as_str() == c) || !self.live(e) {
                continue;
            }
            if keys.len() == self.page_limit {
                more = true;
                break;
            }
            keys.push(ListedKey {
                name: name.clone(),
                metadata: e.metadata.clone(),
            });
        }
        let cursor = more.then(|| keys.last().map(|k| k.name.clone())).flatten();
        Ok(ListChunk {
            complete: !more,
            cursor,
            keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, metadata: Option<&str>) -> ListedKey {
        ListedKey {
            name: name.to_owned(),
            metadata: metadata.map(str::to_owned),
        }
    }

    #[test]
    fn an_empty_page_has_no_keys() {
        assert_eq!(unpack_listed_keys(""), Vec::<ListedKey>::new());
    }

    #[test]
    fn lines_are_keys_and_the_tab_separates_the_metadata() {
        let packed = "idx:p:0000000010:toA\t10,3600\nidx:p:0000000011:toB\t11,0";
        assert_eq!(
            unpack_listed_keys(packed),
            vec![
                key("idx:p:0000000010:toA", Some("10,3600")),
                key("idx:p:0000000011:toB", Some("11,0")),
            ]
        );
    }

    #[test]
    fn missing_metadata_is_none_with_or_without_the_tab() {
        assert_eq!(
            unpack_listed_keys("a\t\nb\nc\tx"),
            vec![key("a", None), key("b", None), key("c", Some("x"))]
        );
    }

    #[test]
    fn a_metadata_keeps_any_later_tab() {
        assert_eq!(unpack_listed_keys("a\tx\ty"), vec![key("a", Some("x\ty"))]);
    }
}
