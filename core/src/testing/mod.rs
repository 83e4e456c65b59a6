//! Helpers for exercising the core on the host (feature `testing`): in-memory KV, R2 and project
//! indexes that behave like the real ones (limits, counts, injected failures), an upload form
//! body, a tiny executor, scripted entropy and a rate limiter. None of this is part of the
//! Worker.

mod form;
pub mod harness;
mod index;
mod kv;
mod objects;

pub use form::FormBody;
pub use index::{IndexFault, LocalIndexes, MemoryIndex, SqliteSql};
pub use kv::MemoryKv;
pub use objects::{MemoryObjects, ObjectOp};

use crate::http::{LimitScope, Limiter};
use crate::ids::Entropy;
use crate::storage::kv::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A failure planned for the n-th next operation (0 = the very next) that matches, as the
/// in-memory stores inject them. What is counted, and what matches, is the caller's kind of
/// operation `T`.
pub(crate) struct FailurePlan<T> {
    next: std::cell::Cell<Option<(T, usize)>>,
}

impl<T: Copy> Default for FailurePlan<T> {
    fn default() -> Self {
        Self {
            next: std::cell::Cell::new(None),
        }
    }
}

impl<T: Copy> FailurePlan<T> {
    /// Plans a failure of the `nth` next operation that `kind` matches.
    pub(crate) fn set(&self, kind: T, nth: usize) {
        self.next.set(Some((kind, nth)));
    }

    /// Cancels the plan.
    pub(crate) fn clear(&self) {
        self.next.set(None);
    }

    /// Counts one operation; the planned kind if this one is to fail. `matches` says whether
    /// the planned kind applies to it.
    pub(crate) fn strikes(&self, matches: impl Fn(T) -> bool) -> Option<T> {
        match self.next.get() {
            Some((kind, 0)) if matches(kind) => {
                self.next.set(None);
                Some(kind)
            }
            Some((kind, n)) if matches(kind) => {
                self.next.set(Some((kind, n - 1)));
                None
            }
            _ => None,
        }
    }
}

struct NoopWaker;

impl Wake for NoopWaker {
    fn wake(self: Arc<Self>) {}
}

/// Runs a future that never waits on anything outside itself (all of the core's futures over
/// [`MemoryKv`] are such) to completion.
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
