//! Error answers: api.video's problem JSON (`{type, title, status, name?, detail?}`), one
//! constructor per kind of failure so every handler reports the same thing the same way.

use serde::Serialize;
use std::borrow::Cow;

const DOCS: &str = "https://docs.api.video/reference/";

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A link to the error documentation.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short, human description of the error.
    pub title: Cow<'static, str>,
    /// The HTTP status code.
    pub status: u16,
    /// The parameter or attribute that caused the error, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    /// More about this occurrence, when it helps the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A failed request: what the caller is told, plus what only the log may see. Boxed, so a
/// `Result<_, ApiError>` stays one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(Box<ErrorParts>);

/// The parts of an [`ApiError`], reachable through it by `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorParts {
    pub problem: Problem,
    /// Detail of an internal failure, for the log only; never sent to the caller.
    pub log_detail: Option<String>,
    /// Extra headers the answer must carry (`Allow` on a 405, `WWW-Authenticate` on a 401).
    pub headers: Vec<(&'static str, String)>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorParts;

    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorParts {
        &mut self.0
    }
}

impl ApiError {
    /// An error with the given documentation slug, status and title.
    pub fn new(status: u16, slug: &str, title: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(ErrorParts {
            problem: Problem {
                type_uri: format!("{DOCS}{slug}"),
                title: title.into(),
                status,
                name: None,
                detail: None,
            },
            log_detail: None,
            headers: Vec::new(),
        }))
    }

    /// Names the parameter or attribute at fault.
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.problem.name = Some(name);
        self
    }

    /// Adds a detail for the caller.
    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.problem.detail = Some(detail.into());
        self
    }

    /// Adds a header to the answer.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.problem.status
    }

    /// 404 for a resource that does not exist, or that the caller may not see.
    pub fn not_found(name: &'static str) -> Self {
        Self::new(
            404,
            "resource-not-found",
            "The requested resource was not found.",
        )
        .named(name)
    }

    /// 400 for a body attribute with a wrong value.
    pub fn invalid_attribute(name: &'static str, title: &'static str) -> Self {
        Self::new(400, "invalid-attribute", title).named(name)
    }

    /// 400 for a query parameter with a wrong value.
    pub fn invalid_query(name: &'static str, title: &'static str) -> Self {
        Self::new(400, "request-invalid-query-parameter", title).named(name)
    }

    /// 400 for a body that is not a JSON object.
    pub fn invalid_payload() -> Self {
        Self::new(400, "invalid-payload", "The payload is invalid.")
    }

    /// 415 for a body whose media type is not JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "unsupported-media-type",
            "The request body must be sent as application/json.",
        )
    }

    /// 413 for a body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "payload-too-large", "The request body is too large.")
            .detail(format!("The body may hold at most {limit} bytes."))
    }

    /// 401 for a missing, malformed or wrong API key or bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "authentication-failed",
            "The API key or bearer token is missing, invalid or expired.",
        )
        .header(
            "WWW-Authenticate",
            "Basic realm=\"api\", Bearer realm=\"api\"",
        )
    }

    /// 400 from `/auth/api-key` and `/auth/refresh` for credentials that do not match.
    pub fn invalid_credentials() -> Self {
        let mut e = Self::new(
            400,
            "authentication-invalid-user-credentials",
            "The user credentials were incorrect.",
        );
        e.problem.name = Some("");
        e
    }

    /// 404 for a path the service does not serve.
    pub fn unknown_route() -> Self {
        Self::new(404, "unrecognized-request-url", "Unrecognized request URL.")
    }

    /// 405 for a known path with a method it does not take.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(
            405,
            "method-not-allowed",
            "The method is not allowed for this URL.",
        )
        .detail(format!("Allowed methods: {allow}."))
        .header("Allow", allow)
    }

    /// 429 once the caller has used up its allowance for the current period.
    pub fn too_many_requests() -> Self {
        Self::new(429, "too-many-requests", "Too many requests.")
    }

    /// 500 for a service whose configuration is missing or broken. The reason goes to the log.
    pub fn misconfigured(reason: impl Into<String>) -> Self {
        let mut e = Self::new(
            500,
            "service-misconfigured",
            "The service is not configured correctly; its operator has been told in the log.",
        );
        e.log_detail = Some(reason.into());
        e
    }

    /// 500 for anything that went wrong inside. The detail goes to the log, never to the caller.
    pub fn internal(detail: impl Into<String>) -> Self {
        let mut e = Self::new(500, "internal-error", "An internal error occurred.");
        e.log_detail = Some(detail.into());
        e
    }

    /// The problem JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&self.problem).expect("a problem always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_api_video_byte_for_byte() {
        assert_eq!(
            ApiError::not_found("uploadToken").body(),
            r#"{"type":"https://docs.api.video/reference/resource-not-found","title":"The requested resource was not found.","status":404,"name":"uploadToken"}"#
        );
    }

    #[test]
    fn internal_detail_stays_out_of_the_body() {
        let e = ApiError::internal("KV GET failed: 503 secret-ish detail");
        assert!(!e.body().contains("KV"));
        assert_eq!(
            e.log_detail.as_deref(),
            Some("KV GET failed: 503 secret-ish detail")
        );
        assert_eq!(e.status(), 500);
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let e = ApiError::method_not_allowed("GET, POST");
        assert_eq!(e.status(), 405);
        assert!(e.headers.contains(&("Allow", "GET, POST".to_owned())));
    }
}
