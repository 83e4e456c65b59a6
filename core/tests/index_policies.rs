//! The project index and token policies over real SQLite (in memory): an index made by the
//! version before policies opened by this one, the count of videos a token makes, metadata
//! kept and dropped with its token, and filtered listings that never walk every token (SQLite
//! may look a second pair's tokens up first and probe the first pair for each: both are walks
//! of the metadata index bounded by the tokens carrying a pair).

use upload_tokens_core::storage::index::{
    count_statement, page_statement, schema_version, Claim, PageRequest, SortKey, Sql, SqlIndex,
    SqlParam, SqlValue, TokenStatus, SCHEMA, SCHEMA_VERSION,
};
use upload_tokens_core::testing::SqliteSql;
use upload_tokens_core::tokens::policy::{Metadata, Policy};

const T0: i64 = 1_800_000_000;

fn id(n: u32) -> String {
    format!("to{n:0>22}")
}

fn open(keep_expired: u32) -> SqlIndex<SqliteSql> {
    SqlIndex::open(SqliteSql::default(), keep_expired).unwrap()
}

fn labelled(pairs: &[(&str, &str)]) -> Policy {
    Policy {
        metadata: pairs.iter().map(|(k, v)| Metadata::new(k, v)).collect(),
        ..Policy::default()
    }
}

fn bounded(max_uploads: u32) -> Policy {
    Policy {
        max_uploads: Some(max_uploads),
        ..Policy::default()
    }
}

fn rows_of(sql: &SqliteSql, statement: &str) -> i64 {
    match sql.exec(statement, &[]).unwrap()[0][0] {
        SqlValue::Integer(n) => n,
        ref other => panic!("{other:?}"),
    }
}

fn listing(filters: &[(&str, &str)]) -> PageRequest {
    PageRequest {
        sort_by: SortKey::CreatedAt,
        descending: true,
        offset: 0,
        limit: 100,
        metadata: filters.iter().map(|(k, v)| Metadata::new(k, v)).collect(),
    }
}

#[test]
fn an_index_of_the_version_before_policies_is_migrated_and_keeps_every_token() {
    // An object as the previous version left it: its schema, its rows, its import done.
    let sql = SqliteSql::default();
    for statement in SCHEMA {
        sql.exec(statement, &[]).unwrap();
    }
    for (n, ttl) in [(1, 0), (2, 3600), (3, 10)] {
        sql.exec(
            "INSERT INTO tokens (token, created_at, ttl, expires_at) VALUES (?1, ?2, ?3, ?4)",
            &[
                SqlParam::Text(&id(n)),
                SqlParam::Integer(T0),
                SqlParam::Integer(ttl),
                SqlParam::Integer(if ttl == 0 {
                    9_007_199_254_740_991
                } else {
                    T0 + ttl
                }),
            ],
        )
        .unwrap();
    }
    sql.exec(
        "INSERT INTO meta (key, value) VALUES ('legacyKvImport', 'done')",
        &[],
    )
    .unwrap();
    assert_eq!(schema_version(&sql).unwrap(), 1);

    let index = SqlIndex::open(sql, 100).unwrap();
    assert_eq!(schema_version(index.sql()).unwrap(), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 3, "policies (2), then sessions (3)");
    // Every old token is there, without a policy, having made no video.
    let (rows, total) = index.page(&listing(&[]), T0 + 5).unwrap();
    assert_eq!(total, 3);
    assert!(rows
        .iter()
        .all(|r| r.policy.is_none() && r.uploads_used == 0));
    assert_eq!(index.status(&id(2), T0 + 5).unwrap(), TokenStatus::Active);
    assert_eq!(
        index.meta("legacyKvImport").unwrap().as_deref(),
        Some("done")
    );
    // An old token counts its videos like any (it has no bound).
    assert_eq!(index.claim_upload(&id(1), T0).unwrap(), Claim::Granted);
    assert_eq!(index.uploads_used(&id(1), T0).unwrap(), Some(1));
    // New tokens carry policies and metadata beside the old ones.
    index
        .insert(&id(4), T0 + 1, 0, &labelled(&[("user", "u1")]), T0 + 1)
        .unwrap();
    let (rows, total) = index.page(&listing(&[("user", "u1")]), T0 + 5).unwrap();
    assert_eq!((total, rows[0].token.as_str()), (1, id(4).as_str()));
    // Opening it again (every start of the object) changes nothing.
    let sql = index.sql();
    let again = SqlIndex::open(SqliteSqlRef(sql), 100).unwrap();
    assert_eq!(schema_version(again.sql()).unwrap(), SCHEMA_VERSION);
    assert_eq!(again.count(T0 + 5).unwrap(), 4);
}

