//! Baseline (e): one KV get and two KV deletes. `DELETE /{token}?idx=K` reads `tok:{token}`,
//! then deletes the index entry K and the record (404 if the record is absent): the
//! unavoidable I/O of `DELETE /upload-tokens/{token}`.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    let record = format!("tok:{}", url.path().trim_start_matches('/'));
    let index = url
        .query_pairs()
        .find(|(k, _)| k == "idx")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let kv = env.kv("UPLOAD_TOKENS")?;
    if kv.get(&record).text().await?.is_none() {
        return Ok(Response::empty()?.with_status(404));
    }
    kv.delete(&index).await?;
    kv.delete(&record).await?;
    Ok(Response::empty()?.with_status(204))
}
