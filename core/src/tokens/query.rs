//! Validation of what callers send: the create body and the list query.

use crate::http::problem::ApiError;
use crate::tokens::policy::{check_pair, Metadata, Policy, MAX_METADATA};
use crate::tokens::token::MAX_TTL;
use serde_json::Value;

/// Largest JSON body accepted on any endpoint; larger bodies are refused before parsing.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Largest `pageSize`.
pub const MAX_PAGE_SIZE: u32 = 100;
/// `pageSize` when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 25;
/// Largest `currentPage` (a signed 32-bit integer, like `ttl`).
pub const MAX_CURRENT_PAGE: u32 = 2_147_483_647;

/// Refuses a body whose declared media type is not JSON. A missing type is accepted (several
/// clients send none on an empty body).
pub fn check_json_content_type(content_type: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let Some(ct) = content_type else {
        return Ok(());
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
    }
}

/// Parses a JSON body that must be an object; an empty body counts as `{}`.
pub fn parse_json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::invalid_payload()),
    }
}

/// What a `POST /upload-tokens` body asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creation {
    pub ttl: u32,
    pub policy: Policy,
}

/// Reads a `POST /upload-tokens` body. `ttl`: absent or `null` mean 0; otherwise a JSON
/// integer in `0..=2147483647`. Then the policy fields ([`Policy::from_body`]). Unknown fields
/// are ignored.
pub fn parse_create_body(body: &[u8]) -> Result<Creation, ApiError> {
    let map = parse_json_object(body)?;
    let ttl = match map.get("ttl") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v <= MAX_TTL)
            .ok_or_else(ttl_error)?,
        Some(_) => return Err(ttl_error()),
    };
    Ok(Creation {
        ttl,
        policy: Policy::from_body(&map)?,
    })
}

fn ttl_error() -> ApiError {
    ApiError::invalid_attribute(
        "ttl",
        "This attribute must be an integer between 0 and 2147483647.",
    )
}

/// What to sort a listing by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    CreatedAt,
    /// Remaining lifetime, i.e. `expiresAt`, with never-expiring tokens the longest-lived.
    Ttl,
}

impl SortBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::CreatedAt => "createdAt",
            SortBy::Ttl => "ttl",
        }
    }
}

/// Which way to sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

impl SortOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }
}

/// A validated `GET /upload-tokens` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub sort_by: SortBy,
    pub sort_order: SortOrder,
    pub current_page: u32,
    pub page_size: u32,
    /// Whether the caller named `sortBy` / `sortOrder`, so links can repeat exactly that.
    pub explicit_sort_by: bool,
    pub explicit_sort_order: bool,
    /// `metadata[key]=value` filters, in the order given: a token is listed only if it
    /// carries every one.
    pub metadata: Vec<Metadata>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            sort_by: SortBy::CreatedAt,
            sort_order: SortOrder::Desc,
            current_page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            explicit_sort_by: false,
            explicit_sort_order: false,
            metadata: Vec::new(),
        }
    }
}

/// The parameters of a listing besides its metadata filters, each with what a 400 says it
/// must be.
const PARAMETERS: [(&str, &str); 4] = [
    ("sortBy", "This parameter must be one of: createdAt, ttl."),
    ("sortOrder", "This parameter must be one of: asc, desc."),
    (
        "currentPage",
        "This parameter must be an integer between 1 and 2147483647.",
    ),
    (
        "pageSize",
        "This parameter must be an integer between 1 and 100.",
    ),
];

