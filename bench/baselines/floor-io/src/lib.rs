//! Size floor, step 2: step 1 plus the other pieces the service cannot do without: an
//! HMAC-SHA256 signature in base64url (bearer tokens), a KV get, put with metadata and expiry,
//! list, and a rate-limiter call. No API logic at all. Built only by bench/size-floor.sh.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use worker::{event, Context, Env, Headers, Request, Response, Result};
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Token { token: String, ttl: u32, created_at: String, expires_at: Option<String> }
#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let ttl = v.get("ttl").and_then(|t| t.as_u64()).unwrap_or(0) as u32;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
    mac.update(&body);
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    let kv = env.kv("UPLOAD_TOKENS")?;
    let got = kv.get(&sig).text().await?.unwrap_or_default();
    kv.put(&sig, got.clone())?.metadata("1,2")?.expiration_ttl(60).execute().await?;
    let list = kv.list().prefix("idx:".into()).execute().await?;
    let ok = env.rate_limiter("API_RATE_LIMITER")?.limit("p".into()).await?.success;
    let t = Token { token: format!("{}{}", got, list.keys.len()), ttl: ttl + ok as u32, created_at: sig, expires_at: None };
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(serde_json::to_string(&t).unwrap_or_default())?.with_headers(headers))
}
