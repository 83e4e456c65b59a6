//! The HTTP contract, free of any runtime: which endpoint a request names, who is calling,
//! and what each token and auth endpoint answers. The Worker adapts its request to
//! [`Request`] and a [`Response`] back, and supplies KV and the rate limiter.

use crate::auth::{parse_authorization, Credentials};
use crate::config::{Config, RateLimit};
use crate::http::problem::ApiError;
use crate::ids::{Entropy, TokenId};
use crate::project::ProjectId;
use crate::storage::index::{PageRequest, TokenIndex};
use crate::storage::kv::{Kv, StoreError};
use crate::time::UnixSeconds;
use crate::tokens::list::render_page;
use crate::tokens::query::{
    check_json_content_type, parse_create_body, parse_json_object, ListQuery, MAX_JSON_BODY,
};
use crate::tokens::store::{TokenRecord, TokenStore};
use crate::tokens::token::UploadToken;
use futures_util::future::join;
use serde_json::Value;

/// The service's own OpenAPI document, served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

/// Every operation the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    ListTokens,
    CreateToken,
    GetToken(String),
    DeleteToken(String),
    AuthApiKey,
    AuthRefresh,
    OpenApi,
    /// `POST /upload?token=`: handled by the Worker layer (R2).
    Upload,
    /// `OPTIONS /upload`: the CORS preflight of an upload.
    UploadPreflight,
    /// `GET /videos/{videoId}`: handled by the Worker layer (R2).
    GetVideo(String),
    /// `GET /videos/{videoId}/source`: handled by the Worker layer (R2).
    GetVideoSource(String),
}

/// Which rate limit an endpoint falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// Per project.
    Api,
    /// Per client address.
    Auth,
}

impl Endpoint {
    /// The limit whose figures the answer's headers state, if any.
    pub fn limit_scope(&self) -> Option<LimitScope> {
        match self {
            Endpoint::AuthApiKey | Endpoint::AuthRefresh => Some(LimitScope::Auth),
            Endpoint::OpenApi | Endpoint::UploadPreflight => None,
            _ => Some(LimitScope::Api),
        }
    }
}

/// The path and the query (without `?`) of an absolute request URL such as
/// `https://host:8787/upload-tokens?pageSize=10`; a fragment is dropped.
pub fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(url, |i| &url[i + 3..]);
    let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let target = target.split('#').next().unwrap_or(target);
    match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    }
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Names the endpoint of `method path`, or the 404/405 problem to answer.
pub fn resolve(method: &str, path: &str) -> Result<Endpoint, ApiError> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let (endpoint, allow) = match (method, segments.as_slice()) {
        ("GET", ["upload-tokens"]) => (Some(Endpoint::ListTokens), ""),
        ("POST", ["upload-tokens"]) => (Some(Endpoint::CreateToken), ""),
        (_, ["upload-tokens"]) => (None, "GET, POST"),
        ("GET", ["upload-tokens", id]) if !id.is_empty() => {
            (Some(Endpoint::GetToken((*id).to_owned())), "")
        }
        ("DELETE", ["upload-tokens", id]) if !id.is_empty() => {
            (Some(Endpoint::DeleteToken((*id).to_owned())), "")
        }
        (_, ["upload-tokens", id]) if !id.is_empty() => (None, "GET, DELETE"),
        ("POST", ["auth", "api-key"]) => (Some(Endpoint::AuthApiKey), ""),
        ("POST", ["auth", "refresh"]) => (Some(Endpoint::AuthRefresh), ""),
        (_, ["auth", "api-key" | "refresh"]) => (None, "POST"),
        ("GET", ["openapi.json"]) => (Some(Endpoint::OpenApi), ""),
        (_, ["openapi.json"]) => (None, "GET"),
        ("POST", ["upload"]) => (Some(Endpoint::Upload), ""),
        ("OPTIONS", ["upload"]) => (Some(Endpoint::UploadPreflight), ""),
        (_, ["upload"]) => (None, "POST, OPTIONS"),
        ("GET", ["videos", id]) if !id.is_empty() => {
            (Some(Endpoint::GetVideo((*id).to_owned())), "")
        }
        (_, ["videos", id]) if !id.is_empty() => (None, "GET"),
        ("GET", ["videos", id, "source"]) if !id.is_empty() => {
            (Some(Endpoint::GetVideoSource((*id).to_owned())), "")
        }
        (_, ["videos", id, "source"]) if !id.is_empty() => (None, "GET"),
        _ => return Err(ApiError::unknown_route()),
    };
    endpoint.ok_or_else(|| ApiError::method_not_allowed(allow))
}

