//! The project indexes on the host: each over its own SQLite in memory, reached through the
//! same JSON commands as the Worker's Durable Objects, with injectable failures.

use super::FailurePlan;
use crate::project::ProjectId;
use crate::storage::index::{
    serve, CommandIndex, IndexTransport, Sql, SqlIndex, SqlParam, SqlRows, SqlValue,
};
use crate::storage::kv::{Kv, StoreError, StoreResult};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A SQLite database as the project index's storage on the host: in memory by default (the
/// tests' objects), or over any connection, such as the file of an object in a
/// `wrangler dev --persist-to` state (the benchmark's seeding tool).
pub struct SqliteSql {
    conn: rusqlite::Connection,
}

impl SqliteSql {
    /// The storage over `conn`.
    pub fn new(conn: rusqlite::Connection) -> Self {
        Self { conn }
    }

    /// The connection underneath, for what the `Sql` interface does not carry (transactions,
    /// pragmas).
    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

impl Default for SqliteSql {
    fn default() -> Self {
        Self::new(rusqlite::Connection::open_in_memory().expect("SQLite opens in memory"))
    }
}

impl Sql for SqliteSql {
    fn exec(&self, statement: &str, params: &[SqlParam<'_>]) -> StoreResult<SqlRows> {
        use rusqlite::types::{Value, ValueRef};
        let failed = |e: rusqlite::Error| StoreError(format!("SQL failed: {e}"));
        let mut stmt = self.conn.prepare_cached(statement).map_err(failed)?;
        let params = params.iter().map(|p| match *p {
            SqlParam::Null => Value::Null,
            SqlParam::Integer(i) => Value::Integer(i),
            SqlParam::Text(s) => Value::Text(s.to_owned()),
        });
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(failed)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(failed)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(i) => SqlValue::Integer(i),
                    ValueRef::Real(f) => SqlValue::Real(f),
                    ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => return Err(StoreError("unexpected blob".into())),
                });
            }
            out.push(values);
        }
        Ok(out)
    }
}

impl SqliteSql {
    /// Every row of every table, one line each, tables in name order and rows in storage
    /// order: equal dumps mean nothing was written in between.
    pub fn dump(&self) -> Vec<String> {
        let tables = self
            .exec(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                &[],
            )
            .expect("SQLite lists its tables");
        let mut lines = Vec::new();
        for row in tables {
            let Some(SqlValue::Text(table)) = row.first() else {
                continue;
            };
            let rows = self
                .exec(&format!("SELECT * FROM \"{table}\""), &[])
                .expect("a table reads");
            lines.extend(rows.iter().map(|r| format!("{table}: {r:?}")));
        }
        lines
    }
}

/// Where an injected failure of the index transport strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexFault {
    /// The command is lost on its way: nothing changes.
    Request,
    /// The command is carried out, but its answer is lost.
    Reply,
}

/// Every project's index object, each over its own SQLite in memory, reached as the Worker
/// reaches the Durable Objects: a command as JSON through [`crate::storage::index::serve`], which also
/// imports a project's legacy KV index on first use (from `legacy_kv`).
pub struct LocalIndexes<K> {
    objects: RefCell<HashMap<String, Rc<SqlIndex<SqliteSql>>>>,
    legacy_kv: K,
    keep_expired: u32,
    fault: FailurePlan<IndexFault>,
}

impl<K: Kv> LocalIndexes<K> {
    /// Indexes that keep expired tokens `keep_expired` seconds, importing from `legacy_kv`.
    pub fn new(legacy_kv: K, keep_expired: u32) -> Self {
        Self {
            objects: RefCell::new(HashMap::new()),
            legacy_kv,
            keep_expired,
            fault: FailurePlan::default(),
        }
    }

    /// Makes the `nth` next command (0 = the very next) fail at `fault`.
    pub fn fail(&self, fault: IndexFault, nth: usize) {
        self.fault.set(fault, nth);
    }

    /// The legacy KV.
    pub fn legacy_kv(&self) -> &K {
        &self.legacy_kv
    }

    /// Every project's index object dumped ([`SqliteSql::dump`]), projects in name order.
    pub fn snapshot(&self) -> Vec<String> {
        let objects = self.objects.borrow();
        let mut projects: Vec<&String> = objects.keys().collect();
        projects.sort();
        projects
            .into_iter()
            .flat_map(|p| {
                let dump = objects[p].sql().dump();
                dump.into_iter().map(move |line| format!("{p} {line}"))
            })
            .collect()
    }

    /// The index object of `project` (created on first use, like a Durable Object).
    pub fn object(&self, project: &ProjectId) -> Rc<SqlIndex<SqliteSql>> {
        self.objects
            .borrow_mut()
            .entry(project.to_string())
            .or_insert_with(|| {
                Rc::new(
                    SqlIndex::open(SqliteSql::default(), self.keep_expired)
                        .expect("the schema applies"),
                )
            })
            .clone()
    }
}

impl<K: Kv> IndexTransport for LocalIndexes<K> {
    async fn send(&self, project: &ProjectId, command: String) -> StoreResult<String> {
        // Each command counts once, whichever fault is planned.
        let fault = self.fault.strikes(|_| true);
        if fault == Some(IndexFault::Request) {
            return Err(StoreError(format!(
                "injected failure: command to the index of {project} lost"
            )));
        }
        let object = self.object(project);
        let reply = serve(&object, &self.legacy_kv, project, &command)
            .await
            .map_err(|e| StoreError(format!("index of {project} failed: {e:?}")))?;
        if fault == Some(IndexFault::Reply) {
            return Err(StoreError(format!(
                "injected failure: answer of the index of {project} lost"
            )));
        }
        Ok(reply)
    }
}

/// The project indexes as the handlers see them, over [`LocalIndexes`].
pub type MemoryIndex<K> = CommandIndex<LocalIndexes<K>>;
