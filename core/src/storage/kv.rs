//! The KV interface: the handful of Workers KV operations the service uses. Its in-memory
//! implementation, which behaves like KV (expiry, 1000-key list pages with a cursor, the 60 s
//! minimum `expirationTtl`) and counts every operation, is [`crate::testing::MemoryKv`].

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

/// What a storage operation answers.
pub type StoreResult<T> = Result<T, StoreError>;

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
    /// Where the next call starts; `None` on the last page (never an empty string).
    pub cursor: Option<String>,
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
    async fn get(&self, key: &str) -> StoreResult<Option<String>>;
    /// A read that the edge may answer from a cached copy at most `cache_ttl` seconds old
    /// (the runtime's `cacheTtl`); the same as [`Kv::get`] where nothing is cached.
    async fn get_cached(&self, key: &str, cache_ttl: u32) -> StoreResult<Option<String>> {
        let _ = cache_ttl;
        self.get(key).await
    }
    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> StoreResult<()>;
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Keys starting with `prefix`, in ascending byte order, from `cursor` on.
    async fn list(&self, prefix: &str, cursor: Option<&str>) -> StoreResult<ListChunk>;
}

/// A shared or borrowed store is the same store (the Worker's KV binding is shared the same way).
macro_rules! forward_kv {
    ($($ty:ty),*) => {$(
        impl<K: Kv> Kv for $ty {
            async fn get(&self, key: &str) -> StoreResult<Option<String>> {
                (**self).get(key).await
            }
            async fn get_cached(&self, key: &str, cache_ttl: u32) -> StoreResult<Option<String>> {
                (**self).get_cached(key, cache_ttl).await
            }
            async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> StoreResult<()> {
                (**self).put(key, value, options).await
            }
            async fn delete(&self, key: &str) -> StoreResult<()> {
                (**self).delete(key).await
            }
            async fn list(&self, prefix: &str, cursor: Option<&str>) -> StoreResult<ListChunk> {
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

impl OpCounts {
    /// Counts one more operation of kind `op`.
    pub fn add(&mut self, op: Op) {
        match op {
            Op::Read => self.reads += 1,
            Op::Write => self.writes += 1,
            Op::Delete => self.deletes += 1,
            Op::List => self.lists += 1,
        }
    }
}

/// Kinds of operation, for counting and failure injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    Delete,
    List,
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
