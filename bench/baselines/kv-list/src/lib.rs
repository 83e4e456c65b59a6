//! Baseline (d): lists a whole prefix with metadata. `GET /?prefix=P` walks every `list` page
//! of P (1000 keys each, cursor loop) and answers the number of keys and of `list` calls:
//! the unavoidable I/O of listing a project's index, ceil(N/1000) calls for N tokens.

use worker::{event, Context, Env, Headers, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let prefix = url
        .query_pairs()
        .find(|(k, _)| k == "prefix")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let kv = env.kv("UPLOAD_TOKENS")?;
    let (mut keys, mut calls) = (0usize, 0usize);
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv.list().prefix(prefix.clone());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await?;
        calls += 1;
        keys += page.keys.len();
        match page.cursor {
            Some(next) if !page.list_complete => cursor = Some(next),
            _ => break,
        }
    }
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(format!(r#"{{"keys":{keys},"lists":{calls}}}"#))?.with_headers(headers))
}
