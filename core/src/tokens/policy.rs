//! Token policies: optional bounds a token is created with (how many videos it may create, how
//! large each may be, which web origins may upload with it) and labels (`metadata`) that are
//! copied onto its videos and by which its project finds it again. A token created without
//! any of them has the empty policy, answers as before and may do what any token may.
//!
//! Policies never change after creation, so every copy of a token's record (KV, the project
//! index) holds the same one; only the count of videos made (`uploadsUsed`) changes, and it
//! lives in the project index alone.

use crate::http::problem::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ops::RangeInclusive;

/// Largest `maxUploads`.
pub const MAX_UPLOADS: u32 = 1_000_000;
/// Largest `maxFileSize`: 5 GiB.
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most `allowedOrigins`.
pub const MAX_ORIGINS: usize = 10;
/// Longest origin, in characters.
pub const MAX_ORIGIN_CHARS: usize = 255;
/// Most `metadata` entries.
pub const MAX_METADATA: usize = 20;
/// Longest metadata key and value, in characters.
pub const MAX_KEY_CHARS: usize = 64;
pub const MAX_VALUE_CHARS: usize = 256;

/// One label, in api.video's Video `metadata` shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Metadata {
    pub key: String,
    pub value: String,
}

impl Metadata {
    pub fn new(key: &str, value: &str) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// What a token may do beyond what every token may, as the API shows it (and as both stores
/// keep it): every field absent, or empty, when not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// How many videos the token may create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uploads: Option<u32>,
    /// The largest video, in bytes, the token may create or add to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    /// The only `Origin`s an upload with the token may come from, as browsers send them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Copied onto every video the token creates; the listing filters on it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<Metadata>,
}

impl Policy {
    /// Whether nothing is set (a token as api.video makes them).
    pub fn is_none(&self) -> bool {
        *self == Policy::default()
    }

    /// Reads the policy fields of a `POST /upload-tokens` body; `null` means absent, and so
    /// does an empty `metadata`. The first field at fault is named in a 400.
    pub fn from_body(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let max_uploads = integer(body.get("maxUploads"), u64::from(MAX_UPLOADS))
            .map_err(|()| {
                ApiError::invalid_attribute(
                    "maxUploads",
                    "This attribute must be an integer between 1 and 1000000.",
                )
            })?
            .map(|n| u32::try_from(n).expect("bounded above"));
        let max_file_size = integer(body.get("maxFileSize"), MAX_FILE_SIZE).map_err(|()| {
            ApiError::invalid_attribute(
                "maxFileSize",
                "This attribute must be an integer between 1 and 5368709120 (bytes).",
            )
        })?;
        Ok(Self {
            max_uploads,
            max_file_size,
            allowed_origins: origins(body.get("allowedOrigins"))?,
            metadata: metadata(body.get("metadata"))?,
        })
    }

    /// Whether an upload carrying `origin` (its `Origin` header, if any) may use the token.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        origin_allowed(&self.allowed_origins, origin)
    }

    /// Whether the token carries every one of `filters`.
    pub fn matches(&self, filters: &[Metadata]) -> bool {
        filters.iter().all(|f| self.metadata.contains(f))
    }
}

/// Whether `origin` (an `Origin` header, if any) is one of `allowed`, when there are any.
pub fn origin_allowed(allowed: &[String], origin: Option<&str>) -> bool {
    allowed.is_empty() || origin.is_some_and(|o| allowed.iter().any(|a| a == o))
}

/// An integer in `1..=max`, or absent; `Err` for anything else.
fn integer(value: Option<&Value>, max: u64) -> Result<Option<u64>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if (1..=max).contains(&v) => Ok(Some(v)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// An array attribute of a policy: its name, what a 400 says it must be, how many items it
/// may hold and what they are called.
struct ArrayAttribute {
    name: &'static str,
    rule: &'static str,
    counts: RangeInclusive<usize>,
    items: &'static str,
}

impl ArrayAttribute {
    /// The 400 naming the attribute, with `detail` for the log and the client.
    fn error(&self, detail: impl Into<String>) -> ApiError {
        ApiError::invalid_attribute(self.name, self.rule).detail(detail)
    }

    /// The items of the attribute, none when it is absent or `null`; not an array, or one of
    /// too few or too many items, is an error.
    fn items<'a>(&self, value: Option<&'a Value>) -> Result<&'a [Value], ApiError> {
        let name = self.name;
        match value {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) if self.counts.contains(&items.len()) => Ok(items),
            Some(Value::Array(items)) => {
                Err(self.error(format!("{name} holds {} {}.", items.len(), self.items)))
            }
            Some(_) => Err(self.error(format!("{name} is not an array."))),
        }
    }
}

