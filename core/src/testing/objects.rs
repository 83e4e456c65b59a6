//! An in-memory R2: strongly consistent, keys listed in order at most [`PAGE_LIMIT`] per call
//! with a cursor, custom metadata, multipart uploads with R2's part rules, a settable clock,
//! operation counts and injected failures.

use super::FailurePlan;
use crate::storage::kv::{StoreError, StoreResult};
use crate::storage::objects::{Concat, ObjectInfo, ObjectMeta, ObjectPage, Objects, PAGE_LIMIT};
use crate::time::UnixSeconds;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

/// Smallest multipart part but the last (R2's rule).
pub const MIN_PART: usize = 5 * 1024 * 1024;

/// Kinds of operation, for counting and failure injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectOp {
    Get,
    Put,
    Head,
    List,
    Delete,
    Concat,
    Multipart,
}

#[derive(Debug, Clone)]
struct Stored {
    /// Which write made it: every write has the next number.
    write: u64,
    bytes: Vec<u8>,
    uploaded: UnixSeconds,
    content_type: Option<String>,
    custom: BTreeMap<String, String>,
}

/// A multipart upload in progress: its key and the parts sent so far.
type Multipart = (String, Vec<Vec<u8>>);

/// An in-memory bucket.
#[derive(Default)]
pub struct MemoryObjects {
    objects: RefCell<BTreeMap<String, Stored>>,
    uploads: RefCell<HashMap<u64, Multipart>>,
    next_upload: Cell<u64>,
    writes: Cell<u64>,
    now: Cell<UnixSeconds>,
    counts: RefCell<HashMap<ObjectOp, usize>>,
    /// Fail the n-th next operation of any kind (0 = the very next), or of one kind.
    failure: FailurePlan<Option<ObjectOp>>,
    /// Keys whose next read answers "absent", as a read made just before another request
    /// wrote them would.
    hidden: RefCell<Vec<String>>,
    /// Operations left before every later one fails (a crash at that point).
    crash_after: Cell<Option<usize>>,
    /// What another request does just before the next operation of a kind: `(kind, change)`.
    meanwhile: RefCell<Option<(ObjectOp, Meanwhile)>>,
}

/// A change to the bucket made by another request, run between two operations of this one.
pub type Meanwhile = Box<dyn FnOnce(&MemoryObjects)>;

impl MemoryObjects {
    pub fn new(now: UnixSeconds) -> Self {
        let b = Self::default();
        b.now.set(now);
        b
    }

    /// Moves the clock that dates writes.
    pub fn set_now(&self, now: UnixSeconds) {
        self.now.set(now);
    }

    /// Makes the `nth` next operation of kind `op` (any kind if `None`) fail.
    pub fn fail(&self, op: Option<ObjectOp>, nth: usize) {
        self.failure.set(op, nth);
    }

    /// Lets `n` more operations through, then fails every later one until [`Self::recover`].
    pub fn crash_after(&self, n: usize) {
        self.crash_after.set(Some(n));
    }

    /// Runs `change` just before the next operation of kind `op`, as another request writing
    /// at that moment would (a race).
    pub fn meanwhile(&self, op: ObjectOp, change: Meanwhile) {
        *self.meanwhile.borrow_mut() = Some((op, change));
    }

    /// Ends a crash.
    pub fn recover(&self) {
        self.crash_after.set(None);
        self.failure.clear();
    }

    /// Operations performed so far, of one kind.
    pub fn count(&self, op: ObjectOp) -> usize {
        self.counts.borrow().get(&op).copied().unwrap_or(0)
    }

    /// Operations performed so far, of every kind.
    pub fn total_ops(&self) -> usize {
        self.counts.borrow().values().sum()
    }

