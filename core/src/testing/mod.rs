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
pub use index::{IndexFault, LocalIndexes, MemoryIndex, MemorySql};
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
