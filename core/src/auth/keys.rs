//! API keys (`projectId:apiKey,…`), compared in constant time, and what an `Authorization`
//! header offers.

use crate::project::ProjectId;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

pub(crate) struct KeyEntry {
    pub(crate) project: ProjectId,
    pub(crate) digest: [u8; 32],
}

/// The configured API keys (`projectId:apiKey,…`), each belonging to one project.
pub struct ApiKeys {
    pub(crate) entries: Vec<KeyEntry>,
}

fn digest(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}

impl ApiKeys {
    /// Parses `API_KEYS`. Entries are separated by commas, surrounding whitespace is ignored,
    /// and the project id is everything before the first `:`. The reason for a refusal never
    /// contains a key.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut entries: Vec<KeyEntry> = Vec::new();
        for (i, entry) in raw.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((project, key)) = entry.split_once(':') else {
                return Err(format!(
                    "API_KEYS entry {} has no ':' between project and key",
                    i + 1
                ));
            };
            let project = ProjectId::parse(project.trim()).ok_or_else(|| {
                format!(
                    "API_KEYS entry {} has an invalid project id (1-64 of [A-Za-z0-9_-])",
                    i + 1
                )
            })?;
            let key = key.trim();
            if key.contains(':') {
                // A Basic user name ends at the first ':', so such a key could never be sent.
                return Err(format!(
                    "API_KEYS entry {} has a key containing ':', which can never authenticate",
                    i + 1
                ));
            }
            if key.len() < 16 {
                return Err(format!(
                    "API_KEYS entry {} has a key shorter than 16 characters",
                    i + 1
                ));
            }
            let digest = digest(key);
            if entries.iter().any(|e| e.digest == digest) {
                return Err(format!(
                    "API_KEYS entry {} repeats a key given before",
                    i + 1
                ));
            }
            entries.push(KeyEntry { project, digest });
        }
        if entries.is_empty() {
            return Err("API_KEYS is empty".to_owned());
        }
        Ok(Self { entries })
    }

    /// The entry whose key is `api_key`. Every configured key is compared, each in constant
    /// time over fixed-length digests, so timing reveals neither which key matched nor how
    /// much of one did.
    pub(crate) fn find(&self, api_key: &str) -> Option<&KeyEntry> {
        let candidate = digest(api_key);
        let mut found: Option<&KeyEntry> = None;
        for entry in &self.entries {
            let equal: Choice = entry.digest.ct_eq(&candidate);
            if bool::from(equal) {
                found = Some(entry);
            }
        }
        found
    }

    /// The project `api_key` belongs to.
    pub fn project_of(&self, api_key: &str) -> Option<&ProjectId> {
        self.find(api_key).map(|e| &e.project)
    }
}

/// What an `Authorization` header offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    ApiKey(String),
    Bearer(String),
}

/// Reads `Basic base64(apiKey:)` (the password part is ignored) or `Bearer <token>`.
pub fn parse_authorization(header: &str) -> Option<Credentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
        (!user.is_empty()).then(|| Credentials::ApiKey(user.to_owned()))
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Credentials::Bearer(rest.to_owned()))
    } else {
        None
    }
}