/// A second handle on the same in-memory database.
struct SqliteSqlRef<'a>(&'a SqliteSql);

impl Sql for SqliteSqlRef<'_> {
    fn exec(
        &self,
        statement: &str,
        params: &[SqlParam<'_>],
    ) -> upload_tokens_core::storage::kv::StoreResult<upload_tokens_core::storage::index::SqlRows>
    {
        self.0.exec(statement, params)
    }
}

#[test]
fn a_new_index_is_created_at_the_current_version() {
    let index = open(0);
    assert_eq!(schema_version(index.sql()).unwrap(), SCHEMA_VERSION);
}

#[test]
fn claims_count_up_to_max_uploads_and_no_further() {
    let index = open(100);
    index.insert(&id(1), T0, 60, &bounded(3), T0).unwrap();
    for used in 1..=3 {
        assert_eq!(index.claim_upload(&id(1), T0).unwrap(), Claim::Granted);
        assert_eq!(index.uploads_used(&id(1), T0).unwrap(), Some(used));
    }
    for _ in 0..3 {
        assert_eq!(index.claim_upload(&id(1), T0).unwrap(), Claim::Exhausted);
    }
    assert_eq!(index.uploads_used(&id(1), T0).unwrap(), Some(3));
    let (rows, _) = index.page(&listing(&[]), T0).unwrap();
    assert_eq!(rows[0].uploads_used, 3);
    assert_eq!(rows[0].policy, bounded(3));
    // Expired, deleted or unknown: absent, and nothing is counted.
    assert_eq!(index.claim_upload(&id(1), T0 + 60).unwrap(), Claim::Absent);
    assert_eq!(index.uploads_used(&id(1), T0 + 60).unwrap(), None);
    assert_eq!(index.claim_upload(&id(9), T0).unwrap(), Claim::Absent);
    index.insert(&id(2), T0, 0, &bounded(1), T0).unwrap();
    assert!(index.remove(&id(2), T0).unwrap());
    assert_eq!(index.claim_upload(&id(2), T0).unwrap(), Claim::Absent);
    // A token without a bound is always granted, and counted.
    index.insert(&id(3), T0, 0, &Policy::default(), T0).unwrap();
    for _ in 0..5 {
        assert_eq!(index.claim_upload(&id(3), T0).unwrap(), Claim::Granted);
    }
    assert_eq!(index.uploads_used(&id(3), T0).unwrap(), Some(5));
}

#[test]
fn metadata_goes_with_its_token_when_it_is_deleted_or_purged() {
    let index = open(100);
    let labels = labelled(&[("user", "u1"), ("plan", "pro")]);
    index.insert(&id(1), T0, 10, &labels, T0).unwrap();
    index.insert(&id(2), T0, 0, &labels, T0).unwrap();
    index
        .insert(&id(3), T0, 0, &labelled(&[("user", "u2")]), T0)
        .unwrap();
    let metadata_rows =
        |i: &SqlIndex<SqliteSql>| rows_of(i.sql(), "SELECT COUNT(*) FROM token_metadata");
    assert_eq!(metadata_rows(&index), 5);
    // Inserting the same token again (a retried command) changes nothing.
    index
        .insert(&id(3), T0, 0, &labelled(&[("user", "u2")]), T0)
        .unwrap();
    assert_eq!(metadata_rows(&index), 5);
    assert!(index.remove(&id(2), T0).unwrap());
    assert_eq!(metadata_rows(&index), 3);
    // Token 1 expires at T0 + 10 and is purged by a write after T0 + 110.
    index
        .insert(&id(4), T0 + 200, 0, &Policy::default(), T0 + 200)
        .unwrap();
    assert_eq!(metadata_rows(&index), 1);
    let (rows, total) = index.page(&listing(&[("user", "u2")]), T0 + 200).unwrap();
    assert_eq!((total, rows[0].token.as_str()), (1, id(3).as_str()));
}

