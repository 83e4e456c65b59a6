//! An in-memory KV that behaves like Workers KV: expiry, 1000-key list pages with a cursor,
//! the 60 s minimum `expirationTtl`, key and metadata limits; it counts every operation and
//! fails one on request.

use super::FailurePlan;
use crate::storage::kv::{
    Kv, ListChunk, ListedKey, Op, OpCounts, PutOptions, StoreError, StoreResult, LIST_PAGE_LIMIT,
};
use crate::time::UnixSeconds;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

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
    failure: FailurePlan<Op>,
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
            failure: FailurePlan::default(),
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
        self.failure.set(op, nth);
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

    /// Every entry, expired or not, with its value, metadata and expiry, one line each in key
    /// order: equal snapshots mean nothing was written or removed in between.
    pub fn snapshot(&self) -> Vec<String> {
        self.entries
            .borrow()
            .iter()
            .map(|(k, e)| format!("{k} = {} {:?} {:?}", e.value, e.metadata, e.expires_at))
            .collect()
    }

    fn record(&self, op: Op, key: &str) -> StoreResult<()> {
        let mut c = self.counts.get();
        c.add(op);
        self.counts.set(c);
        match self.failure.strikes(|kind| kind == op) {
            Some(_) => Err(StoreError(format!("injected {op:?} failure on {key}"))),
            None => Ok(()),
        }
    }

    fn live(&self, e: &Entry) -> bool {
        e.expires_at.is_none_or(|at| self.now.get() < at)
    }
}

impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.record(Op::Read, key)?;
        Ok(self
            .entries
            .borrow()
            .get(key)
            .filter(|e| self.live(e))
            .map(|e| e.value.clone()))
    }

    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> StoreResult<()> {
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

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.record(Op::Delete, key)?;
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> StoreResult<ListChunk> {
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
        Ok(ListChunk { cursor, keys })
    }
}
