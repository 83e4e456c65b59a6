//! The project index as a SQLite-backed Durable Object (`ProjectIndex`, one per project, named
//! after it), and the Worker's way to it. The object only adapts: its SQLite becomes the core's
//! [`Sql`], and each request body is a command carried out by the core's [`serve`] (which
//! also imports the project's legacy KV index on first use).

use crate::kv::WorkersKv;
use std::rc::Rc;
use upload_tokens_core::project::ProjectId;
use upload_tokens_core::storage::index::{
    legacy_import_done, reply_fits_header, serve, CommandError, IndexTransport, Sql, SqlIndex,
    SqlParam, SqlRows, SqlValue, REPLY_HEADER,
};
use upload_tokens_core::storage::kv::{StoreError, StoreResult};
use worker::{
    console_error, durable_object, wasm_bindgen, DurableObject, Env, Method, Request, RequestInit,
    Response, Result, SqlStorage, SqlStorageValue, State,
};

/// The Durable Object binding, as in `wrangler.toml`.
pub const INDEX_BINDING: &str = "PROJECT_INDEX";

/// The object's SQLite storage as the core's [`Sql`].
struct DoSql(SqlStorage);

impl Sql for DoSql {
    fn exec(&self, statement: &str, params: &[SqlParam<'_>]) -> StoreResult<SqlRows> {
        let failed = |e: worker::Error| StoreError(format!("SQL failed: {e}"));
        let bindings = params
            .iter()
            .map(|p| match *p {
                SqlParam::Null => SqlStorageValue::Null,
                SqlParam::Integer(i) => SqlStorageValue::Integer(i),
                SqlParam::Text(s) => SqlStorageValue::String(s.to_owned()),
            })
            .collect::<Vec<_>>();
        let cursor = self.0.exec(statement, bindings).map_err(failed)?;
        cursor
            .raw()
            .map(|row| {
                row.map_err(failed)?
                    .into_iter()
                    .map(|v| match v {
                        SqlStorageValue::Null => Ok(SqlValue::Null),
                        SqlStorageValue::Integer(i) => Ok(SqlValue::Integer(i)),
                        SqlStorageValue::Float(f) => Ok(SqlValue::Real(f)),
                        SqlStorageValue::String(s) => Ok(SqlValue::Text(s)),
                        other => Err(StoreError(format!("unexpected SQL value {other:?}"))),
                    })
                    .collect()
            })
            .collect()
    }
}

/// One project's token index.
#[durable_object(fetch)]
pub struct ProjectIndex {
    state: State,
    env: Env,
    index: Rc<SqlIndex<DoSql>>,
}

impl DurableObject for ProjectIndex {
    fn new(state: State, env: Env) -> Self {
        // An invalid value makes the Worker refuse every request before any reaches an object,
        // so the default here is never what a command is answered with.
        let keep_expired = upload_tokens_core::config::upload_stale_after(|name| {
            env.var(name).ok().map(|v| v.to_string())
        })
        .unwrap_or(upload_tokens_core::config::DEFAULT_UPLOAD_STALE_AFTER);
        let sql = DoSql(state.storage().sql());
        // The schema statements are idempotent; a failure here is reported by every request.
        let index = SqlIndex::open(sql, keep_expired).unwrap_or_else(|e| {
            console_error!("opening the project index failed: {e}");
            panic!("the project index cannot open its tables");
        });
        Self {
            state,
            env,
            index: Rc::new(index),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        // The raw URL: parsing it with the `url` crate would add its tables to the wasm.
        let url = req.inner().url();
        let (path, _) = upload_tokens_core::http::split_url(&url);
        let project = path
            .strip_prefix('/')
            .and_then(ProjectId::parse)
            .ok_or_else(|| worker::Error::RustError("index request without a project".into()))?;
        let command = req.text().await?;
        let outcome = if legacy_import_done(&self.index).unwrap_or(false) {
            let kv = WorkersKv::new(&self.env, crate::KV_BINDING)?;
            serve(&self.index, &kv, &project, &command).await
        } else {
            // The import reads KV; no other command may run until it is over, or a delete
            // could run before the token it deletes is imported.
            let (index, kv) = (
                self.index.clone(),
                WorkersKv::new(&self.env, crate::KV_BINDING)?,
            );
            self.state
                .block_concurrency_while(
                    async move { Ok(serve(&index, &kv, &project, &command).await) },
                )
                .await?
        };
        match outcome {
            Ok(reply) if reply_fits_header(&reply) => {
                let mut res = Response::empty()?;
                res.headers_mut().set(REPLY_HEADER, &reply)?;
                Ok(res)
            }
            Ok(reply) => Response::ok(reply),
            Err(CommandError::Malformed(detail)) => {
                Response::error(format!("malformed index command: {detail}"), 400)
            }
            Err(CommandError::Storage(e)) => {
                console_error!(
                    "project index: {}",
                    upload_tokens_core::redact::redact(&e.0)
                );
                Response::error("project index failure", 500)
            }
        }
    }
}

/// The Worker's way to the project indexes: one `fetch` to the project's object per command.
pub struct DurableObjectTransport<'e> {
    env: &'e Env,
}

impl<'e> DurableObjectTransport<'e> {
    pub fn new(env: &'e Env) -> Self {
        Self { env }
    }
}

impl IndexTransport for DurableObjectTransport<'_> {
    async fn send(&self, project: &ProjectId, command: String) -> StoreResult<String> {
        let failed = |e: worker::Error| StoreError(format!("project index of {project}: {e}"));
        let stub = self
            .env
            .durable_object(INDEX_BINDING)
            .and_then(|ns| ns.id_from_name(project.as_str())?.get_stub())
            .map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(wasm_bindgen::JsValue::from_str(&command)));
        let req =
            Request::new_with_init(&format!("https://index/{project}"), &init).map_err(failed)?;
        let mut res = stub.fetch_with_request(req).await.map_err(failed)?;
        if res.status_code() == 200 {
            if let Some(reply) = res.headers().get(REPLY_HEADER).map_err(failed)? {
                return Ok(reply);
            }
        }
        let body = res.text().await.map_err(failed)?;
        if res.status_code() != 200 {
            return Err(StoreError(format!(
                "project index of {project} answered {}: {body}",
                res.status_code()
            )));
        }
        Ok(body)
    }
}