#[test]
fn filtered_listings_start_from_the_metadata_index_and_never_scan_the_tokens() {
    let index = open(0);
    for n in 0..200 {
        let user = format!("u{}", n % 50);
        let plan = if n % 100 < 50 { "pro" } else { "free" };
        index
            .insert(
                &id(n),
                T0 + i64::from(n),
                0,
                &labelled(&[("user", &user), ("plan", plan)]),
                T0,
            )
            .unwrap();
    }
    for filters in [
        vec![Metadata::new("user", "u7")],
        vec![Metadata::new("user", "u7"), Metadata::new("plan", "free")],
    ] {
        for sort_by in [SortKey::CreatedAt, SortKey::Ttl] {
            let page = PageRequest {
                sort_by,
                descending: false,
                offset: 0,
                limit: 10,
                metadata: filters.clone(),
            };
            for statement in [page_statement(&page), count_statement(&filters)] {
                let plan = query_plan(index.sql(), &statement);
                assert!(
                    plan[0].starts_with(
                        "SEARCH m USING COVERING INDEX token_metadata_by_pair (key=? AND value=?"
                    ),
                    "{statement}\n{plan:#?}"
                );
                assert!(
                    plan.iter()
                        .any(|p| p.contains("SEARCH t USING PRIMARY KEY (token=?)")),
                    "{statement}\n{plan:#?}"
                );
                assert!(
                    !plan.iter().any(|p| p.starts_with("SCAN")),
                    "{statement}\n{plan:#?}"
                );
            }
        }
        let (rows, total) = index
            .page(
                &PageRequest {
                    sort_by: SortKey::CreatedAt,
                    descending: false,
                    offset: 0,
                    limit: 100,
                    metadata: filters.clone(),
                },
                T0,
            )
            .unwrap();
        assert_eq!(total, 4 / filters.len());
        assert!(rows.iter().all(|r| r.policy.matches(&filters)));
    }
}

/// The steps of SQLite's plan for `statement`, outermost first.
fn query_plan(sql: &SqliteSql, statement: &str) -> Vec<String> {
    let texts: Vec<String> = (0..statement_params(statement))
        .map(|i| format!("p{i}"))
        .collect();
    let bound: Vec<SqlParam<'_>> = texts.iter().map(|t| SqlParam::Text(t)).collect();
    sql.exec(&format!("EXPLAIN QUERY PLAN {statement}"), &bound)
        .unwrap()
        .into_iter()
        .map(|row| match row.into_iter().last() {
            Some(SqlValue::Text(detail)) => detail,
            other => panic!("{other:?}"),
        })
        .collect()
}

/// The highest `?n` of a statement.
fn statement_params(statement: &str) -> usize {
    statement
        .split('?')
        .skip(1)
        .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn twenty_filters_stay_within_the_hundred_bound_parameters_of_a_statement() {
    let index = open(0);
    let pairs: Vec<(String, String)> = (0..20)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    index.insert(&id(1), T0, 0, &labelled(&refs), T0).unwrap();
    index
        .insert(&id(2), T0, 0, &labelled(&refs[..19]), T0)
        .unwrap();
    let page = listing(&refs);
    assert!(statement_params(&page_statement(&page)) <= 100);
    let (rows, total) = index.page(&page, T0).unwrap();
    assert_eq!(
        (total, rows.len(), rows[0].token.as_str()),
        (1, 1, id(1).as_str())
    );
}

/// The walk to an unfiltered page reads only a covering index of its sort key: the rows it skips
/// cost no lookup in the table (at a million tokens a middle page skips half a million), and only
/// the page's own rows are read from the table, for their policies.
#[test]
fn an_unfiltered_page_skips_rows_in_a_covering_index_and_reads_only_its_own_from_the_table() {
    let index = open(0);
    for (sort_by, covering) in [
        (SortKey::CreatedAt, "tokens_by_created"),
        (SortKey::Ttl, "tokens_by_expiry"),
    ] {
        for descending in [false, true] {
            let page = PageRequest {
                sort_by,
                descending,
                offset: 500,
                limit: 25,
                metadata: vec![],
            };
            let statement = page_statement(&page);
            let plan = query_plan(index.sql(), &statement);
            // The walk (a scan, or a range search on the expiry) in the covering index, the
            // page's rows by their key, and no other way into the table.
            let walk = format!("t USING COVERING INDEX {covering}");
            let walks = plan.iter().filter(|p| p.contains(&walk)).count();
            assert_eq!(walks, 1, "{statement}\n{plan:#?}");
            let reads: Vec<&String> = plan.iter().filter(|p| p.contains("t USING")).collect();
            assert_eq!(reads.len(), 2, "{statement}\n{plan:#?}");
            assert!(
                plan.contains(&"SEARCH t USING PRIMARY KEY (token=?)".to_owned()),
                "{statement}\n{plan:#?}"
            );
        }
    }
}
