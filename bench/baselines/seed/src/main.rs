//! Writes the benchmark's tokens exactly as the service stores them. For each
//! `--project NAME=COUNT` it writes, into `--out DIR`:
//!
//! - `kv-NAME.json`: the token records as a `wrangler kv bulk put` file (key, value, metadata,
//!   expiration_ttl), every entry out of the core's own `TokenStore::save`, run over a `Kv`
//!   that records its puts instead of storing them;
//! - `tokens-NAME.txt`: one `TOKEN INDEX_KEY` line per token, for the load scripts (the second
//!   field is the token's entry in the KV index of earlier versions);
//!
//! unless `--no-records NAME` is given; and for each `--db NAME=FILE`, the project's index rows
//! into the SQLite database FILE (the file of NAME's `ProjectIndex` object in a
//! `wrangler dev --persist-to` state, or any other), through the core's own `SqlIndex::open`
//! and `SqlIndex::insert` over a file-backed SQLite connection (the core's
//! `testing::SqliteSql`); then the core's `import_legacy_index`, over a KV that holds no entry,
//! marks the import of the old KV index done, exactly as the object does on its first use, so
//! that the object imports nothing.
//!
//! Tokens are drawn from a seeded generator (the same arguments give the same data, whatever
//! is written of them), with `createdAt` spread over the week before `--now` and a mix of ttls:
//! a quarter never expire (0), the rest live 30 to 400 days, so every token is active for the
//! whole run.
//!
//! Usage: bench-seed --out DIR --now UNIX_SECONDS --project NAME=COUNT [--project ...]
//!                   [--no-records NAME ...] [--db NAME=FILE ...] [--keep-expired SECONDS]

use std::cell::RefCell;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::ExitCode;
use std::task::{Context, Poll, Waker};

use upload_tokens_core::ids::{Entropy, TokenId};
use upload_tokens_core::storage::index::{import_legacy_index, legacy_import_done, LegacyImport, SqlIndex};
use upload_tokens_core::storage::kv::{Kv, ListChunk, PutOptions, StoreError};
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::testing::SqliteSql;
use upload_tokens_core::tokens::store::{legacy, TokenRecord, TokenStore};
use upload_tokens_core::tokens::token::UploadToken;

/// One recorded KV put.
struct Put {
    key: String,
    value: String,
    metadata: Option<String>,
    expiration_ttl: Option<u32>,
}

/// A `Kv` that only records puts; the store's save must not read, delete or list.
#[derive(Default)]
struct Recorder {
    puts: RefCell<Vec<Put>>,
}

impl Kv for Recorder {
    async fn get(&self, _key: &str) -> Result<Option<String>, StoreError> {
        Err(StoreError("the recorder does not read".into()))
    }
    async fn put(&self, key: &str, value: &str, options: PutOptions<'_>) -> Result<(), StoreError> {
        self.puts.borrow_mut().push(Put {
            key: key.to_owned(),
            value: value.to_owned(),
            metadata: options.metadata.map(str::to_owned),
            expiration_ttl: options.expiration_ttl,
        });
        Ok(())
    }
    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Err(StoreError("the recorder does not delete".into()))
    }
    async fn list(&self, _prefix: &str, _cursor: Option<&str>) -> Result<ListChunk, StoreError> {
        Err(StoreError("the recorder does not list".into()))
    }
}

/// A KV that holds nothing: what the import of the old KV index finds in a seeded project.
struct EmptyKv;

impl Kv for EmptyKv {
    async fn get(&self, _key: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    async fn put(&self, _key: &str, _value: &str, _options: PutOptions<'_>) -> Result<(), StoreError> {
        Err(StoreError("the empty KV is not written".into()))
    }
    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Err(StoreError("the empty KV is not written".into()))
    }
    async fn list(&self, _prefix: &str, _cursor: Option<&str>) -> Result<ListChunk, StoreError> {
        Ok(ListChunk::default())
    }
}

/// Writes `tokens` into the index held by the SQLite file `path`, in one transaction, and marks
/// the import of the old KV index done. The file may already hold the object's tables (and the
/// runtime's own): the schema statements are idempotent, and rows already there are kept.
fn write_index(path: &Path, project: &ProjectId, tokens: &[TokenRecord], now: i64, keep_expired: u32) -> Result<(), String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let conn = rusqlite::Connection::open(path).map_err(|e| at(&e))?;
    // Pages stay in memory until the commit (a million rows make about 150 MB).
    conn.execute_batch("PRAGMA cache_size = -524288; BEGIN").map_err(|e| at(&e))?;
    let index = SqlIndex::open(SqliteSql::new(conn), keep_expired).map_err(|e| at(&e))?;
    for record in tokens {
        let t = &record.token;
        index
            .insert(t.token.as_str(), t.created_at, t.ttl, &t.policy, now)
            .map_err(|e| at(&e))?;
    }
    match run_now(import_legacy_index(&index, &EmptyKv, project, now)).map_err(|e| at(&e))? {
        LegacyImport::AlreadyDone | LegacyImport::Finished(0) => {}
        other => return Err(at(&format!("the import of the old KV index did {other:?}"))),
    }
    if !legacy_import_done(&index).map_err(|e| at(&e))? {
        return Err(at(&"the import of the old KV index is not marked done"));
    }
    let conn = index.sql().connection();
    conn.execute_batch("COMMIT").map_err(|e| at(&e))?;
    // Leave the file whole (no write-ahead log to replay), as the runtime expects to find it.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(|e| at(&e))?;
    Ok(())
}