/// What the handlers need to know of a request, besides its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query string without `?`.
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// The caller's address (`CF-Connecting-IP`), for limits on the auth endpoints.
    pub client_addr: &'a str,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit: answered with 413 before any parsing.
    TooLarge,
    Failed(String),
}

/// A request body, read only by the endpoints that take one, and never past `limit` bytes.
#[allow(async_fn_in_trait)]
pub trait Body {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError>;
}

/// A body already in memory (host tests, and callers that have one).
impl Body for &[u8] {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            Err(BodyError::TooLarge)
        } else {
            Ok(self.to_vec())
        }
    }
}

/// The rate limiter: counts one request against `key` and tells whether it is allowed.
#[allow(async_fn_in_trait)]
pub trait Limiter {
    async fn allow(&self, scope: LimitScope, key: &str) -> Result<bool, StoreError>;
}

/// An answer, ready for the Worker to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    /// A line for the operator's log (internal failures); never sent to the caller.
    pub log: Option<String>,
}

impl Response {
    /// A JSON answer, typed exactly `application/json` (one official client refuses a charset).
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body: Some(body),
            log: None,
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            log: None,
        }
    }

    /// The problem JSON answer of `error`.
    pub fn error(error: ApiError) -> Self {
        let mut r = Self::json(error.status(), error.body());
        r.headers.extend(error.headers.iter().cloned());
        r.log = error.log_detail.as_deref().map(crate::redact::redact);
        r
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything a handler may use besides the request.
pub struct Context<'a, K, L, I> {
    pub config: &'a Config,
    /// Token records (KV).
    pub store: &'a TokenStore<K>,
    /// The project indexes: which tokens exist, their order, and which may upload.
    pub index: &'a I,
    pub limiter: &'a L,
    pub now: UnixSeconds,
    pub entropy: &'a mut dyn Entropy,
}

impl<K, L, I> Context<'_, K, L, I> {
    fn limit(&self, scope: LimitScope) -> RateLimit {
        match scope {
            LimitScope::Api => self.config.api_limit,
            LimitScope::Auth => self.config.auth_limit,
        }
    }
}

/// The project of the caller, from `Authorization: Basic base64(apiKey:)` or
/// `Authorization: Bearer <access token>`; 401 for anything else.
pub fn authenticate(
    config: &Config,
    authorization: Option<&str>,
    now: UnixSeconds,
) -> Result<ProjectId, ApiError> {
    let project = match authorization.and_then(parse_authorization) {
        Some(Credentials::ApiKey(key)) => config.keys.project_of(&key),
        Some(Credentials::Bearer(token)) => {
            config
                .signer
                .project_of_access_token(&config.keys, &token, now)
        }
        None => None,
    };
    project.cloned().ok_or_else(ApiError::unauthorized)
}

/// Headers stating the limit an answer falls under; on a 429 also when to retry. The binding
/// tells neither how many requests remain nor when its window started, so neither is claimed:
/// `period` is the longest a caller may have to wait.
pub fn rate_limit_headers(limit: RateLimit, limited: bool) -> Vec<(&'static str, String)> {
    let mut h = vec![("X-RateLimit-Limit", limit.limit.to_string())];
    if limited {
        h.push(("X-RateLimit-Retry-After", limit.period.to_string()));
        h.push(("Retry-After", limit.period.to_string()));
    }
    h
}