    /// Every key, in order, for inspection.
    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }

    /// The bytes of an object, for inspection.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.borrow().get(key).map(|o| o.bytes.clone())
    }

    /// The media type an object was written with.
    pub fn content_type(&self, key: &str) -> Option<String> {
        self.objects
            .borrow()
            .get(key)
            .and_then(|o| o.content_type.clone())
    }

    /// Writes an object directly, bypassing counts and failures (to set up a state).
    pub fn insert_raw(&self, key: &str, bytes: &[u8]) {
        self.store(key, bytes.to_vec(), ObjectMeta::default());
    }

    /// Removes objects directly, bypassing counts and failures.
    pub fn remove_raw(&self, keys: &[String]) {
        let mut objects = self.objects.borrow_mut();
        for key in keys {
            objects.remove(key);
        }
    }

    /// Every object with the serial number of the write that made it, its size, date, media
    /// type and custom metadata, one line each in key order, then the multipart uploads left
    /// open: equal snapshots mean nothing was written (even with the same bytes) or removed in
    /// between.
    pub fn snapshot(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .objects
            .borrow()
            .iter()
            .map(|(k, o)| {
                format!(
                    "{k} #{} {} bytes {} {:?} {:?}",
                    o.write,
                    o.bytes.len(),
                    o.uploaded,
                    o.content_type,
                    o.custom
                )
            })
            .collect();
        let mut open: Vec<String> = self
            .uploads
            .borrow()
            .iter()
            .map(|(id, (key, parts))| format!("open upload {id} of {key}: {} parts", parts.len()))
            .collect();
        open.sort();
        lines.extend(open);
        lines
    }

    /// Makes the next read of `key` answer as if it did not exist yet (a race lost).
    pub fn hide_next_read(&self, key: &str) {
        self.hidden.borrow_mut().push(key.to_owned());
    }

    fn hidden(&self, key: &str) -> bool {
        let mut hidden = self.hidden.borrow_mut();
        let found = hidden.iter().position(|k| k == key);
        found.map(|i| hidden.remove(i)).is_some()
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn open_multipart_uploads(&self) -> usize {
        self.uploads.borrow().len()
    }

    fn record(&self, op: ObjectOp, key: &str) -> StoreResult<()> {
        let change = self.meanwhile.borrow_mut().take_if(|(kind, _)| *kind == op);
        if let Some((_, change)) = change {
            change(self);
        }
        *self.counts.borrow_mut().entry(op).or_insert(0) += 1;
        if let Some(left) = self.crash_after.get() {
            if left == 0 {
                return Err(StoreError(format!("injected crash: {op:?} on {key}")));
            }
            self.crash_after.set(Some(left - 1));
        }
        match self.failure.strikes(|kind| kind.is_none_or(|k| k == op)) {
            Some(_) => Err(StoreError(format!("injected {op:?} failure on {key}"))),
            None => Ok(()),
        }
    }

    fn store(&self, key: &str, bytes: Vec<u8>, meta: ObjectMeta<'_>) {
        self.writes.set(self.writes.get() + 1);
        let stored = Stored {
            write: self.writes.get(),
            bytes,
            uploaded: self.now.get(),
            content_type: meta.content_type.map(str::to_owned),
            custom: meta
                .custom
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        self.objects.borrow_mut().insert(key.to_owned(), stored);
    }

    fn info(key: &str, o: &Stored) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            size: o.bytes.len() as u64,
            uploaded: o.uploaded,
            custom: o.custom.clone(),
        }
    }

    /// Writes `bytes` as one object (a plain put).
    pub fn put_bytes(&self, key: &str, bytes: &[u8]) -> StoreResult<()> {
        self.record(ObjectOp::Put, key)?;
        self.store(key, bytes.to_vec(), ObjectMeta::default());
        Ok(())
    }

    /// Starts a multipart upload of `key`; its id.
    pub fn create_multipart(&self, key: &str) -> StoreResult<u64> {
        self.record(ObjectOp::Multipart, key)?;
        let id = self.next_upload.get() + 1;
        self.next_upload.set(id);
        self.uploads
            .borrow_mut()
            .insert(id, (key.to_owned(), Vec::new()));
        Ok(id)
    }

    /// Adds the next part of upload `id`.
    pub fn upload_part(&self, id: u64, bytes: &[u8]) -> StoreResult<()> {
        self.record(ObjectOp::Multipart, "part")?;
        let mut uploads = self.uploads.borrow_mut();
        let (_, parts) = uploads
            .get_mut(&id)
            .ok_or_else(|| StoreError("R2: no such multipart upload".into()))?;
        parts.push(bytes.to_vec());
        Ok(())
    }

    /// Completes upload `id`: every part but the last must hold at least [`MIN_PART`] bytes and
    /// all but the last the same size, as R2 requires.
    pub fn complete_multipart(&self, id: u64) -> StoreResult<()> {
        self.record(ObjectOp::Multipart, "complete")?;
        let (key, parts) = self
            .uploads
            .borrow_mut()
            .remove(&id)
            .ok_or_else(|| StoreError("R2: no such multipart upload".into()))?;
        if let Some((_, init)) = parts.split_last() {
            let first = init.first().map(Vec::len);
            if init
                .iter()
                .any(|p| p.len() < MIN_PART || Some(p.len()) != first)
            {
                return Err(StoreError("R2: parts of unequal or too small size".into()));
            }
        }
        self.store(&key, parts.concat(), ObjectMeta::default());
        Ok(())
    }

    /// Abandons upload `id`.
    pub fn abort_multipart(&self, id: u64) {
        self.uploads.borrow_mut().remove(&id);
    }
}

