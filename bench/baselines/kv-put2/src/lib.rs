//! Baseline (c): two KV puts. `POST /` writes a record and an index entry of the same shape
//! and expiry as a created token's (ttl 3600): the unavoidable I/O of `POST /upload-tokens`.

use worker::{event, js_sys::Math, Context, Date, Env, Headers, Request, Response, Result};

const PROJECT: &str = "bench-baseline-put";
const TTL: u64 = 3600;

#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let now = Date::now().as_millis() / 1000;
    // A distinct key per request, as long as a token id.
    let id = format!("bl{:020}", (Math::random() * 1e19) as u64);
    let kv = env.kv("UPLOAD_TOKENS")?;
    let record = format!(r#"{{"project":"{PROJECT}","ttl":{TTL},"createdAt":{now}}}"#);
    kv.put(&format!("tok:{id}"), record)?
        .expiration_ttl(TTL)
        .execute()
        .await?;
    kv.put(&format!("idx:{PROJECT}:{now:010}:{id}"), "")?
        .metadata(format!("{now},{TTL}"))?
        .expiration_ttl(TTL)
        .execute()
        .await?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(format!(r#"{{"token":"{id}"}}"#))?.with_headers(headers))
}
