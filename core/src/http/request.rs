//! What a request is to the core: the endpoint it names, its few headers, and its body.

use crate::digest::ContentDigest;
use crate::http::problem::ApiError;
use crate::storage::kv::StoreError;
use crate::tokens::query::{check_json_content_type, MAX_JSON_BODY};

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
    /// `POST /upload?token=`: a delegated upload.
    Upload,
    /// `OPTIONS /upload`: the CORS preflight of an upload.
    UploadPreflight,
    /// `GET /videos/{videoId}`: a video and its upload status.
    GetVideo(String),
    /// `GET /videos/{videoId}/source`: a video's file.
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
    /// `Content-Range`, on uploads.
    pub content_range: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    /// The query string without `?`.
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// The caller's address (`CF-Connecting-IP`), for limits on the auth endpoints.
    pub client_addr: &'a str,
    /// `Origin`, which browsers send on cross-origin requests: the origin of the page.
    pub origin: Option<&'a str>,
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit: answered with 413 before any parsing.
    TooLarge,
    Failed(String),
}

/// A file part of an upload's multipart body, already staged in object storage under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub key: String,
    /// The part's `filename`, as sent.
    pub name: String,
    /// The part's `Content-Type`, as sent.
    pub content_type: String,
    pub size: u64,
    /// The SHA-256 of its bytes, taken as they were staged.
    pub sha256: ContentDigest,
}

/// What an upload's multipart body held: its file parts (staged) and its `videoId` field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StagedForm {
    pub files: Vec<StagedFile>,
    pub video_id: Option<String>,
}

/// Why an upload's body could not be staged (nothing of it stays staged then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// Not `multipart/form-data`, or no body.
    NotMultipart,
    /// Not a well-formed multipart body (or over its limits on parts and headers).
    Malformed,
    /// A file part longer than the limit.
    TooLarge,
    /// The storage failed.
    Failed(String),
}

/// A request body, read only by the endpoints that take one: a JSON body is read whole, never
/// past `limit` bytes; an upload's multipart body is staged as it arrives, file parts going
/// into object storage under `staging_prefix`, none longer than `max_file_bytes`.
#[allow(async_fn_in_trait)]
pub trait Body {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError>;
    async fn stage(
        self,
        staging_prefix: &str,
        max_file_bytes: u64,
    ) -> Result<StagedForm, FormError>;
}

/// A body already in memory (host tests, and callers that have one); it is no multipart form.
impl Body for &[u8] {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            Err(BodyError::TooLarge)
        } else {
            Ok(self.to_vec())
        }
    }

    async fn stage(self, _: &str, _: u64) -> Result<StagedForm, FormError> {
        Err(FormError::NotMultipart)
    }
}

/// Reads and type-checks a JSON body of at most [`MAX_JSON_BODY`] bytes.
pub async fn read_json_body<B: Body>(req: &Request<'_>, body: B) -> Result<Vec<u8>, ApiError> {
    let bytes = body.read(MAX_JSON_BODY).await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::payload_too_large(MAX_JSON_BODY),
        BodyError::Failed(detail) => ApiError::internal(format!("reading the body: {detail}")),
    })?;
    check_json_content_type(req.content_type, &bytes)?;
    Ok(bytes)
}

/// The rate limiter: counts one request against `key` and tells whether it is allowed.
#[allow(async_fn_in_trait)]
pub trait Limiter {
    async fn allow(&self, scope: LimitScope, key: &str) -> Result<bool, StoreError>;
}