impl Objects for MemoryObjects {
    /// The object's bytes.
    type Body = Vec<u8>;

    async fn get_text(&self, key: &str) -> StoreResult<Option<String>> {
        self.record(ObjectOp::Get, key)?;
        if self.hidden(key) {
            return Ok(None);
        }
        Ok(self
            .objects
            .borrow()
            .get(key)
            .map(|o| String::from_utf8_lossy(&o.bytes).into_owned()))
    }

    async fn put_text(&self, key: &str, text: &str) -> StoreResult<()> {
        self.record(ObjectOp::Put, key)?;
        self.store(key, text.as_bytes().to_vec(), ObjectMeta::default());
        Ok(())
    }

    async fn create_text(&self, key: &str, text: &str) -> StoreResult<bool> {
        self.record(ObjectOp::Put, key)?;
        if self.objects.borrow().contains_key(key) {
            return Ok(false);
        }
        self.store(key, text.as_bytes().to_vec(), ObjectMeta::default());
        Ok(true)
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectInfo>> {
        self.record(ObjectOp::Head, key)?;
        Ok(self.objects.borrow().get(key).map(|o| Self::info(key, o)))
    }

    async fn list(&self, prefix: &str, from: Option<&str>, max: usize) -> StoreResult<ObjectPage> {
        self.record(ObjectOp::List, prefix)?;
        let limit = max.clamp(1, PAGE_LIMIT);
        let objects = self.objects.borrow();
        let mut page = ObjectPage::default();
        let after = |k: &String| from.is_none_or(|c| k.as_str() > c);
        let mut matching = objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| after(k));
        for (k, o) in matching.by_ref().take(limit) {
            page.objects.push(Self::info(k, o));
        }
        if matching.next().is_some() {
            page.cursor = page.objects.last().map(|o| o.key.clone());
        }
        Ok(page)
    }

    async fn delete(&self, keys: &[String]) -> StoreResult<()> {
        self.record(ObjectOp::Delete, keys.first().map_or("", String::as_str))?;
        if keys.len() > PAGE_LIMIT {
            return Err(StoreError("R2: more than 1000 keys in one delete".into()));
        }
        let mut objects = self.objects.borrow_mut();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }

    async fn concat(&self, job: Concat<'_>) -> StoreResult<()> {
        self.record(ObjectOp::Concat, job.dest)?;
        let mut bytes = Vec::with_capacity(job.total as usize);
        {
            let objects = self.objects.borrow();
            for s in job.sources {
                let o = objects
                    .get(s)
                    .ok_or_else(|| StoreError(format!("R2: {s} vanished while being piped")))?;
                bytes.extend_from_slice(&o.bytes);
            }
        }
        if bytes.len() as u64 != job.total {
            return Err(StoreError(
                "R2: the stream's length differs from the declared".into(),
            ));
        }
        self.store(job.dest, bytes, job.meta);
        Ok(())
    }

    async fn open(&self, key: &str) -> StoreResult<Option<(ObjectInfo, Self::Body)>> {
        self.record(ObjectOp::Get, key)?;
        Ok(self
            .objects
            .borrow()
            .get(key)
            .map(|o| (Self::info(key, o), o.bytes.clone())))
    }
}