/// `allowedOrigins`.
const ORIGINS: ArrayAttribute = ArrayAttribute {
    name: "allowedOrigins",
    rule: "This attribute must be an array of 1 to 10 origins, each scheme://host[:port] without path or wildcard.",
    counts: 1..=MAX_ORIGINS,
    items: "origins",
};

/// `metadata`.
const METADATA: ArrayAttribute = ArrayAttribute {
    name: "metadata",
    rule: "This attribute must be an array of at most 20 {\"key\", \"value\"} objects with unique keys of 1 to 64 characters and values of at most 256.",
    counts: 0..=MAX_METADATA,
    items: "entries",
};

fn origins(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let items = ORIGINS.items(value)?;
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(raw) = item else {
            return Err(ORIGINS.error("Every origin must be a string."));
        };
        let origin = normalise_origin(raw).ok_or_else(|| {
            ORIGINS.error(format!(
                "{raw:?} is not an origin: scheme://host or scheme://host:port, nothing after."
            ))
        })?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

/// `raw` as browsers send it in `Origin` (scheme and host in lowercase, no default port for
/// http and https), if it is an origin: `scheme://host[:port]` with a DNS name (labels of
/// letters, digits and inner hyphens) or a bracketed IPv6 address as host, a port of 1 to
/// 65535, nothing after, at most 255 characters. `openapi.json` states the same grammar as a
/// pattern.
pub fn normalise_origin(raw: &str) -> Option<String> {
    if raw.len() > MAX_ORIGIN_CHARS {
        return None;
    }
    let (scheme, rest) = raw.split_once("://")?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b));
    if !scheme_ok {
        return None;
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (address, after) = inner.split_once(']')?;
        let ok = !address.is_empty()
            && address
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        (ok.then_some(&rest[..address.len() + 2])?, after)
    } else {
        let end = rest.find(':').unwrap_or(rest.len());
        let host = &rest[..end];
        host.split('.')
            .all(is_label)
            .then_some((host, &rest[end..]))?
    };
    let port = match port {
        "" => None,
        p => {
            let digits = p.strip_prefix(':')?;
            let ok = !digits.is_empty()
                && digits.len() <= 5
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit());
            let n: u32 = ok.then(|| digits.parse().ok()).flatten()?;
            (n <= 65_535).then_some(n)?;
            Some(digits)
        }
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some("80"),
        "https" => Some("443"),
        _ => None,
    };
    let mut out = format!("{scheme}://{}", host.to_ascii_lowercase());
    if let Some(p) = port.filter(|p| Some(*p) != default_port) {
        out.push(':');
        out.push_str(p);
    }
    Some(out)
}

/// A DNS label: 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit.
fn is_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn metadata(value: Option<&Value>) -> Result<Vec<Metadata>, ApiError> {
    let items = METADATA.items(value)?;
    let mut out: Vec<Metadata> = Vec::with_capacity(items.len());
    for item in items {
        let entry = match item {
            Value::Object(o) if o.len() == 2 => match (o.get("key"), o.get("value")) {
                (Some(Value::String(key)), Some(Value::String(value))) => Metadata::new(key, value),
                _ => return Err(METADATA.error(ENTRY_SHAPE)),
            },
            _ => return Err(METADATA.error(ENTRY_SHAPE)),
        };
        check_pair(&entry.key, &entry.value).map_err(|detail| METADATA.error(detail))?;
        if out.iter().any(|m| m.key == entry.key) {
            return Err(METADATA.error(format!("The key {:?} appears more than once.", entry.key)));
        }
        out.push(entry);
    }
    Ok(out)
}

const ENTRY_SHAPE: &str =
    "Every entry must be an object holding exactly a string \"key\" and a string \"value\".";

/// The length rules of one metadata pair; the reason if it breaks one.
pub fn check_pair(key: &str, value: &str) -> Result<(), String> {
    let key_chars = key.chars().count();
    if key_chars == 0 || key_chars > MAX_KEY_CHARS {
        return Err(format!(
            "The key {key:?} has {key_chars} characters (1 to 64)."
        ));
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(format!(
            "The value of {key:?} has more than 256 characters."
        ));
    }
    Ok(())
}
