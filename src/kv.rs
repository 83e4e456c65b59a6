//! The storage interface over a Workers KV namespace.

use std::cell::Cell;
use upload_tokens_core::storage::kv::{
    unpack_listed_keys, Kv, ListChunk, Op, OpCounts, PutOptions, StoreError, StoreResult,
};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::kv::{KvError, KvStore};
use worker::Env;

#[wasm_bindgen(module = "/src/js/kv-list.js")]
extern "C" {
    /// What `listPage` answers: one page of keys packed into a string.
    type ListPage;
    #[wasm_bindgen(method, getter)]
    fn packed(this: &ListPage) -> String;
    #[wasm_bindgen(method, getter)]
    fn cursor(this: &ListPage) -> Option<String>;

    /// See `listPage` in `js/kv-list.js`.
    #[wasm_bindgen(js_name = listPage)]
    fn list_page(namespace: &JsValue, prefix: &str, cursor: Option<String>) -> js_sys::Promise;
}

/// KV through the `worker` crate's bindings, and `list` through `js/kv-list.js`.
pub struct WorkersKv {
    store: KvStore,
    /// The namespace binding itself, for `list`.
    namespace: JsValue,
    counts: Cell<OpCounts>,
}

impl WorkersKv {
    /// The KV namespace bound to `binding`.
    pub fn new(env: &Env, binding: &str) -> worker::Result<Self> {
        let namespace = js_sys::Reflect::get(env, &JsValue::from_str(binding))
            .map_err(|e| worker::Error::JsError(format!("KV binding {binding}: {e:?}")))?;
        Ok(Self {
            store: env.kv(binding)?,
            namespace,
            counts: Cell::new(OpCounts::default()),
        })
    }

    /// Operations this store has performed, for the `Server-Timing` figures the benchmark reads.
    pub fn counts(&self) -> OpCounts {
        self.counts.get()
    }

    fn count(&self, op: Op) {
        let mut c = self.counts.get();
        c.add(op);
        self.counts.set(c);
    }
}

fn store_error(op: &str) -> impl Fn(KvError) -> StoreError + '_ {
    move |e| StoreError(format!("KV {op} failed: {e}"))
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.count(Op::Read);
        self.store.get(key).text().await.map_err(store_error("GET"))
    }

    async fn get_cached(&self, key: &str, cache_ttl: u32) -> StoreResult<Option<String>> {
        self.count(Op::Read);
        let get = self.store.get(key).cache_ttl(u64::from(cache_ttl));
        get.text().await.map_err(store_error("GET"))
    }

    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> StoreResult<()> {
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

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.count(Op::Delete);
        self.store.delete(key).await.map_err(store_error("DELETE"))
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>) -> StoreResult<ListChunk> {
        self.count(Op::List);
        let failed = |e: JsValue| StoreError(format!("KV LIST failed: {e:?}"));
        let page = wasm_bindgen_futures::JsFuture::from(list_page(
            &self.namespace,
            prefix,
            cursor.map(str::to_owned),
        ))
        .await
        .map_err(failed)?
        .unchecked_into::<ListPage>();
        Ok(ListChunk {
            keys: unpack_listed_keys(&page.packed()),
            cursor: page.cursor(),
        })
    }
}
