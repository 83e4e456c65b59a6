//! The storage interface over a Workers KV namespace.

use std::cell::Cell;
use upload_tokens_core::kv::{Kv, ListChunk, ListedKey, Op, OpCounts, PutOptions, StoreError};
use worker::kv::{KvError, KvStore};

/// KV through the `worker` crate's bindings.
pub struct WorkersKv {
    store: KvStore,
    /// `cacheTtl` for reads, when they should be fresher than KV's default.
    cache_ttl: Option<u64>,
    counts: Cell<OpCounts>,
}

impl WorkersKv {
    pub fn new(store: KvStore) -> Self {
        Self {
            store,
            cache_ttl: None,
            counts: Cell::new(OpCounts::default()),
        }
    }

    /// Reads through this store are cached at the edge for at most `seconds`.
    pub fn with_cache_ttl(store: KvStore, seconds: u64) -> Self {
        Self {
            store,
            cache_ttl: Some(seconds),
            counts: Cell::new(OpCounts::default()),
        }
    }

    /// Operations this store has performed, for the `Server-Timing` figures the benchmark reads.
    pub fn counts(&self) -> OpCounts {
        self.counts.get()
    }

    fn count(&self, op: Op) {
        let mut c = self.counts.get();
        match op {
            Op::Read => c.reads += 1,
            Op::Write => c.writes += 1,
            Op::Delete => c.deletes += 1,
            Op::List => c.lists += 1,
        }
        self.counts.set(c);
    }
}

fn store_error(op: &str) -> impl Fn(KvError) -> StoreError + '_ {
    move |e| StoreError(format!("KV {op} failed: {e}"))
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(Op::Read);
        let mut get = self.store.get(key);
        if let Some(ttl) = self.cache_ttl {
            get = get.cache_ttl(ttl);
        }
        get.text().await.map_err(store_error("GET"))
    }

    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> Result<(), StoreError> {
        self.count(Op::Write);
        let mut put = self.store.put(key, value).map_err(store_error("PUT"))?;
        if let Some(metadata) = options.metadata {
            put = put.metadata(metadata).map_err(store_error("PUT"))?;
        }
        if let Some(ttl) = options.expiration_ttl {
            put = put.expiration_ttl(u64::from(ttl));
        }
        put.execute().await.map_err(store_error("PUT"))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(Op::Delete);
        self.store.delete(key).await.map_err(store_error("DELETE"))
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<ListChunk, StoreError> {
        self.count(Op::List);
        let mut list = self.store.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor {
            list = list.cursor(cursor.to_owned());
        }
        let page = list.execute().await.map_err(store_error("LIST"))?;
        Ok(ListChunk {
            keys: page
                .keys
                .into_iter()
                .map(|k| ListedKey {
                    name: k.name,
                    metadata: match k.metadata {
                        Some(serde_json::Value::String(s)) => Some(s),
                        _ => None,
                    },
                })
                .collect(),
            cursor: page.cursor,
            complete: page.list_complete,
        })
    }
}
