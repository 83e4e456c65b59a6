//! What one command costs the project's object, in SQL statements: a create runs its one
//! `INSERT` and nothing else while no purge is due; the legacy import's progress is read until
//! it is seen finished, then never again; expired tokens are purged at most once per
//! [`PURGE_INTERVAL`], or at every write while a backlog remains.

use std::cell::RefCell;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{
    legacy_import_done, serve, IndexCommand, Sql, SqlIndex, SqlParam, SqlRows, SqlValue,
    PURGE_INTERVAL,
};
use upload_tokens_core::storage::kv::StoreResult;
use upload_tokens_core::testing::{block_on, MemoryKv, SqliteSql};
use upload_tokens_core::tokens::policy::Policy;

const T0: i64 = 1_800_000_000;

/// SQLite in memory that writes down every statement it runs.
#[derive(Default)]
struct Counted {
    sql: SqliteSql,
    log: RefCell<Vec<String>>,
}

impl Counted {
    /// The statements run since the last call, each by its first three words.
    fn take(&self) -> Vec<String> {
        self.log.take()
    }
}

impl Sql for Counted {
    fn exec(&self, statement: &str, params: &[SqlParam<'_>]) -> StoreResult<SqlRows> {
        let words: Vec<&str> = statement.split_whitespace().take(3).collect();
        self.log.borrow_mut().push(words.join(" "));
        self.sql.exec(statement, params)
    }
}

fn token(n: u32) -> String {
    format!("to{n:0>22}")
}

fn insert(token: String, created_at: i64, ttl: u32) -> String {
    serde_json::to_string(&IndexCommand::Insert {
        token,
        created_at,
        ttl,
        policy: Policy::default(),
        now: created_at,
    })
    .unwrap()
}

fn rows(index: &SqlIndex<Counted>) -> i64 {
    match index
        .sql()
        .sql
        .exec("SELECT COUNT(*) FROM tokens", &[])
        .unwrap()[0][0]
    {
        SqlValue::Integer(n) => n,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn a_create_runs_one_statement_once_the_import_is_known_finished_and_no_purge_is_due() {
    let index = SqlIndex::open(Counted::default(), 0).unwrap();
    let (kv, acme) = (MemoryKv::new(T0), ProjectId::parse("acme").unwrap());
    index.sql().take();
    // The first command: the import's progress is read, the (empty) legacy index listed and the
    // import marked finished, then the insert and a purge.
    block_on(serve(&index, &kv, &acme, &insert(token(1), T0, 10))).unwrap();
    assert_eq!(
        index.sql().take(),
        [
            "SELECT value FROM",
            "INSERT OR REPLACE",
            "INSERT OR IGNORE",
            "DELETE FROM token_metadata",
            "DELETE FROM tokens",
        ]
    );
    assert_eq!(kv.counts().lists, 1);
    // Every later create within the interval: the insert alone, no KV operation.
    for (n, at) in [(2, T0 + 1), (3, T0 + PURGE_INTERVAL - 1)] {
        block_on(serve(&index, &kv, &acme, &insert(token(n), at, 10))).unwrap();
        assert_eq!(index.sql().take(), ["INSERT OR IGNORE"]);
    }
    assert_eq!(kv.counts().lists, 1);
}

/// A counted index over the SQLite file `path`, opened as an object opens its storage.
fn open_file(path: &std::path::Path) -> SqlIndex<Counted> {
    let sql = SqliteSql::new(rusqlite::Connection::open(path).unwrap());
    let index = SqlIndex::open(
        Counted {
            sql,
            log: RefCell::default(),
        },
        0,
    )
    .unwrap();
    index.sql().take();
    index
}

#[test]
fn whether_the_import_is_finished_is_read_until_it_is_then_kept_in_memory() {
    let path = std::env::temp_dir().join(format!("index-cost-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (kv, acme) = (MemoryKv::new(T0), ProjectId::parse("acme").unwrap());
    let index = open_file(&path);
    // Not imported yet: asked each time, never taken for finished.
    for _ in 0..2 {
        assert!(!legacy_import_done(&index).unwrap());
        assert_eq!(index.sql().take(), ["SELECT value FROM"]);
    }
    block_on(serve(&index, &kv, &acme, &insert(token(1), T0, 10))).unwrap();
    index.sql().take();
    assert!(legacy_import_done(&index).unwrap());
    assert_eq!(index.sql().take(), Vec::<String>::new());
    drop(index);
    // The object started again on the same storage: read once, then known.
    let index = open_file(&path);
    for statements in [vec!["SELECT value FROM"], vec![]] {
        assert!(legacy_import_done(&index).unwrap());
        assert_eq!(index.sql().take(), statements);
    }
    drop(index);
    // Started again, and a command served first: the finished import is read, not redone (the
    // legacy index is never listed again).
    let index = open_file(&path);
    block_on(serve(&index, &kv, &acme, &insert(token(2), T0 + 1, 10))).unwrap();
    let statements = index.sql().take();
    assert_eq!(statements[..2], ["SELECT value FROM", "INSERT OR IGNORE"]);
    assert_eq!(kv.counts().lists, 1);
    assert!(legacy_import_done(&index).unwrap());
    assert_eq!(index.sql().take(), Vec::<String>::new());
    drop(index);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn expired_tokens_are_purged_once_per_interval_and_a_backlog_at_every_write() {
    let index = SqlIndex::open(Counted::default(), 0).unwrap();
    // T0: the first write purges (nothing yet); the next purge is due at T0 + PURGE_INTERVAL.
    for n in 0..5 {
        index
            .insert(&token(n), T0, 10, &Policy::default(), T0)
            .unwrap();
    }
    let never = |n: u32, at: i64| {
        index
            .insert(&token(n), at, 0, &Policy::default(), at)
            .unwrap()
    };
    // Expired at T0 + 10, but no purge is due before T0 + PURGE_INTERVAL: kept, though never
    // listed or usable (their status is Absent, as with any purge delay).
    never(100, T0 + PURGE_INTERVAL - 1);
    assert_eq!(rows(&index), 6);
    never(101, T0 + PURGE_INTERVAL);
    assert_eq!(rows(&index), 2);
    // 250 tokens expire together; the write that purges takes 100, and as that was a full
    // batch, the next write purges again at once, until the backlog is gone.
    let at = T0 + PURGE_INTERVAL;
    for n in 200..450 {
        index
            .insert(&token(n), at, 1, &Policy::default(), at)
            .unwrap();
    }
    let later = at + 2 * PURGE_INTERVAL;
    let mut counts = Vec::new();
    for n in 500..505 {
        never(n, later + i64::from(n - 500));
        counts.push(rows(&index));
    }
    // 252 + 1 after the first write purged 100; then 100 more, then the last 50, then none.
    assert_eq!(counts, [153, 54, 5, 6, 7]);
}

#[test]
fn every_reply_but_a_page_of_rows_travels_in_a_header() {
    use upload_tokens_core::storage::index::{
        reply_fits_header, Claim, IndexReply, SessionUse, TokenRow, TokenStatus, MAX_HEADER_REPLY,
    };
    let json = |reply: IndexReply| serde_json::to_string(&reply).unwrap();
    let small = [
        IndexReply::Inserted,
        IndexReply::Removed { removed: true },
        IndexReply::Status {
            status: TokenStatus::Expired,
        },
        IndexReply::Claimed {
            claim: Claim::Exhausted,
        },
        IndexReply::Usage {
            uploads_used: Some(u32::MAX),
        },
        IndexReply::SessionStarted,
        IndexReply::Session {
            outcome: SessionUse::Rotated,
        },
        IndexReply::Page {
            rows: vec![],
            items_total: 0,
        },
    ];
    for reply in small {
        let text = json(reply);
        assert!(reply_fits_header(&text), "{text}");
    }
    let row = |n: u32| TokenRow {
        token: token(n),
        created_at: T0,
        ttl: 3600,
        policy: Policy::default(),
        uploads_used: 0,
    };
    let page = json(IndexReply::Page {
        rows: (0..25).map(row).collect(),
        items_total: 25,
    });
    assert!(!reply_fits_header(&page));
    // The bounds: 256 bytes, printable ASCII from the space to `~`.
    assert_eq!(MAX_HEADER_REPLY, 256);
    assert!(reply_fits_header(&"~".repeat(256)));
    assert!(!reply_fits_header(&"~".repeat(257)));
    assert!(reply_fits_header(" {\"a\":\"~\"}"));
    for bad in ["\u{1f}", "\t", "\u{7f}", "\u{e9}", "a\nb"] {
        assert!(
            !reply_fits_header(&format!("{{\"m\":\"{bad}\"}}")),
            "{bad:?}"
        );
    }
}

#[test]
fn a_page_is_walked_from_the_nearer_end_of_the_order() {
    use upload_tokens_core::storage::index::{walk, Walk};
    let from_start = |skip, limit| Walk {
        from_end: false,
        skip,
        limit,
    };
    let from_end = |skip, limit| Walk {
        from_end: true,
        skip,
        limit,
    };
    // (offset, page size, total) → the walk, written down by hand.
    let table = [
        ((0, 25, 1_000_000), Some(from_start(0, 25))),
        ((999_975, 25, 1_000_000), Some(from_end(0, 25))),
        ((999_990, 25, 1_000_000), Some(from_end(0, 10))),
        ((500_000, 100, 1_000_000), Some(from_end(499_900, 100))),
        ((499_950, 100, 1_000_000), Some(from_start(499_950, 100))),
        ((499_949, 100, 1_000_000), Some(from_start(499_949, 100))),
        ((499_951, 100, 1_000_000), Some(from_end(499_949, 100))),
        // Both ends skip 10: from the start.
        ((10, 5, 25), Some(from_start(10, 5))),
        ((11, 5, 25), Some(from_end(9, 5))),
        ((0, 25, 10), Some(from_start(0, 10))),
        ((9, 25, 10), Some(from_end(0, 1))),
        ((10, 25, 10), None),
        ((11, 25, 10), None),
        ((0, 25, 0), None),
        ((u64::MAX, 100, 10), None),
    ];
    for ((offset, limit, total), want) in table {
        assert_eq!(walk(offset, limit, total), want, "{offset} {limit} {total}");
    }
}

#[test]
fn a_row_sends_its_count_of_uploads_and_policy_only_when_it_has_them() {
    use upload_tokens_core::storage::index::TokenRow;
    let mut row = TokenRow {
        token: token(7),
        created_at: T0,
        ttl: 60,
        policy: Policy::default(),
        uploads_used: 0,
    };
    let plain = r#"{"token":"to0000000000000000000007","createdAt":1800000000,"ttl":60}"#;
    assert_eq!(serde_json::to_string(&row).unwrap(), plain);
    row.uploads_used = 1;
    let used =
        r#"{"token":"to0000000000000000000007","createdAt":1800000000,"ttl":60,"uploadsUsed":1}"#;
    assert_eq!(serde_json::to_string(&row).unwrap(), used);
    // Read back either way.
    for json in [plain, used] {
        let back: TokenRow = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
}
