//! The project index over real SQLite (in memory): its pages equal the core's own sort, filter
//! and paginate for any token set and any metadata filters, its status rules, its purge, and
//! the import of the legacy KV index written by earlier versions.

use proptest::prelude::*;
use std::rc::Rc;
use upload_tokens_core::ids::TokenId;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{
    import_legacy_index, CommandIndex, LegacyImport, PageRequest, SqlIndex, TokenIndex, TokenRow,
    TokenStatus, MAX_PAGES_PER_CALL,
};
use upload_tokens_core::storage::kv::{Kv, Op, PutOptions};
use upload_tokens_core::testing::{block_on, LocalIndexes, MemoryKv, SqliteSql};
use upload_tokens_core::tokens::list::{paginate, sort_active};
use upload_tokens_core::tokens::policy::{Metadata, Policy};
use upload_tokens_core::tokens::query::{ListQuery, SortBy, SortOrder};
use upload_tokens_core::tokens::store::{legacy, KvKey, TokenRecord, TokenStore};
use upload_tokens_core::tokens::token::UploadToken;

const T0: i64 = 1_800_000_000;

fn token_id(n: u32) -> TokenId {
    TokenId::parse(&format!("to{n:0>22}")).unwrap()
}

fn open(keep_expired: u32) -> SqlIndex<SqliteSql> {
    SqlIndex::open(SqliteSql::default(), keep_expired).unwrap()
}

fn insert(index: &SqlIndex<SqliteSql>, t: &UploadToken) {
    index
        .insert(
            t.token.as_str(),
            t.created_at,
            t.ttl,
            &t.policy,
            t.created_at,
        )
        .unwrap();
}

fn plain(token: TokenId, created_at: i64, ttl: u32) -> UploadToken {
    UploadToken::new(token, ttl, created_at)
}

/// The row a token without videos made is listed as.
fn row(t: &UploadToken) -> TokenRow {
    TokenRow {
        token: t.token.to_string(),
        created_at: t.created_at,
        ttl: t.ttl,
        policy: t.policy.clone(),
        uploads_used: 0,
    }
}

/// Metadata from a small alphabet, so that filters often match: keys `a`..`c`, values `0`..`2`
/// (and an empty value).
fn labels() -> impl Strategy<Value = Vec<Metadata>> {
    proptest::collection::btree_map(0u8..3, prop_oneof![Just(String::new()), "[0-2]"], 0..3)
        .prop_map(|m| {
            m.into_iter()
                .map(|(k, v)| Metadata::new(&((b'a' + k) as char).to_string(), &v))
                .collect()
        })
}

