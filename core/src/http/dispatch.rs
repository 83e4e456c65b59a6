//! The one dispatcher: who is calling, the rate limits, which handler answers, and what every
//! answer carries (rate-limit headers, CORS on `/upload`, the log line of a failure).

use crate::auth::handlers::{exchange, Exchange};
use crate::auth::{parse_authorization, Credentials};
use crate::config::{Config, RateLimit};
use crate::http::cors::{preflight, with_cors};
use crate::http::problem::ApiError;
use crate::http::{Answer, Body, Endpoint, LimitScope, Limiter, Request, Response, OPENAPI_JSON};
use crate::ids::{request_id, Entropy};
use crate::project::ProjectId;
use crate::storage::index::TokenIndex;
use crate::storage::kv::Kv;
use crate::storage::objects::Objects;
use crate::time::UnixSeconds;
use crate::tokens::handlers as tokens;
use crate::tokens::store::TokenStore;
use crate::videos::{read as videos, upload};

/// Everything a handler may use besides the request.
pub struct Context<'a, K, L, I, O> {
    pub config: &'a Config,
    /// Token records (KV).
    pub store: &'a TokenStore<K>,
    /// The project indexes: which tokens exist, their order, and which may upload.
    pub index: &'a I,
    /// Videos and the pieces of unfinished uploads (R2).
    pub objects: &'a O,
    pub limiter: &'a L,
    pub now: UnixSeconds,
    pub entropy: &'a mut dyn Entropy,
}

impl<K, L, I, O> Context<'_, K, L, I, O> {
    pub fn limit(&self, scope: LimitScope) -> RateLimit {
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

/// The limiter key of a client address: an IPv4 address as it is, an IPv6 address by its /64
/// (one subscriber's whole allocation, so that changing address within it gains nothing).
pub fn client_key(addr: &str) -> String {
    match addr.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => format!("addr:{v4}"),
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let s = v6.segments();
                format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => format!("addr:{}", addr.trim()),
    }
}

/// Counts a failed authentication or a refused upload token against the caller's address;
/// once the address is over the limit, the answer is a 429 instead (a key or token cannot be
/// guessed quickly). Successful callers are never counted.
async fn count_failure<L: Limiter>(
    limiter: &L,
    limit: RateLimit,
    addr: &str,
    refused: ApiError,
    log: &mut Option<String>,
) -> ApiError {
    let key = format!("failed-{}", client_key(addr));
    match check_rate_limit(limiter, LimitScope::Auth, limit, &key, log).await {
        Ok(()) => refused,
        Err(mut too_many) => {
            too_many.headers.extend(rate_limit_headers(limit, false));
            too_many
        }
    }
}

/// The limiter key of a project.
pub fn project_limit_key(project: &ProjectId) -> String {
    format!("project:{project}")
}

/// What every answer of `endpoint` carries besides its own headers: CORS on `/upload` (for a
/// request from `origin`), and the figure of the limit it falls under.
pub fn finish(
    endpoint: &Endpoint,
    config: Option<&Config>,
    origin: Option<&str>,
    mut r: Response,
) -> Response {
    if let (Some(scope), Some(config)) = (endpoint.limit_scope(), config) {
        if r.header("X-RateLimit-Limit").is_none() {
            let limit = match scope {
                LimitScope::Api => config.api_limit,
                LimitScope::Auth => config.auth_limit,
            };
            r.headers
                .extend(rate_limit_headers(limit, false).into_iter().take(1));
        }
    }
    if matches!(endpoint, Endpoint::Upload) {
        r = with_cors(r, origin);
    }
    r
}

/// The answer to a request `resolve` refused (404, 405): `/upload`'s carry CORS like every
/// other answer of it, so a browser sees them for what they are.
pub fn route_refusal(path: &str, e: ApiError) -> Response {
    let r = Response::error(e);
    if path.trim_end_matches('/') == "/upload" {
        with_cors(r, None)
    } else {
        r
    }
}

