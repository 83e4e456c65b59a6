//! Baselines (f), (g) and (h): the unavoidable I/O of the token endpoints that use a project's
//! index object, over an object that runs only the SQL (no command protocol, no legacy check,
//! no purge, no API logic). The object is a SQLite-backed Durable Object with the service's
//! own schema (`upload_tokens_core::storage::index::SCHEMA`), one per project name (`idFromName`).
//!
//! - (f) `POST /`: one KV put of a record of the same shape and expiry as a created token's
//!   (ttl 3600), then one object call that inserts the token's row: `POST /upload-tokens`.
//! - (g) `DELETE /{token}?project=P`: one object call that deletes the row if it is active
//!   (404 if it was not), then one KV delete of the record: `DELETE /upload-tokens/{token}`.
//! - (h) `GET /?project=P&sortBy=createdAt|ttl&sortOrder=asc|desc&offset=K&limit=L`: one object
//!   call that runs a `COUNT(*)` of the active rows and, unless `K` is past the end, one
//!   `LIMIT L OFFSET K` walk in the listing's order; the object's JSON is the answer:
//!   `GET /upload-tokens`.

use upload_tokens_core::storage::index::{NEVER, SCHEMA};
use worker::{
    durable_object, event, js_sys::Math, wasm_bindgen, Context, Date, DurableObject, Env, Headers,
    Method, Request, RequestInit, Response, Result, SqlStorage, SqlStorageValue, State,
};

const BINDING: &str = "INDEX";
const CREATE_PROJECT: &str = "bench-create-base";
const TTL: u64 = 3600;

fn now() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

fn param(url: &worker::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn call(env: &Env, project: &str, method: Method, url: &str) -> Result<Response> {
    let stub = env.durable_object(BINDING)?.id_from_name(project)?.get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(method);
    stub.fetch_with_request(Request::new_with_init(url, &init)?).await
}

fn json(body: String) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    match req.method() {
        Method::Post => {
            let now = now();
            // A distinct key per request, as long as a token id.
            let id = format!("bl{:022}", (Math::random() * 1e19) as u64);
            let record = format!(r#"{{"project":"{CREATE_PROJECT}","ttl":{TTL},"createdAt":{now}}}"#);
            env.kv("UPLOAD_TOKENS")?
                .put(&format!("tok:{id}"), record)?
                .expiration_ttl(TTL)
                .execute()
                .await?;
            let mut res = call(
                &env,
                CREATE_PROJECT,
                Method::Post,
                &format!("https://index/insert?token={id}&createdAt={now}&ttl={TTL}"),
            )
            .await?;
            if res.status_code() != 200 {
                return Response::error(res.text().await?, 500);
            }
            json(format!(r#"{{"token":"{id}"}}"#))
        }
        Method::Delete => {
            let token = url.path().trim_start_matches('/').to_owned();
            let project = param(&url, "project");
            let mut res = call(
                &env,
                &project,
                Method::Delete,
                &format!("https://index/delete?token={token}&now={}", now()),
            )
            .await?;
            if res.text().await? != "1" {
                return Ok(Response::empty()?.with_status(404));
            }
            env.kv("UPLOAD_TOKENS")?
                .delete(&format!("tok:{token}"))
                .await?;
            Ok(Response::empty()?.with_status(204))
        }
        _ => {
            let project = param(&url, "project");
            let query = format!(
                "https://index/list?sortBy={}&sortOrder={}&offset={}&limit={}&now={}",
                param(&url, "sortBy"),
                param(&url, "sortOrder"),
                param(&url, "offset"),
                param(&url, "limit"),
                now()
            );
            let mut res = call(&env, &project, Method::Get, &query).await?;
            json(res.text().await?)
        }
    }
}

/// One project's index: the table and its two covering indexes, nothing else.
#[durable_object]
pub struct IndexBaseline {
    sql: SqlStorage,
}

fn int(url: &worker::Url, name: &str) -> i64 {
    param(url, name).parse().unwrap_or(0)
}

impl DurableObject for IndexBaseline {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in SCHEMA {
            sql.exec(statement, None).expect("the schema applies");
        }
        Self { sql }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let url = req.url()?;
        match url.path() {
            "/insert" => {
                let (created_at, ttl) = (int(&url, "createdAt"), int(&url, "ttl"));
                let expires_at = if ttl == 0 { NEVER } else { created_at + ttl };
                self.sql.exec(
                    "INSERT OR IGNORE INTO tokens (token, created_at, ttl, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    vec![
                        SqlStorageValue::String(param(&url, "token")),
                        SqlStorageValue::Integer(created_at),
                        SqlStorageValue::Integer(ttl),
                        SqlStorageValue::Integer(expires_at),
                    ],
                )?;
                Response::ok("")
            }
            "/delete" => {
                let rows = self
                    .sql
                    .exec(
                        "DELETE FROM tokens WHERE token = ?1 AND expires_at > ?2 RETURNING token",
                        vec![
                            SqlStorageValue::String(param(&url, "token")),
                            SqlStorageValue::Integer(int(&url, "now")),
                        ],
                    )?
                    .raw()
                    .count();
                Response::ok(if rows > 0 { "1" } else { "0" })
            }
            _ => {
                let now = int(&url, "now");
                let (offset, limit) = (int(&url, "offset"), int(&url, "limit"));
                let total = match self
                    .sql
                    .exec(
                        "SELECT COUNT(*) FROM tokens WHERE expires_at > ?1",
                        vec![SqlStorageValue::Integer(now)],
                    )?
                    .raw()
                    .next()
                {
                    Some(row) => match row?.first() {
                        Some(SqlStorageValue::Integer(n)) => *n,
                        _ => 0,
                    },
                    None => 0,
                };
                let mut body = format!(r#"{{"itemsTotal":{total},"rows":["#);
                if offset < total {
                    let statement = match (param(&url, "sortBy").as_str(), param(&url, "sortOrder").as_str()) {
                        ("ttl", "asc") => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY expires_at ASC, created_at ASC, token ASC LIMIT ?2 OFFSET ?3",
                        ("ttl", _) => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY expires_at DESC, created_at DESC, token DESC LIMIT ?2 OFFSET ?3",
                        (_, "asc") => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY created_at ASC, token ASC LIMIT ?2 OFFSET ?3",
                        _ => "SELECT token, created_at, ttl FROM tokens WHERE expires_at > ?1 ORDER BY created_at DESC, token DESC LIMIT ?2 OFFSET ?3",
                    };
                    let cursor = self.sql.exec(
                        statement,
                        vec![
                            SqlStorageValue::Integer(now),
                            SqlStorageValue::Integer(limit),
                            SqlStorageValue::Integer(offset),
                        ],
                    )?;
                    for (i, row) in cursor.raw().enumerate() {
                        if let [SqlStorageValue::String(token), SqlStorageValue::Integer(created_at), SqlStorageValue::Integer(ttl)] =
                            row?.as_slice()
                        {
                            // Token ids are letters and digits: nothing to escape.
                            body.push_str(&format!(
                                r#"{}["{token}",{created_at},{ttl}]"#,
                                if i > 0 { "," } else { "" }
                            ));
                        }
                    }
                }
                body.push_str("]}");
                Response::ok(body)
            }
        }
    }
}