/// Counts the request against `key`; a 429 (with its headers) once over the limit. A failing
/// limiter lets the request through and leaves a line for the log.
pub async fn check_rate_limit<L: Limiter>(
    limiter: &L,
    scope: LimitScope,
    limit: RateLimit,
    key: &str,
    log: &mut Option<String>,
) -> Result<(), ApiError> {
    match limiter.allow(scope, key).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            let mut e = ApiError::too_many_requests();
            e.headers
                .extend(rate_limit_headers(limit, true).into_iter().skip(1));
            Err(e)
        }
        Err(err) => {
            *log = Some(format!("rate limiter failed, request let through: {err}"));
            Ok(())
        }
    }
}

/// The limiter key of a project.
pub fn project_limit_key(project: &ProjectId) -> String {
    format!("project:{project}")
}

/// Answers a request to one of the token or auth endpoints (or `/openapi.json`).
pub async fn handle<K: Kv, L: Limiter, I: TokenIndex, B: Body>(
    endpoint: Endpoint,
    req: &Request<'_>,
    body: B,
    ctx: &mut Context<'_, K, L, I>,
) -> Response {
    let scope = endpoint.limit_scope();
    let mut log = None;
    let mut response = match dispatch(endpoint, req, body, ctx, &mut log).await {
        Ok(r) => r,
        Err(e) => Response::error(e),
    };
    if let Some(scope) = scope {
        let limit = ctx.limit(scope);
        if response.header("X-RateLimit-Limit").is_none() {
            response
                .headers
                .extend(rate_limit_headers(limit, false).into_iter().take(1));
        }
    }
    if response.log.is_none() {
        response.log = log;
    }
    response
}

