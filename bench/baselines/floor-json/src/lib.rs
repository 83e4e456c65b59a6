//! Size floor, step 1: baseline (a) plus what every JSON endpoint needs: parse a request body
//! with serde_json and serialise a derived struct. Built only by bench/size-floor.sh.

use serde::Serialize;
use worker::{event, Context, Env, Headers, Request, Response, Result};
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Token { token: String, ttl: u32, created_at: String, expires_at: Option<String> }
#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let ttl = v.get("ttl").and_then(|t| t.as_u64()).unwrap_or(0) as u32;
    let t = Token { token: "to1tcmSFHeYY5KzyhOqVKMKb".into(), ttl, created_at: "2020-12-02T10:13:19+00:00".into(), expires_at: None };
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(serde_json::to_string(&t).unwrap_or_default())?.with_headers(headers))
}
