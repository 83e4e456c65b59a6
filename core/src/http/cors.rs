//! CORS on `/upload`, the one endpoint browsers call directly (with an upload token).
//!
//! Every answer of `/upload` may be read from any origin (`*`), except those for a token with
//! `allowedOrigins`: the upload handler marks them ([`bound_to_origin`]), and the dispatcher's
//! [`with_cors`] then names the request's own `Origin` instead, with `Vary: Origin`. Whether
//! that origin may upload is the handler's business (a 403 otherwise); naming it on the 403 too
//! lets the page read the refusal instead of seeing a network error. The preflight carries no
//! token, so it cannot know the token's origins and answers `*`.

use crate::http::problem::ApiError;
use crate::http::Response;

/// Headers a browser uploader sends on `/upload`, which the preflight allows.
const ALLOWED_HEADERS: &str =
    "Content-Range, Content-Type, AV-Origin-Client, AV-Origin-App, AV-Origin-Sdk, Authorization";

const VARY: (&str, &str) = ("Vary", "Origin");

/// Marks an answer (or refusal) as one whose CORS headers name the request's origin.
pub fn bound_to_origin(answer: Result<Response, ApiError>) -> Result<Response, ApiError> {
    let vary = (VARY.0, VARY.1.to_owned());
    match answer {
        Ok(mut r) => {
            r.headers.push(vary);
            Ok(r)
        }
        Err(mut e) => {
            e.headers.push(vary);
            Err(e)
        }
    }
}

/// Adds the CORS headers every answer of `/upload` carries, errors included (without them a
/// browser reports a failed upload as a network error and retries it for minutes): `*`, or,
/// for an answer marked [`bound_to_origin`], the request's `origin` (none without one: a
/// request without `Origin` is no cross-origin request).
pub fn with_cors(mut r: Response, origin: Option<&str>) -> Response {
    let bound = r
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(VARY.0) && v == VARY.1);
    match (bound, origin) {
        (false, _) => r
            .headers
            .push(("Access-Control-Allow-Origin", "*".to_owned())),
        (true, Some(origin)) => r
            .headers
            .push(("Access-Control-Allow-Origin", origin.to_owned())),
        (true, None) => {}
    }
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
    with_cors(r, None)
}
