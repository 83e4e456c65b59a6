//! CORS on `/upload`, the one endpoint browsers call directly (with an upload token).

use crate::http::Response;

/// Headers a browser uploader sends on `/upload`, which the preflight allows.
const ALLOWED_HEADERS: &str =
    "Content-Range, Content-Type, AV-Origin-Client, AV-Origin-App, AV-Origin-Sdk, Authorization";

/// Adds the CORS headers every answer of `/upload` carries, errors included (without them a
/// browser reports a failed upload as a network error and retries it for minutes).
pub fn with_cors(mut r: Response) -> Response {
    r.headers
        .push(("Access-Control-Allow-Origin", "*".to_owned()));
    r.headers.push((
        "Access-Control-Expose-Headers",
        "X-RateLimit-Limit, X-RateLimit-Retry-After, Retry-After, X-Request-Id".to_owned(),
    ));
    r
}

/// The answer to `OPTIONS /upload`.
pub fn preflight() -> Response {
    let mut r = Response::empty(204);
    r.headers.extend([
        ("Access-Control-Allow-Methods", "POST, OPTIONS".to_owned()),
        ("Access-Control-Allow-Headers", ALLOWED_HEADERS.to_owned()),
        ("Access-Control-Max-Age", "86400".to_owned()),
    ]);
    with_cors(r)
}