/// The answer of an endpoint that needs no configuration (`/openapi.json`, the preflight of
/// `/upload`), so that it is served even when the configuration is refused.
pub fn without_config(endpoint: &Endpoint) -> Option<Response> {
    match endpoint {
        Endpoint::OpenApi => Some(Response::json(200, OPENAPI_JSON.to_owned())),
        Endpoint::UploadPreflight => Some(preflight()),
        _ => None,
    }
}

/// Answers any request the service serves.
pub async fn handle<K: Kv, L: Limiter, I: TokenIndex, O: Objects, B: Body>(
    endpoint: Endpoint,
    req: &Request<'_>,
    body: B,
    ctx: &mut Context<'_, K, L, I, O>,
) -> Answer<O::Body> {
    let id = request_id(ctx.entropy);
    let mut log = None;
    let answer = match dispatch(&endpoint, req, body, ctx, &mut log, &id).await {
        Ok(Answer::Stream { mut headers, body }) => {
            headers.push(("X-Request-Id", id));
            return Answer::Stream { headers, body };
        }
        Ok(Answer::Api(r)) => r,
        Err(e) if e.status() == 401 => {
            let limit = ctx.config.auth_limit;
            let e = count_failure(ctx.limiter, limit, req.client_addr, e, &mut log).await;
            Response::error(e)
        }
        Err(e) => Response::error(e),
    };
    let mut answer = finish(&endpoint, Some(ctx.config), req.origin, answer);
    if answer.log.is_none() {
        answer.log = log;
    }
    answer.log = answer.log.map(|line| format!("request {id}: {line}"));
    answer.headers.push(("X-Request-Id", id));
    Answer::Api(answer)
}

async fn dispatch<K: Kv, L: Limiter, I: TokenIndex, O: Objects, B: Body>(
    endpoint: &Endpoint,
    req: &Request<'_>,
    body: B,
    ctx: &mut Context<'_, K, L, I, O>,
    log: &mut Option<String>,
    request_id: &str,
) -> Result<Answer<O::Body>, ApiError> {
    let api = |r: Result<Response, ApiError>| r.map(Answer::Api);
    if let Some(r) = without_config(endpoint) {
        return Ok(Answer::Api(r));
    }
    match endpoint {
        Endpoint::Upload => return api(upload::upload(ctx, req, body, log, request_id).await),
        Endpoint::AuthApiKey | Endpoint::AuthRefresh => {
            let limit = ctx.limit(LimitScope::Auth);
            let key = client_key(req.client_addr);
            check_rate_limit(ctx.limiter, LimitScope::Auth, limit, &key, log).await?;
            let kind = match endpoint {
                Endpoint::AuthApiKey => Exchange::ApiKey,
                _ => Exchange::Refresh,
            };
            return api(exchange(ctx, req, body, kind).await);
        }
        _ => {}
    }

    let project = authenticate(ctx.config, req.authorization, ctx.now)?;
    let limit = ctx.limit(LimitScope::Api);
    let limit_key = project_limit_key(&project);
    let limiter = ctx.limiter;
    let allowed = check_rate_limit(limiter, LimitScope::Api, limit, &limit_key, log);
    match endpoint {
        Endpoint::ListTokens => api(tokens::list(ctx, req, &project, allowed).await),
        Endpoint::CreateToken => api(tokens::create(ctx, req, body, project, allowed).await),
        Endpoint::GetToken(id) => api(tokens::get(ctx, &project, id, allowed).await),
        Endpoint::DeleteToken(id) => {
            allowed.await?;
            api(tokens::delete(ctx, &project, id).await)
        }
        Endpoint::GetVideo(id) => {
            allowed.await?;
            api(videos::video(ctx, &project, id).await)
        }
        Endpoint::GetVideoSource(id) => {
            allowed.await?;
            videos::source(ctx, &project, id).await
        }
        _ => Err(ApiError::unknown_route()),
    }
}