impl ListQuery {
    /// Parses the raw query string (without `?`). Unknown parameters are ignored; a known
    /// parameter given twice, empty, or out of range is a 400 naming it. Every parameter whose
    /// name starts with `metadata` is a filter, and one that is not a well-formed
    /// `metadata[key]=value` is a 400 rather than ignored (ignoring it would list every token).
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut q = ListQuery::default();
        let mut seen = [false; 4];
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            if key.starts_with("metadata") {
                q.metadata.push(metadata_filter(&key, &value, &q.metadata)?);
                continue;
            }
            let Some(slot) = PARAMETERS.iter().position(|(name, _)| *name == key) else {
                continue;
            };
            let (name, rule) = PARAMETERS[slot];
            if std::mem::replace(&mut seen[slot], true) {
                return Err(ApiError::invalid_query(
                    name,
                    "This parameter may appear only once.",
                ));
            }
            let refuse = || ApiError::invalid_query(name, rule);
            match slot {
                0 => {
                    let keys = [SortBy::CreatedAt, SortBy::Ttl];
                    q.sort_by = one_of(&value, keys, SortBy::as_str).ok_or_else(refuse)?;
                    q.explicit_sort_by = true;
                }
                1 => {
                    let orders = [SortOrder::Asc, SortOrder::Desc];
                    q.sort_order = one_of(&value, orders, SortOrder::as_str).ok_or_else(refuse)?;
                    q.explicit_sort_order = true;
                }
                2 => q.current_page = parse_int(&value, MAX_CURRENT_PAGE).ok_or_else(refuse)?,
                _ => q.page_size = parse_int(&value, MAX_PAGE_SIZE).ok_or_else(refuse)?,
            }
        }
        Ok(q)
    }
}

/// One `metadata[key]=value` filter, given `earlier` ones.
fn metadata_filter(name: &str, value: &str, earlier: &[Metadata]) -> Result<Metadata, ApiError> {
    let refuse = |detail: String| {
        ApiError::invalid_query(
            "metadata",
            "Filter with metadata[key]=value: keys of 1 to 64 characters, each once, values of at most 256, at most 20 filters.",
        )
        .detail(detail)
    };
    let key = name
        .strip_prefix("metadata[")
        .and_then(|k| k.strip_suffix(']'))
        .ok_or_else(|| refuse(format!("{name:?} is not metadata[key].")))?;
    check_pair(key, value).map_err(refuse)?;
    if earlier.iter().any(|m| m.key == key) {
        return Err(refuse(format!(
            "The key {key:?} is filtered on more than once."
        )));
    }
    if earlier.len() == MAX_METADATA {
        return Err(refuse("More than 20 metadata filters.".to_owned()));
    }
    Ok(Metadata::new(key, value))
}

/// The one of `choices` whose `name` is `value`.
fn one_of<T: Copy, const N: usize>(
    value: &str,
    choices: [T; N],
    name: fn(T) -> &'static str,
) -> Option<T> {
    choices.into_iter().find(|c| name(*c) == value)
}

