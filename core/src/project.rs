//! Projects: every API key belongs to one, and every token to the project that made it.

use std::fmt;

/// Longest project id accepted in the configuration (it is part of KV keys, which may hold
/// 512 bytes).
pub const MAX_PROJECT_ID_LEN: usize = 64;

/// A project id: 1..=64 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectId(String);

impl ProjectId {
    /// Accepts `s` only if it is a well-formed project id.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= MAX_PROJECT_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for ProjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ProjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("not a well-formed project id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_are_restricted_to_key_safe_characters() {
        assert!(ProjectId::parse("acme-prod_1").is_some());
        assert!(ProjectId::parse(&"a".repeat(64)).is_some());
        for bad in ["", "a:b", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(ProjectId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