/// Runs a future that never waits (the recorder answers at once) to completion.
fn run_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the recorder never makes a save wait"),
    }
}

/// xorshift64*: reproducible, and plenty for spreading test data.
struct Rng(u64);

impl Rng {
    fn new(seed: &str) -> Self {
        // FNV-1a of the seed text, never zero.
        let h = seed
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Self(h | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Entropy for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

const DAY: u64 = 86_400;

fn json_entry(put: &Put) -> String {
    let mut entry = serde_json::Map::new();
    entry.insert("key".into(), put.key.clone().into());
    entry.insert("value".into(), put.value.clone().into());
    if let Some(m) = &put.metadata {
        entry.insert("metadata".into(), m.clone().into());
    }
    if let Some(ttl) = put.expiration_ttl {
        entry.insert("expiration_ttl".into(), ttl.into());
    }
    serde_json::Value::Object(entry).to_string()
}

struct Seed {
    name: String,
    count: u64,
    records: bool,
    dbs: Vec<PathBuf>,
}

fn seed_project(out: &Path, now: i64, keep_expired: u32, seed: &Seed) -> Result<(), String> {
    let (name, count) = (seed.name.as_str(), seed.count);
    let project = ProjectId::parse(name).ok_or_else(|| format!("invalid project id {name:?}"))?;
    let mut rng = Rng::new(&format!("{name}/{count}/{now}"));
    let store = TokenStore::new(Recorder::default());
    let mut tokens = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let token = TokenId::generate(&mut rng);
        let created_at = now - rng.below(7 * DAY) as i64;
        let ttl = if rng.below(4) == 0 {
            0
        } else {
            (30 * DAY + rng.below(370 * DAY)) as u32
        };
        let record = TokenRecord {
            project: project.clone(),
            token: UploadToken {
                token,
                ttl,
                created_at,
                policy: Default::default(),
            },
        };
        if seed.records {
            run_now(store.save(&record, 86_400)).map_err(|e| e.to_string())?;
        }
        tokens.push(record);
    }
    for db in &seed.dbs {
        write_index(db, &project, &tokens, now, keep_expired)?;
    }
    if !seed.records {
        return Ok(());
    }
    let write = |path: PathBuf, lines: &mut dyn Iterator<Item = String>, array: bool| {
        let mut w = BufWriter::new(File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?);
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        if array {
            w.write_all(b"[\n").map_err(io)?;
        }
        let mut first = true;
        for line in lines {
            if array && !first {
                w.write_all(b",\n").map_err(io)?;
            }
            w.write_all(line.as_bytes()).map_err(io)?;
            if !array {
                w.write_all(b"\n").map_err(io)?;
            }
            first = false;
        }
        if array {
            w.write_all(b"\n]\n").map_err(io)?;
        }
        w.flush().map_err(io)
    };
    let puts = store.kv().puts.borrow();
    write(out.join(format!("kv-{name}.json")), &mut puts.iter().map(json_entry), true)?;
    write(
        out.join(format!("tokens-{name}.txt")),
        &mut tokens
            .iter()
            .map(|r| format!("{} {}", r.token.token, legacy::entry(&r.project, &r.token).0)),
        false,
    )?;
    Ok(())
}

const USAGE: &str = "usage: bench-seed --out DIR --now UNIX_SECONDS --project NAME=COUNT [--project ...] \
[--no-records NAME ...] [--db NAME=FILE ...] [--keep-expired SECONDS]";

fn main() -> ExitCode {
    let mut out = None;
    let mut now = None;
    // The service's default UPLOAD_STALE_AFTER; only the purge on insert uses it.
    let mut keep_expired = 86_400u32;
    let mut seeds: Vec<Seed> = Vec::new();
    let mut no_records = Vec::new();
    let mut dbs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            ("--now", Some(v)) => now = v.parse::<i64>().ok(),
            ("--keep-expired", Some(v)) => match v.parse() {
                Ok(k) => keep_expired = k,
                Err(_) => {
                    eprintln!("bench-seed: --keep-expired wants seconds, not {v:?}");
                    return ExitCode::from(2);
                }
            },
            ("--project", Some(v)) => match v.split_once('=').map(|(n, c)| (n.to_owned(), c.parse::<u64>())) {
                Some((name, Ok(count))) => seeds.push(Seed {
                    name,
                    count,
                    records: true,
                    dbs: Vec::new(),
                }),
                _ => {
                    eprintln!("bench-seed: --project wants NAME=COUNT, not {v:?}");
                    return ExitCode::from(2);
                }
            },
            ("--no-records", Some(v)) => no_records.push(v),
            ("--db", Some(v)) => match v.split_once('=') {
                Some((name, file)) => dbs.push((name.to_owned(), PathBuf::from(file))),
                None => {
                    eprintln!("bench-seed: --db wants NAME=FILE, not {v:?}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(out), Some(now)) = (out, now) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    for name in no_records {
        match seeds.iter_mut().find(|s| s.name == name) {
            Some(seed) => seed.records = false,
            None => {
                eprintln!("bench-seed: --no-records {name}: no --project of that name");
                return ExitCode::from(2);
            }
        }
    }
    for (name, file) in dbs {
        match seeds.iter_mut().find(|s| s.name == name) {
            Some(seed) => seed.dbs.push(file),
            None => {
                eprintln!("bench-seed: --db {name}=...: no --project of that name");
                return ExitCode::from(2);
            }
        }
    }
    for seed in &seeds {
        if let Err(e) = seed_project(&out, now, keep_expired, seed) {
            eprintln!("bench-seed: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