/// A decimal integer in `1..=max`, digits only (no sign, no fraction, no exponent).
fn parse_int(s: &str, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|v| (1..=u64::from(max)).contains(v))
        .and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttl_of(body: &str) -> Result<u32, ApiError> {
        parse_create_body(body.as_bytes()).map(|c| c.ttl)
    }

    #[test]
    fn empty_bodies_and_null_mean_never_expires() {
        for body in ["", "  \n", "{}", r#"{"ttl":null}"#, r#"{"other":1}"#] {
            assert_eq!(ttl_of(body).unwrap(), 0, "{body:?}");
        }
    }

    #[test]
    fn integer_ttls_in_range_are_taken() {
        assert_eq!(ttl_of(r#"{"ttl":0}"#).unwrap(), 0);
        assert_eq!(ttl_of(r#"{"ttl":3600}"#).unwrap(), 3600);
        assert_eq!(ttl_of(r#"{"ttl":2147483647}"#).unwrap(), 2_147_483_647);
        assert_eq!(ttl_of(r#"{"ttl":30,"extra":"ignored"}"#).unwrap(), 30);
    }

    #[test]
    fn every_wrong_ttl_is_a_400_naming_ttl() {
        for body in [
            r#"{"ttl":-1}"#,
            r#"{"ttl":2147483648}"#,
            r#"{"ttl":99999999999999999999999}"#,
            r#"{"ttl":1.5}"#,
            r#"{"ttl":3600.0}"#,
            r#"{"ttl":1e3}"#,
            r#"{"ttl":"3600"}"#,
            r#"{"ttl":true}"#,
            r#"{"ttl":[1]}"#,
            r#"{"ttl":{}}"#,
        ] {
            let e = ttl_of(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.problem.name, Some("ttl"), "{body}");
            assert!(e.problem.type_uri.ends_with("/invalid-attribute"));
        }
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_invalid_payloads() {
        for body in ["{", "ttl=3", "[]", "3600", "null", "\"x\"", "{\"ttl\":1}x"] {
            let e = ttl_of(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.problem.title, "The payload is invalid.");
            assert_eq!(e.problem.name, None);
        }
    }

    #[test]
    fn content_type_must_be_json_when_there_is_a_body() {
        assert!(check_json_content_type(None, b"{}").is_ok());
        assert!(check_json_content_type(Some("application/json"), b"{}").is_ok());
        assert!(check_json_content_type(Some("application/json; charset=utf-8"), b"{}").is_ok());
        assert!(check_json_content_type(Some("application/merge-patch+json"), b"{}").is_ok());
        assert!(check_json_content_type(Some("text/plain"), b"").is_ok());
        let e = check_json_content_type(Some("text/plain"), b"{}").unwrap_err();
        assert_eq!(e.status(), 415);
    }

    #[test]
    fn list_defaults_are_newest_first_twenty_five_a_page() {
        let q = ListQuery::parse("").unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(
            (q.sort_by, q.sort_order),
            (SortBy::CreatedAt, SortOrder::Desc)
        );
        assert_eq!((q.current_page, q.page_size), (1, 25));
    }

    #[test]
    fn list_parameters_are_read() {
        let q =
            ListQuery::parse("sortBy=ttl&sortOrder=asc&currentPage=3&pageSize=100&x=y").unwrap();
        assert_eq!((q.sort_by, q.sort_order), (SortBy::Ttl, SortOrder::Asc));
        assert_eq!((q.current_page, q.page_size), (3, 100));
        assert!(q.explicit_sort_by && q.explicit_sort_order);
        let q = ListQuery::parse("sortBy=%63reatedAt&pageSize=01").unwrap();
        assert_eq!((q.sort_by, q.page_size), (SortBy::CreatedAt, 1));
    }

    #[test]
    fn every_wrong_list_parameter_is_a_400_naming_it() {
        let cases = [
            ("currentPage=0", "currentPage"),
            ("currentPage=-1", "currentPage"),
            ("currentPage=abc", "currentPage"),
            ("currentPage=1.5", "currentPage"),
            ("currentPage=", "currentPage"),
            ("currentPage=+1", "currentPage"),
            ("currentPage=2147483648", "currentPage"),
            ("currentPage=99999999999999999999", "currentPage"),
            ("pageSize=0", "pageSize"),
            ("pageSize=-1", "pageSize"),
            ("pageSize=101", "pageSize"),
            ("pageSize=abc", "pageSize"),
            ("pageSize=1.5", "pageSize"),
            ("pageSize=1e2", "pageSize"),
            ("sortBy=expiresAt", "sortBy"),
            ("sortBy=", "sortBy"),
            ("sortBy=CREATEDAT", "sortBy"),
            ("sortOrder=up", "sortOrder"),
            ("sortOrder=ASC", "sortOrder"),
            ("pageSize=10&pageSize=20", "pageSize"),
        ];
        for (query, name) in cases {
            let e = ListQuery::parse(query).unwrap_err();
            assert_eq!(e.status(), 400, "{query}");
            assert_eq!(e.problem.name, Some(name), "{query}");
            assert!(
                e.problem
                    .type_uri
                    .ends_with("/request-invalid-query-parameter"),
                "{query}"
            );
        }
    }
}
