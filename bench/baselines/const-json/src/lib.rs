//! Baseline (a): answers a constant JSON. The cost of the runtime, the request and the
//! response with no work at all; the reference for the service's 401 answer and wasm size.

use worker::{event, Context, Env, Headers, Request, Response, Result};

const BODY: &str = r#"{"token":"to1tcmSFHeYY5KzyhOqVKMKb","ttl":3600,"createdAt":"2020-12-02T10:13:19+00:00","expiresAt":"2020-12-02T11:13:19+00:00"}"#;

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(BODY)?.with_headers(headers))
}
