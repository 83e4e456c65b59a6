//! Helpers for exercising the core on the host (feature `testing`): a tiny executor, scripted
//! entropy, an in-memory rate limiter, and the project indexes over SQLite in memory. None of
//! this is part of the Worker.

use crate::http::{LimitScope, Limiter};
use crate::ids::Entropy;
use crate::project::ProjectId;
use crate::storage::index::{
    serve, CommandIndex, IndexTransport, Sql, SqlIndex, SqlRows, SqlValue,
};
use crate::storage::kv::{Kv, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct NoopWaker;

impl Wake for NoopWaker {
    fn wake(self: Arc<Self>) {}
}

/// Runs a future that never waits on anything outside itself (all of the core's futures over
/// [`crate::storage::kv::MemoryKv`] are such) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(NoopWaker));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Entropy that replays a fixed byte sequence, then zeros.
pub struct SeqEntropy {
    bytes: Vec<u8>,
    pos: usize,
}

impl SeqEntropy {
    pub fn new(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.to_vec(),
            pos: 0,
        }
    }
}

impl Entropy for SeqEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.bytes.get(self.pos).copied().unwrap_or(0);
            self.pos += 1;
        }
    }
}

/// A fixed-window limiter: `limit` requests per key and scope until [`MemoryLimiter::reset`].
pub struct MemoryLimiter {
    limit: u32,
    counts: RefCell<HashMap<(bool, String), u32>>,
    failing: bool,
}

impl MemoryLimiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            counts: RefCell::new(HashMap::new()),
            failing: false,
        }
    }

    /// A limiter whose every call fails.
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::new(0)
        }
    }

    /// Starts a new window.
    pub fn reset(&self) {
        self.counts.borrow_mut().clear();
    }
}

impl Limiter for MemoryLimiter {
    async fn allow(&self, scope: LimitScope, key: &str) -> Result<bool, StoreError> {
        if self.failing {
            return Err(StoreError("limiter unavailable".into()));
        }
        let mut counts = self.counts.borrow_mut();
        let n = counts
            .entry((scope == LimitScope::Api, key.to_owned()))
            .or_insert(0);
        *n += 1;
        Ok(*n <= self.limit)
    }
}

/// A SQLite database in memory, as the project index's storage on the host.
pub struct MemorySql {
    conn: rusqlite::Connection,
}

impl Default for MemorySql {
    fn default() -> Self {
        Self {
            conn: rusqlite::Connection::open_in_memory().expect("SQLite opens in memory"),
        }
    }
}

impl Sql for MemorySql {
    fn exec(&self, statement: &str, params: &[SqlValue]) -> Result<SqlRows, StoreError> {
        use rusqlite::types::{Value, ValueRef};
        let failed = |e: rusqlite::Error| StoreError(format!("SQL failed: {e}"));
        let mut stmt = self.conn.prepare_cached(statement).map_err(failed)?;
        let params: Vec<Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => Value::Null,
                SqlValue::Integer(i) => Value::Integer(*i),
                SqlValue::Real(f) => Value::Real(*f),
                SqlValue::Text(s) => Value::Text(s.clone()),
            })
            .collect();
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(failed)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(failed)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(i) => SqlValue::Integer(i),
                    ValueRef::Real(f) => SqlValue::Real(f),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => return Err(StoreError("unexpected blob".into())),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

/// Where an injected failure of the index transport strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexFault {
    /// The command is lost on its way: nothing changes.
    Request,
    /// The command is carried out, but its answer is lost.
    Reply,
}

/// Every project's index object, each over its own SQLite in memory, reached as the Worker
/// reaches the Durable Objects: a command as JSON through [`crate::storage::index::serve`], which also
/// imports a project's legacy KV index on first use (from `legacy_kv`).
pub struct LocalIndexes<K> {
    objects: RefCell<HashMap<String, Rc<SqlIndex<MemorySql>>>>,
    legacy_kv: K,
    keep_expired: u32,
    fault: Cell<Option<(IndexFault, usize)>>,
}

impl<K: Kv> LocalIndexes<K> {
    /// Indexes that keep expired tokens `keep_expired` seconds, importing from `legacy_kv`.
    pub fn new(legacy_kv: K, keep_expired: u32) -> Self {
        Self {
            objects: RefCell::new(HashMap::new()),
            legacy_kv,
            keep_expired,
            fault: Cell::new(None),
        }
    }

    /// Makes the `nth` next command (0 = the very next) fail at `fault`.
    pub fn fail(&self, fault: IndexFault, nth: usize) {
        self.fault.set(Some((fault, nth)));
    }

    /// The legacy KV.
    pub fn legacy_kv(&self) -> &K {
        &self.legacy_kv
    }

    /// The index object of `project` (created on first use, like a Durable Object).
    pub fn object(&self, project: &ProjectId) -> Rc<SqlIndex<MemorySql>> {
        self.objects
            .borrow_mut()
            .entry(project.to_string())
            .or_insert_with(|| {
                Rc::new(
                    SqlIndex::open(MemorySql::default(), self.keep_expired)
                        .expect("the schema applies"),
                )
            })
            .clone()
    }

    /// The fault that strikes this command, if any (each command counts once).
    fn strikes(&self) -> Option<IndexFault> {
        match self.fault.get() {
            Some((kind, 0)) => {
                self.fault.set(None);
                Some(kind)
            }
            Some((kind, n)) => {
                self.fault.set(Some((kind, n - 1)));
                None
            }
            None => None,
        }
    }
}

impl<K: Kv> IndexTransport for LocalIndexes<K> {
    async fn send(&self, project: &ProjectId, command: String) -> Result<String, StoreError> {
        let fault = self.strikes();
        if fault == Some(IndexFault::Request) {
            return Err(StoreError(format!(
                "injected failure: command to the index of {project} lost"
            )));
        }
        let object = self.object(project);
        let reply = serve(&object, &self.legacy_kv, project, &command)
            .await
            .map_err(|e| StoreError(format!("index of {project} failed: {e:?}")))?;
        if fault == Some(IndexFault::Reply) {
            return Err(StoreError(format!(
                "injected failure: answer of the index of {project} lost"
            )));
        }
        Ok(reply)
    }
}

/// The project indexes as the handlers see them, over [`LocalIndexes`].
pub type MemoryIndex<K> = CommandIndex<LocalIndexes<K>>;
