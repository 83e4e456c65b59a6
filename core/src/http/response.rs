//! What the core answers: a JSON (or empty) answer, or a stored file to stream.

use crate::http::problem::ApiError;

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

/// What the Worker sends: an API answer, or the content of a stored object (a video's source),
/// streamed by the runtime with these headers.
pub enum Answer<S> {
    Api(Response),
    Stream {
        headers: Vec<(&'static str, String)>,
        body: S,
    },
}
