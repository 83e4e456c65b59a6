//! The Worker: the event entry points and the adapters the core runs on (KV, R2, the project
//! index Durable Object, the rate limiter, the request body). Every rule lives in the core; this
//! crate turns a runtime request into the core's [`ApiRequest`], supplies storage, the clock and
//! randomness, and turns the core's [`Answer`] into a response.

mod body;
mod index;
mod kv;
mod r2;

use std::cell::OnceCell;
use std::rc::Rc;
use upload_tokens_core::config::Config;
use upload_tokens_core::http::problem::ApiError;
use upload_tokens_core::http::{
    finish, handle, resolve, route_refusal, without_config, Answer, Context as ApiContext,
    LimitScope, Limiter, Request as ApiRequest, Response as ApiResponse,
};
use upload_tokens_core::ids::SystemEntropy;
use upload_tokens_core::storage::index::CommandIndex;
use upload_tokens_core::storage::kv::StoreError;
use upload_tokens_core::time::{from_millis, UnixSeconds};
use upload_tokens_core::tokens::store::TokenStore;
use worker::web_sys::Request;
use worker::{
    console_error, console_log, event, Context, Date, Env, Response, Result, ScheduleContext,
    ScheduledEvent,
};

/// Binding names, as in `wrangler.toml`.
pub(crate) const KV_BINDING: &str = "UPLOAD_TOKENS";
const API_LIMITER: &str = "API_RATE_LIMITER";
const AUTH_LIMITER: &str = "AUTH_RATE_LIMITER";

// Vars and secrets are fixed for the life of an instance (changing one starts new instances),
// so they are read once per instance rather than on every request.
thread_local! {
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
    static SERVER_TIMING: OnceCell<bool> = const { OnceCell::new() };
}

fn var(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |name| env.var(name).ok().map(|v| v.to_string())
}

/// The configuration, read from the vars on an instance's first request and kept; a
/// configuration that is refused is not kept, so every request reports it.
fn config(env: &Env) -> std::result::Result<Rc<Config>, ApiError> {
    if let Some(config) = CONFIG.with(|c| c.get().cloned()) {
        return Ok(config);
    }
    let config = Rc::new(Config::from_vars(var(env))?);
    CONFIG.with(|c| {
        let _ = c.set(config.clone());
    });
    Ok(config)
}

/// Whether answers carry `Server-Timing` figures (storage round trips, wasm memory): set the
/// var `SERVER_TIMING` to `1`, as the benchmark does. Off by default.
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

fn now() -> UnixSeconds {
    from_millis(Date::now().as_millis() as f64)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let answer = serve(&req, &env).await;
    discard_unread_body(&req).await;
    let answer = answer.unwrap_or_else(|e| {
        Answer::Api(ApiResponse::error(ApiError::internal(format!(
            "worker error: {e}"
        ))))
    });
    match answer {
        Answer::Api(answer) => {
            if let Some(line) = &answer.log {
                console_error!("{}", upload_tokens_core::redact::redact(line));
            }
            into_response(answer)
        }
        Answer::Stream { headers, body } => {
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
    // An invalid UPLOAD_STALE_AFTER removes nothing: the run is refused and says why.
    let result = match (
        upload_tokens_core::config::upload_stale_after(var(&env)),
        r2::WorkerObjects::new(&env),
    ) {
        (Ok(stale_after), Ok(objects)) => {
            upload_tokens_core::videos::cleanup::remove_stale_uploads(&objects, now(), stale_after)
                .await
        }
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(ApiError::internal(format!("binding R2: {e}"))),
    };
    match result {
        Ok(n) => console_log!("removed {n} abandoned upload(s) or staged file(s)"),
        Err(e) => console_error!(
            "removing abandoned uploads failed: {}",
            upload_tokens_core::redact::redact(e.log_detail.as_deref().unwrap_or(""))
        ),
    }
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

async fn serve(req: &Request, env: &Env) -> Result<Answer<web_sys::ReadableStream>> {
    let url = req.url();
    let (path, query) = upload_tokens_core::http::split_url(&url);
    // The raw method: the `worker` crate maps methods it does not know (QUERY, say) to GET.
    let method = req.method();
    let endpoint = match resolve(&method, path) {
        Ok(e) => e,
        Err(e) => return Ok(Answer::Api(route_refusal(path, e))),
    };
    if let Some(r) = without_config(&endpoint) {
        return Ok(Answer::Api(r));
    }
    let config = match config(env) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Answer::Api(finish(
                &endpoint,
                None,
                None,
                ApiResponse::error(e),
            )))
        }
    };
    let headers = req.headers();
    let authorization = headers.get("Authorization")?;
    let content_type = headers.get("Content-Type")?;
    let content_range = headers.get("Content-Range")?;
    let client_addr = headers.get("CF-Connecting-IP")?.unwrap_or_default();
    let origin = headers.get("Origin")?;
    let declared_length = headers
        .get("Content-Length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    let api_req = ApiRequest {
        method: &method,
        path,
        query,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        content_range: content_range.as_deref(),
        client_addr: &client_addr,
        origin: origin.as_deref(),
    };
    let store = TokenStore::new(kv::WorkersKv::new(env, KV_BINDING)?);
    let index = CommandIndex::new(index::DurableObjectTransport::new(env));
    let objects = r2::WorkerObjects::new(env)?;
    let limiter = BindingLimiter { env };
    let mut entropy = SystemEntropy;
    let mut ctx = ApiContext {
        config: &config,
        store: &store,
        index: &index,
        objects: &objects,
        limiter: &limiter,
        now: now(),
        entropy: &mut entropy,
    };
    let body = body::RequestBody {
        req,
        declared_length,
        bucket: objects.raw(),
    };
    let mut answer = handle(endpoint, &api_req, body, &mut ctx).await;
    if let (Answer::Api(answer), true) = (&mut answer, server_timing_enabled(env)) {
        // Only when enabled (the benchmark): the storage round trips this request made.
        let c = store.kv().counts();
        answer.headers.push((
            "Server-Timing",
            format!(
                "kv;desc=\"reads={} writes={} deletes={} lists={}\", index;desc=\"calls={}\", wasm-memory;desc=\"{}\"",
                c.reads, c.writes, c.deletes, c.lists,
                index.calls(),
                wasm_memory_bytes()
            ),
        ));
    }
    Ok(answer)
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
