//! The Worker: adapts a request to the core's contract, supplies KV, the rate limiter, the
//! clock and randomness, and turns the core's answer (or any failure) into a response.

mod index;
mod kv;
mod upload;

use futures_util::StreamExt;
use std::cell::OnceCell;
use std::rc::Rc;
use upload_tokens_core::config::Config;
use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::http::{
    handle, resolve, Body, BodyError, Context as ApiContext, Endpoint, LimitScope, Limiter,
    Request as ApiRequest, Response as ApiResponse,
};
use upload_tokens_core::ids::SystemEntropy;
use upload_tokens_core::storage::index::CommandIndex;
use upload_tokens_core::storage::kv::StoreError;
use upload_tokens_core::time::{from_millis, UnixSeconds};
use upload_tokens_core::tokens::store::TokenStore;
use worker::web_sys::Request;
use worker::{
    console_error, console_log, event, ByteStream, Context, Date, Env, Response, Result,
    ScheduleContext, ScheduledEvent,
};

/// Binding names, as in `wrangler.toml`.
pub(crate) const KV_BINDING: &str = "UPLOAD_TOKENS";
const API_LIMITER: &str = "API_RATE_LIMITER";
const AUTH_LIMITER: &str = "AUTH_RATE_LIMITER";

/// What the Worker answers: a JSON (or empty) answer, or a file streamed from R2.
enum Answer {
    Api(ApiResponse),
    Stream {
        body: worker::web_sys::ReadableStream,
        headers: Vec<(&'static str, String)>,
    },
}

// Vars and secrets are fixed for the life of an instance (changing one starts new instances),
// so they are read once per instance rather than on every request.
thread_local! {
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
    static SERVER_TIMING: OnceCell<bool> = const { OnceCell::new() };
}

/// The configuration, read from the vars on an instance's first request and kept; a
/// configuration that is refused is not kept, so every request reports it.
fn config(env: &Env) -> std::result::Result<Rc<Config>, ApiError> {
    if let Some(config) = CONFIG.with(|c| c.get().cloned()) {
        return Ok(config);
    }
    let config = Rc::new(Config::from_vars(|name| {
        env.var(name).ok().map(|v| v.to_string())
    })?);
    CONFIG.with(|c| {
        let _ = c.set(config.clone());
    });
    Ok(config)
}

/// Whether answers carry `Server-Timing` figures (KV operations, wasm memory): set the var
/// `SERVER_TIMING` to `1`, as the benchmark does. Off by default.
fn server_timing_enabled(env: &Env) -> bool {
    SERVER_TIMING
        .with(|s| *s.get_or_init(|| env.var("SERVER_TIMING").is_ok_and(|v| v.to_string() == "1")))
}

/// The size of this instance's wasm linear memory, which grows and never shrinks.
fn wasm_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    0
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let answer = serve(&req, &env).await;
    discard_unread_body(&req).await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => Answer::Api(ApiResponse::error(ApiError::internal(format!(
            "worker error: {e}"
        )))),
    };
    match answer {
        Answer::Api(mut answer) => {
            if server_timing_enabled(&env) {
                answer.headers.push((
                    "Server-Timing",
                    format!("wasm-memory;desc=\"{}\"", wasm_memory_bytes()),
                ));
            }
            if let Some(line) = &answer.log {
                console_error!("{}", upload_tokens_core::redact::redact(line));
            }
            into_response(answer)
        }
        Answer::Stream { body, headers } => {
            let h = worker::Headers::new();
            for (name, value) in &headers {
                h.set(name, value)?;
            }
            Ok(Response::from_body(worker::ResponseBody::Stream(body))?.with_headers(h))
        }
    }
}

/// The periodic cleanup of abandoned uploads (`[triggers] crons` in wrangler.toml).
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let stale_after = upload_tokens_core::config::upload_stale_after(|name| {
        env.var(name).ok().map(|v| v.to_string())
    });
    match upload::remove_stale_uploads(&env, now(), stale_after).await {
        Ok(n) => console_log!("removed {n} abandoned upload(s) or staged file(s)"),
        Err(e) => console_error!(
            "removing abandoned uploads failed: {}",
            upload_tokens_core::redact::redact(e.log_detail.as_deref().unwrap_or(""))
        ),
    }
}

fn now() -> UnixSeconds {
    from_millis(Date::now().as_millis() as f64)
}

/// Reads to its end, and drops on the JavaScript side, a request body that the answer did not
/// need (a 401, a 413 judged from `Content-Length`…): answering while the client is still
/// sending would otherwise reset the connection, and the client would see a network error
/// instead of the answer.
async fn discard_unread_body(req: &Request) {
    if req.body_used() {
        return;
    }
    let Some(body) = req.body() else { return };
    if body.locked() {
        return;
    }
    if let Ok(sink) = worker::web_sys::WritableStream::new() {
        let _ = wasm_bindgen_futures::JsFuture::from(body.pipe_to(&sink)).await;
    }
}

