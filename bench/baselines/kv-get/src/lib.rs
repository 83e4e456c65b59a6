//! Baseline (b): one KV get. `GET /{token}` reads `tok:{token}` and answers its value (404 if
//! absent): the unavoidable I/O of `GET /upload-tokens/{token}`.

use worker::{event, Context, Env, Headers, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let key = format!("tok:{}", req.path().trim_start_matches('/'));
    let kv = env.kv("UPLOAD_TOKENS")?;
    match kv.get(&key).text().await? {
        Some(value) => {
            let headers = Headers::new();
            headers.set("Content-Type", "application/json")?;
            Ok(Response::ok(value)?.with_headers(headers))
        }
        None => Ok(Response::empty()?.with_status(404)),
    }
}