/// Token sets with many equal creation seconds, equal expiries, never-expiring tokens, and
/// overlapping metadata.
fn token_sets() -> impl Strategy<Value = Vec<UploadToken>> {
    proptest::collection::vec(
        (
            0u32..5000,
            0i64..8,
            prop_oneof![Just(0u32), 1u32..12],
            labels(),
        ),
        0..60,
    )
    .prop_map(|raw| {
        let mut seen = std::collections::HashSet::new();
        raw.into_iter()
            .filter(|(id, _, _, _)| seen.insert(*id))
            .map(|(id, created, ttl, metadata)| UploadToken {
                token: token_id(id),
                created_at: T0 + created,
                ttl,
                policy: Policy {
                    metadata,
                    ..Policy::default()
                },
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_page_equals_the_cores_sort_filter_and_paginate(
        tokens in token_sets(),
        filters in labels(),
        now_offset in 0i64..16,
        page_size in 1u32..8,
    ) {
        // Inserted at T0, before any of them expires; listed later, when some have.
        let index = open(0);
        for t in &tokens {
            index.insert(t.token.as_str(), t.created_at, t.ttl, &t.policy, T0).unwrap();
        }
        let now = T0 + now_offset;
        // No filter, one, and all of them (every pair must match).
        let filter_sets = [Vec::new(), filters.iter().take(1).cloned().collect(), filters.clone()];
        for metadata in filter_sets {
            for sort_by in [SortBy::CreatedAt, SortBy::Ttl] {
                for sort_order in [SortOrder::Asc, SortOrder::Desc] {
                    let mut expected = tokens.clone();
                    let base = ListQuery {
                        sort_by, sort_order, page_size, metadata: metadata.clone(), ..ListQuery::default()
                    };
                    sort_active(&mut expected, &base, now);
                    let pages = expected.len().div_ceil(page_size as usize) as u32 + 1;
                    for current_page in 1..=pages {
                        let query = ListQuery { current_page, ..base.clone() };
                        let (range, _) = paginate(expected.len(), &query);
                        let (rows, total) = index.page(&PageRequest::of(&query), now).unwrap();
                        prop_assert_eq!(total, expected.len());
                        let want: Vec<TokenRow> = expected[range].iter().map(row).collect();
                        prop_assert_eq!(
                            rows, want, "{:?} {:?} {:?} page {}", metadata, sort_by, sort_order, current_page
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_fixed_set_lists_in_the_order_written_down_by_hand() {
    // A: never, created 100; B: expires 150, created 100; C: expires 150, created 90;
    // D: expires 130, created 120; E: never, created 120; F: expired at 95; G: never, 100.
    let index = open(0);
    let spec = [
        (1, 100, 0),
        (2, 100, 50),
        (3, 90, 60),
        (4, 120, 10),
        (5, 120, 0),
        (6, 80, 15),
        (7, 100, 0),
    ];
    for (id, created, ttl) in spec {
        insert(&index, &plain(token_id(id), created, ttl));
    }
    let ids = |sort_by, descending| -> Vec<u32> {
        let page = PageRequest {
            sort_by,
            descending,
            offset: 0,
            limit: 100,
            metadata: Vec::new(),
        };
        let (rows, total) = index.page(&page, 100).unwrap();
        assert_eq!(total, 6);
        rows.iter().map(|r| r.token[2..].parse().unwrap()).collect()
    };
    use upload_tokens_core::storage::index::SortKey::{CreatedAt, Ttl};
    assert_eq!(ids(CreatedAt, false), [3, 1, 2, 7, 4, 5]);
    assert_eq!(ids(CreatedAt, true), [5, 4, 7, 2, 1, 3]);
    assert_eq!(ids(Ttl, false), [4, 3, 2, 1, 7, 5]);
    assert_eq!(ids(Ttl, true), [5, 7, 1, 2, 3, 4]);
}

#[test]
fn status_is_active_then_expired_for_the_kept_time_then_absent() {
    let index = open(100);
    let t = plain(token_id(1), T0, 10);
    insert(&index, &t);
    let status = |now| index.status(t.token.as_str(), now).unwrap();
    assert_eq!(status(T0 + 9), TokenStatus::Active);
    assert_eq!(status(T0 + 10), TokenStatus::Expired);
    assert_eq!(status(T0 + 109), TokenStatus::Expired);
    assert_eq!(status(T0 + 110), TokenStatus::Absent);
    assert_eq!(
        index.status(token_id(2).as_str(), T0).unwrap(),
        TokenStatus::Absent
    );
    // An expired token is not removed by a delete (the caller gets a 404), and stays Expired.
    assert!(!index.remove(t.token.as_str(), T0 + 10).unwrap());
    assert_eq!(status(T0 + 10), TokenStatus::Expired);
    // A never-expiring token is active for ever, until removed; then absent at once.
    let never = token_id(3);
    index
        .insert(never.as_str(), T0, 0, &Policy::default(), T0)
        .unwrap();
    assert_eq!(
        index
            .status(never.as_str(), i64::from(u32::MAX) * 1000)
            .unwrap(),
        TokenStatus::Active
    );
    assert!(index.remove(never.as_str(), T0 + 1).unwrap());
    assert!(!index.remove(never.as_str(), T0 + 1).unwrap());
    assert_eq!(
        index.status(never.as_str(), T0 + 1).unwrap(),
        TokenStatus::Absent
    );
}

#[test]
fn writes_purge_tokens_expired_past_the_kept_time_a_bounded_batch_at_a_time() {
    let index = open(100);
    for i in 0..250 {
        index
            .insert(token_id(i).as_str(), T0, 10, &Policy::default(), T0)
            .unwrap();
    }
    let rows = |index: &SqlIndex<SqliteSql>| index.sql().exec_count("SELECT COUNT(*) FROM tokens");
    assert_eq!(rows(&index), 250);
    // At T0 + 110 all 250 are past the kept time; each write purges at most 100.
    let write_at_110 = |i| {
        let at = T0 + 110;
        let id = token_id(i);
        index
            .insert(id.as_str(), at, 0, &Policy::default(), at)
            .unwrap();
    };
    write_at_110(1000);
    assert_eq!(rows(&index), 151);
    write_at_110(1001);
    write_at_110(1002);
    assert_eq!(rows(&index), 3);
    assert_eq!(index.count(T0 + 110).unwrap(), 3);
}

trait CountRows {
    fn exec_count(&self, statement: &str) -> i64;
}

impl CountRows for SqliteSql {
    fn exec_count(&self, statement: &str) -> i64 {
        use upload_tokens_core::storage::index::{Sql, SqlValue};
        match self.exec(statement, &[]).unwrap()[0][0] {
            SqlValue::Integer(n) => n,
            ref other => panic!("{other:?}"),
        }
    }
}

/// Writes a token as versions before the project index did: its record and a KV index entry.
fn write_legacy(kv: &MemoryKv, project: &ProjectId, token: &UploadToken) {
    let store = TokenStore::new(kv);
    let record = TokenRecord {
        project: project.clone(),
        token: token.clone(),
    };
    block_on(store.save(&record, 0)).unwrap();
    let (key, metadata) = legacy::entry(project, token);
    let options = PutOptions {
        metadata: Some(&metadata),
        expiration_ttl: token.kv_expiration_ttl(0),
    };
    block_on(kv.put(&key.to_string(), "", options)).unwrap();
}

#[test]
fn the_legacy_kv_index_is_imported_once_resumably_and_without_its_neighbours() {
    let kv = MemoryKv::with_page_limit(T0, 10);
    let acme = ProjectId::parse("acme").unwrap();
    let acme2 = ProjectId::parse("acme2").unwrap();
    let mine: Vec<UploadToken> = (0..35)
        .map(|i| {
            plain(
                token_id(i),
                T0 - 100 + i64::from(i % 7),
                [0, 3600, 5][i as usize % 3],
            )
        })
        .collect();
    for t in &mine {
        write_legacy(&kv, &acme, t);
    }
    // A project whose id extends this one's must not be imported with it.
    write_legacy(&kv, &acme2, &plain(token_id(900), T0, 0));
    assert!(kv
        .keys()
        .contains(&KvKey::Record(mine[0].token.clone()).to_string()));

    let index = open(86_400);
    // The third list call fails: two pages are in, and the cursor is kept.
    kv.fail(Op::List, 2);
    assert!(block_on(import_legacy_index(&index, &kv, &acme, T0)).is_err());
    assert_eq!(index.count(T0 - 1000).unwrap(), 20);
    kv.reset_counts();
    let done = block_on(import_legacy_index(&index, &kv, &acme, T0)).unwrap();
    assert_eq!(done, LegacyImport::Finished(15));
    assert_eq!(kv.counts().lists, 2, "resumed from the saved cursor");
    // Every token, exactly as written, and nothing of acme2.
    let everything = PageRequest {
        sort_by: upload_tokens_core::storage::index::SortKey::CreatedAt,
        descending: false,
        offset: 0,
        limit: 100,
        metadata: Vec::new(),
    };
    let (rows, total) = index.page(&everything, T0 - 1000).unwrap();
    assert_eq!(total, 35);
    let mut want: Vec<TokenRow> = mine.iter().map(row).collect();
    want.sort_by(|a, b| (a.created_at, &a.token).cmp(&(b.created_at, &b.token)));
    assert_eq!(rows, want);
    // Statuses follow: the ttl-5 ones have expired at T0.
    assert_eq!(
        index.status(mine[2].token.as_str(), T0).unwrap(),
        TokenStatus::Expired
    );
    assert_eq!(
        index.status(mine[1].token.as_str(), T0).unwrap(),
        TokenStatus::Active
    );
    // Once done, never again: no KV operation.
    kv.reset_counts();
    assert_eq!(
        block_on(import_legacy_index(&index, &kv, &acme, T0)).unwrap(),
        LegacyImport::AlreadyDone
    );
    assert_eq!(kv.counts().lists, 0);
}

#[test]
fn a_huge_legacy_index_is_imported_over_several_calls() {
    let kv = MemoryKv::with_page_limit(T0, 1);
    let acme = ProjectId::parse("acme").unwrap();
    let n = MAX_PAGES_PER_CALL as u32 + 3;
    for i in 0..n {
        write_legacy(&kv, &acme, &plain(token_id(i), T0, 0));
    }
    let index = open(0);
    assert_eq!(
        block_on(import_legacy_index(&index, &kv, &acme, T0)).unwrap(),
        LegacyImport::Partial(MAX_PAGES_PER_CALL)
    );
    assert_eq!(
        block_on(import_legacy_index(&index, &kv, &acme, T0)).unwrap(),
        LegacyImport::Finished(3)
    );
    assert_eq!(index.count(T0).unwrap(), n as usize);
}

#[test]
fn the_first_command_to_a_project_imports_then_answers_and_projects_stay_apart() {
    let kv = Rc::new(MemoryKv::new(T0));
    let acme = ProjectId::parse("acme").unwrap();
    let acme2 = ProjectId::parse("acme2").unwrap();
    let old = plain(token_id(7), T0 - 10, 0);
    write_legacy(&kv, &acme, &old);
    let indexes = CommandIndex::new(LocalIndexes::new(kv.clone(), 86_400));
    let status = block_on(indexes.status(&acme, &old.token, T0)).unwrap();
    assert_eq!(status, TokenStatus::Active);
    assert_eq!(
        block_on(indexes.status(&acme2, &old.token, T0)).unwrap(),
        TokenStatus::Absent
    );
    let page = PageRequest::of(&ListQuery::default());
    assert_eq!(
        block_on(indexes.page(&acme, page.clone(), T0))
            .unwrap()
            .items_total,
        1
    );
    assert_eq!(
        block_on(indexes.page(&acme2, page, T0))
            .unwrap()
            .items_total,
        0
    );
    assert!(!block_on(indexes.remove(&acme2, &old.token, T0)).unwrap());
    assert!(block_on(indexes.remove(&acme, &old.token, T0)).unwrap());
}