async fn serve(req: &Request, env: &Env) -> Result<Answer> {
    let url = req.url();
    let (path, query) = upload_tokens_core::http::split_url(&url);
    // The raw method: the `worker` crate maps methods it does not know (QUERY, say) to GET.
    let method = req.method();
    let endpoint = match resolve(&method, path) {
        Ok(e) => e,
        Err(e) => return Ok(Answer::Api(ApiResponse::error(e))),
    };
    match endpoint {
        // Neither needs configuration.
        Endpoint::OpenApi => {
            return Ok(Answer::Api(ApiResponse::json(
                200,
                upload_tokens_core::http::OPENAPI_JSON.to_owned(),
            )))
        }
        Endpoint::UploadPreflight => return Ok(Answer::Api(upload::preflight())),
        _ => {}
    }
    let config = match config(env) {
        Ok(c) => c,
        Err(e) if endpoint == Endpoint::Upload => {
            return Ok(Answer::Api(upload::with_cors(ApiResponse::error(e))))
        }
        Err(e) => return Ok(Answer::Api(ApiResponse::error(e))),
    };
    let limiter = BindingLimiter { env };
    match &endpoint {
        Endpoint::Upload => {
            let answer = upload::upload(req, env, &config, &limiter, now()).await;
            return Ok(Answer::Api(answer));
        }
        Endpoint::GetVideo(id) => {
            let answer = upload::get_video(req, env, &config, &limiter, now(), id).await;
            return Ok(Answer::Api(answer));
        }
        Endpoint::GetVideoSource(id) => {
            return Ok(
                match upload::get_source(req, env, &config, &limiter, now(), id).await {
                    upload::Source::Stream { body, headers } => Answer::Stream { body, headers },
                    upload::Source::Answer(a) => Answer::Api(a),
                },
            )
        }
        _ => {}
    }
    let headers = req.headers();
    let authorization = headers.get("Authorization")?;
    let content_type = headers.get("Content-Type")?;
    let client_addr = headers.get("CF-Connecting-IP")?.unwrap_or_default();
    let declared_length = headers
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    let api_req = ApiRequest {
        method: &method,
        path,
        query,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        client_addr: &client_addr,
    };
    let store = TokenStore::new(kv::WorkersKv::new(env, KV_BINDING)?);
    let index = CommandIndex::new(index::DurableObjectTransport::new(env));
    let mut entropy = SystemEntropy;
    let mut ctx = ApiContext {
        config: &config,
        store: &store,
        index: &index,
        limiter: &limiter,
        now: now(),
        entropy: &mut entropy,
    };
    let body = RequestBody {
        req,
        declared_length,
    };
    let mut answer = handle(endpoint, &api_req, body, &mut ctx).await;
    if server_timing_enabled(env) {
        // Only when enabled (the benchmark): how many KV operations and project-index round
        // trips this request made.
        let c = store.kv().counts();
        answer.headers.push((
            "Server-Timing",
            format!(
                "kv;desc=\"reads={} writes={} deletes={} lists={}\", index;desc=\"calls={}\"",
                c.reads,
                c.writes,
                c.deletes,
                c.lists,
                index.calls()
            ),
        ));
    }
    Ok(Answer::Api(answer))
}

/// The request body: read whole when its declared length is within the limit, else as a stream,
/// so that no more than the limit is ever buffered.
struct RequestBody<'r> {
    req: &'r Request,
    declared_length: Option<u64>,
}

impl Body for RequestBody<'_> {
    async fn read(self, limit: usize) -> std::result::Result<Vec<u8>, BodyError> {
        if self.declared_length.is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge);
        }
        if self.declared_length.is_some() {
            // Its length is known and within the limit (the runtime holds a body to its
            // declared length): read it whole, in one step.
            let js_failed = |e: wasm_bindgen::JsValue| BodyError::Failed(format!("{e:?}"));
            let buffer =
                wasm_bindgen_futures::JsFuture::from(self.req.array_buffer().map_err(js_failed)?)
                    .await
                    .map_err(js_failed)?;
            let bytes = js_sys::Uint8Array::new(&buffer);
            if bytes.length() as usize > limit {
                return Err(BodyError::TooLarge);
            }
            return Ok(bytes.to_vec());
        }
        let failed = |e: worker::Error| BodyError::Failed(e.to_string());
        let Some(body) = self.req.body() else {
            return Ok(Vec::new());
        };
        let mut stream = ByteStream::from(body);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(failed)?;
            if bytes.len() + chunk.len() > limit {
                // Read the rest without keeping it, so the answer reaches the client.
                while let Some(Ok(_)) = stream.next().await {}
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// The `[[ratelimits]]` bindings.
struct BindingLimiter<'e> {
    env: &'e Env,
}

impl Limiter for BindingLimiter<'_> {
    async fn allow(&self, scope: LimitScope, key: &str) -> std::result::Result<bool, StoreError> {
        let name = match scope {
            LimitScope::Api => API_LIMITER,
            LimitScope::Auth => AUTH_LIMITER,
        };
        let limiter = self
            .env
            .rate_limiter(name)
            .map_err(|e| StoreError(format!("rate limiter {name}: {e}")))?;
        let outcome = limiter
            .limit(key.to_owned())
            .await
            .map_err(|e| StoreError(format!("rate limiter {name}: {e}")))?;
        Ok(outcome.success)
    }
}

fn into_response(answer: ApiResponse) -> Result<Response> {
    let response = match answer.body {
        Some(body) => Response::ok(body)?,
        None => Response::empty()?,
    };
    let headers = worker::Headers::new();
    for (name, value) in &answer.headers {
        headers.append(name, value)?;
    }
    Ok(response.with_status(answer.status).with_headers(headers))
}