async fn dispatch<K: Kv, L: Limiter, I: TokenIndex, B: Body>(
    endpoint: Endpoint,
    req: &Request<'_>,
    body: B,
    ctx: &mut Context<'_, K, L, I>,
    log: &mut Option<String>,
) -> Result<Response, ApiError> {
    match endpoint {
        Endpoint::OpenApi => return Ok(Response::json(200, OPENAPI_JSON.to_owned())),
        Endpoint::AuthApiKey | Endpoint::AuthRefresh => {
            let limit = ctx.limit(LimitScope::Auth);
            let key = format!("addr:{}", req.client_addr);
            check_rate_limit(ctx.limiter, LimitScope::Auth, limit, &key, log).await?;
            let body = read_json_body(req, body).await?;
            let fields = parse_json_object(&body)?;
            let (field, lifetimes) = (
                if endpoint == Endpoint::AuthApiKey {
                    "apiKey"
                } else {
                    "refreshToken"
                },
                ctx.config.lifetimes,
            );
            let Some(Value::String(secret)) = fields.get(field) else {
                return Err(ApiError::invalid_attribute(
                    if endpoint == Endpoint::AuthApiKey {
                        "apiKey"
                    } else {
                        "refreshToken"
                    },
                    "This attribute is required and must be a string.",
                ));
            };
            let (c, now) = (ctx.config, ctx.now);
            let pair = if endpoint == Endpoint::AuthApiKey {
                c.signer.issue_for_key(&c.keys, secret, now, lifetimes)
            } else {
                c.signer.refresh(&c.keys, secret, now, lifetimes)
            };
            let pair = pair.ok_or_else(ApiError::invalid_credentials)?;
            return Ok(Response::json(
                200,
                serde_json::to_string(&pair).expect("serialises"),
            ));
        }
        _ => {}
    }

    let project = authenticate(ctx.config, req.authorization, ctx.now)?;
    let limit = ctx.limit(LimitScope::Api);
    let limit_key = project_limit_key(&project);
    let allowed = check_rate_limit(ctx.limiter, LimitScope::Api, limit, &limit_key, log);

    match endpoint {
        Endpoint::ListTokens => {
            // One round trip to the project's index, made while the limiter answers; a
            // refused caller costs at most that one read.
            let query = match ListQuery::parse(req.query) {
                Ok(q) => q,
                Err(e) => {
                    allowed.await?;
                    return Err(e);
                }
            };
            let page = ctx.index.page(&project, PageRequest::of(&query), ctx.now);
            let (allowed, page) = join(allowed, page).await;
            allowed?;
            let page = page.map_err(internal("listing tokens"))?;
            Ok(Response::json(200, render_page(&page, &query)))
        }
        Endpoint::CreateToken => {
            // The limiter is asked while the body arrives; nothing is written unless allowed.
            let (allowed, body) = join(allowed, read_json_body(req, body)).await;
            allowed?;
            let ttl = parse_create_body(&body?)?;
            let record = TokenRecord {
                project,
                token: UploadToken {
                    token: TokenId::generate(ctx.entropy),
                    ttl,
                    created_at: ctx.now,
                },
            };
            // The record first, then the index: an interrupted create leaves at worst a record
            // that the index does not know, which can neither be listed nor upload.
            ctx.store
                .save(&record)
                .await
                .map_err(internal("creating a token"))?;
            ctx.index
                .insert(&record.project, &record.token)
                .await
                .map_err(internal("creating a token"))?;
            Ok(token_response(&record.token))
        }
        // One read, made while the limiter answers, and used only if it allows.
        Endpoint::GetToken(id) => {
            let (allowed, found) = join(allowed, find_active(ctx, &project, &id)).await;
            allowed?;
            Ok(token_response(&found?.token))
        }
        Endpoint::DeleteToken(id) => {
            // Nothing is changed before the limiter allows it.
            allowed.await?;
            let token = TokenId::parse(&id).ok_or_else(|| ApiError::not_found("uploadToken"))?;
            // The index first: once it has forgotten the token, no upload is accepted with it,
            // wherever KV still has the record. Then the record.
            let removed = ctx
                .index
                .remove(&project, &token, ctx.now)
                .await
                .map_err(internal("deleting a token"))?;
            if !removed {
                // Not in the index: 404, unless an interrupted create or delete left the
                // record behind, which this delete then finishes.
                find_active(ctx, &project, &id).await?;
            }
            ctx.store
                .remove(&token)
                .await
                .map_err(internal("deleting a token"))?;
            Ok(Response::empty(204))
        }
        _ => Err(ApiError::unknown_route()),
    }
}

/// Reads and type-checks a JSON body of at most [`MAX_JSON_BODY`] bytes.
async fn read_json_body<B: Body>(req: &Request<'_>, body: B) -> Result<Vec<u8>, ApiError> {
    let bytes = body.read(MAX_JSON_BODY).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::payload_too_large(MAX_JSON_BODY),
        BodyError::Failed(detail) => ApiError::internal(format!("reading the body: {detail}")),
    })?;
    check_json_content_type(req.content_type, &bytes)?;
    Ok(bytes)
}

fn internal(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

fn token_response(token: &UploadToken) -> Response {
    Response::json(
        200,
        serde_json::to_string(&token.view()).expect("serialises"),
    )
}

/// The token `id` if it exists, belongs to `project` and is active; otherwise the same 404
/// whatever the reason, so nothing about other projects leaks. A malformed id costs no read.
async fn find_active<K: Kv, L, I>(
    ctx: &Context<'_, K, L, I>,
    project: &ProjectId,
    id: &str,
) -> Result<TokenRecord, ApiError> {
    let not_found = || ApiError::not_found("uploadToken");
    let id = TokenId::parse(id).ok_or_else(not_found)?;
    let record = ctx
        .store
        .load(&id)
        .await
        .map_err(internal("reading a token"))?;
    record
        .filter(|r| &r.project == project && r.token.is_active(ctx.now))
        .ok_or_else(not_found)
}
